import Foundation

/// Webhook bodies of about the same size but different shapes, to show that the parser's cost per byte does not
/// depend on the shape. Each is valid under the parser's default limits unless its name says it is refused.
enum BodyShapes {

    /// One named body and whether it is expected to parse.
    struct Shape {
        var name: String
        var body: Data
        var parses: Bool
    }

    private static let head = "account%5Bsubdomain%5D=acme&account%5Bid%5D=31234567"

    /// `count` keys of `length` bytes each, sharing all but their last 6 characters.
    private static func similarKeys(count: Int, length: Int, alphabet: String = "abcdefghij") -> [String] {
        let letters = Array(alphabet)
        let prefix = String(repeating: letters[0], count: max(0, length - 6))
        return (0..<count).map { i in
            var suffix = "", n = i
            for _ in 0..<6 {
                suffix.append(letters[n % letters.count])
                n /= letters.count
            }
            return prefix + String(suffix.reversed())
        }
    }

    /// Every shape, next to the plain body they are compared with. At `scale` 1 each is about 0.9 MB (a little
    /// under the default 1 MiB body limit); at 0.5 about half that, to show that the cost per byte stays the same.
    static func all(plain: Data, scale: Double) -> [Shape] {
        let targetBytes = Int(900_000 * scale)
        let thousand = Int(1_000 * scale)
        var shapes: [Shape] = [Shape(name: "plain", body: plain, parses: true)]

        // Long keys: ten fields of 89 KB names on one lead.
        var text = head + "&leads%5Bstatus%5D%5B0%5D%5Bid%5D=1"
        for key in similarKeys(count: Int(10 * scale), length: 89_000) { text += "&leads%5Bstatus%5D%5B0%5D%5B\(key)%5D=x" }
        shapes.append(Shape(name: "long keys (89 KB each)", body: Data(text.utf8), parses: true))

        // Many long sibling keys: 1,000 fields of 870-byte names that differ only at the end.
        text = head + "&leads%5Bstatus%5D%5B0%5D%5Bid%5D=1"
        for key in similarKeys(count: thousand, length: 870) { text += "&leads%5Bstatus%5D%5B0%5D%5B\(key)%5D=x" }
        shapes.append(Shape(name: "long sibling keys (870 B each)", body: Data(text.utf8), parses: true))

        // Many long numeric sibling keys: zero-padded indexes of 870 digits, sorted as numbers.
        text = head + "&leads%5Bstatus%5D%5B0%5D%5Bid%5D=1"
        for key in similarKeys(count: thousand, length: 870, alphabet: "0123456789") {
            text += "&leads%5Bstatus%5D%5B0%5D%5Btags%5D%5B\(key)%5D=t"
        }
        shapes.append(Shape(name: "long numeric sibling keys (870 digits each)", body: Data(text.utf8),
                            parses: true))

        // Long item indexes: 1,000 lead items whose indexes are 870-digit numbers that differ only at the end.
        text = head
        for key in similarKeys(count: thousand, length: 870, alphabet: "0123456789") {
            text += "&leads%5Bstatus%5D%5B\(key)%5D%5Bid%5D=7"
        }
        shapes.append(Shape(name: "long item indexes (870 digits each)", body: Data(text.utf8), parses: true))

        // Many short siblings: thousands of fields on one lead (at most the 20,000 pairs allowed).
        text = head + "&leads%5Bstatus%5D%5B0%5D%5Bid%5D=1"
        var i = 0
        while text.utf8.count < targetBytes - 60, i < 19_990 {
            text += "&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B\(i)%5D%5Bid%5D=\(i)"
            i += 1
        }
        shapes.append(Shape(name: "many siblings (\(i) custom fields)", body: Data(text.utf8), parses: true))

        // Deep nesting: every key at the deepest level allowed (8 brackets), each path distinct.
        text = head + "&leads%5Bstatus%5D%5B0%5D%5Bid%5D=1"
        i = 0
        while text.utf8.count < targetBytes - 120, i < 19_990 {
            text += "&leads%5Bstatus%5D%5B0%5D%5Bx\(i % 7)%5D%5By\(i % 11)%5D%5Bz\(i % 13)%5D%5Bw\(i)%5D%5Bv%5D%5Bu%5D=1"
            i += 1
        }
        shapes.append(Shape(name: "deep nesting (\(i) keys, 8 levels)", body: Data(text.utf8), parses: true))

        // Many items: 1,000 unknown-section items (kept as raw subtrees).
        text = head
        i = 0
        while i < thousand {
            let p = "&task%5Badd%5D%5B\(i)%5D"
            text += "\(p)%5Bid%5D=\(i)\(p)%5Btext%5D=" + String(repeating: "Call+back+", count: 75)
            i += 1
        }
        shapes.append(Shape(name: "many items (\(thousand) raw task items)", body: Data(text.utf8), parses: true))

        // Too many items: thousands of one-field items, refused (tooManyItems) while scanning.
        text = head
        i = 0
        while text.utf8.count < targetBytes - 60, i < 19_990 {
            text += "&leads%5Bstatus%5D%5B\(i)%5D%5Bid%5D=\(i)"
            i += 1
        }
        shapes.append(Shape(name: "too many items (\(i), refused)", body: Data(text.utf8), parses: false))
        return shapes
    }
}
