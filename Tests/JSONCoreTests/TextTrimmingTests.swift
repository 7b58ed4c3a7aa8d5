import Foundation
@testable import JSONCore
import Testing

@Suite("Trimming white space without Foundation", .timeLimit(.minutes(1)))
struct TextTrimmingTests {
    static let samples = [
        "", " ", "plain", "  both  ", "\tTab\t", "\n line \r\n", "\u{00A0}nbsp\u{00A0}", "\u{3000}ideographic\u{3000}",
        "\u{2028}sep\u{2029}", "\u{0085}nel\u{0085}", "in ner  space", "Ольга ", " émoji 👍 ", "\u{200B}zero width\u{200B}",
        "\u{202F}narrow\u{205F}", "x\n", "\n", "\u{1680}ogham", "trailing\u{000B}\u{000C}",
    ]

    @Test("the same result as trimmingCharacters(in: .whitespacesAndNewlines) and (in: .whitespaces)", arguments: samples)
    func sameAsFoundation(_ text: String) {
        #expect(text.trimmingWhiteSpace() == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(text.trimmingWhiteSpace(newlines: false) == text.trimmingCharacters(in: .whitespaces))
        #expect(Substring(text).trimmingWhiteSpace() == text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Every white-space character is below U+3001; the byte-order mark and the specials are checked too.
    @Test("every scalar to U+3FFF, and U+FE00 to U+FFFF, is trimmed exactly when Foundation's sets hold it")
    func everyScalar() {
        var differing: [UInt32] = []
        for value in Array(UInt32(0)...0x3FFF) + Array(UInt32(0xFE00)...0xFFFF) {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = "a\(Character(scalar))"
            if (text.trimmingWhiteSpace() == "a") != CharacterSet.whitespacesAndNewlines.contains(scalar)
                || (text.trimmingWhiteSpace(newlines: false) == "a") != CharacterSet.whitespaces.contains(scalar) {
                differing.append(value)
            }
        }
        #expect(differing == [])
    }
}

@Suite("ASCII case without copies", .timeLimit(.minutes(1)))
struct ASCIICaseTests {
    @Test("equalsIgnoringASCIICase agrees with uppercased() == on codes, near misses and non-ASCII text")
    func equalsIgnoringCase() {
        for text in ["WORK", "work", "Work", "wORk", "WORKS", "WOR", "", "W0RK", "WORK ", "ＷORK", "wörk", "EMAIL", "email"] {
            for code: StaticString in ["WORK", "EMAIL"] {
                #expect(text.equalsIgnoringASCIICase(code) == (text.uppercased() == code.description), "\(text)")
            }
        }
    }

    @Test("lowercasedIfNeeded is lowercased(), for ASCII with and without capitals and for other scripts")
    func lowercasing() {
        for text in ["olivia@example.com", "Boss@Example.COM", "", "ÉCOLE@example.fr", "Ольга@пример.рф", "a1-_.+Z"] {
            #expect(text.lowercasedIfNeeded() == text.lowercased())
        }
    }
}
