import Foundation
import KommoModels
import Testing

/// The parser checks UTF-8 itself, without making a string of every value; these tests hold it to the standard
/// library's validation byte sequence for byte sequence.
@Suite("Kommo webhook UTF-8 validation", .timeLimit(.minutes(1)))
struct WebhookUTF8Tests {
    /// The bytes at and around every boundary of the well-formed ranges (Unicode table 3-7).
    private static let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                         0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]

    private static func encoded(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%%%02X", $0) }.joined()
    }

    /// Whether a value made of `bytes` parses, and whether a key segment made of them does.
    private static func outcomes(_ bytes: [UInt8]) -> (value: Bool, key: Bool) {
        let value = webhookParseError(webhookAccountPairs + "&v=" + encoded(bytes))
        let key = webhookParseError(webhookAccountPairs + "&k[" + encoded(bytes) + "]=1")
        #expect(value == nil || value?.code == .invalidUTF8)
        #expect(key == nil || key?.code == .invalidUTF8)
        return (value == nil, key == nil)
    }

    @Test("every lead byte followed by every edge byte, one to four bytes long, is accepted exactly when the standard library accepts it")
    func sequencesAgreeWithTheStandardLibrary() {
        var checked = 0, accepted = 0
        for lead in UInt8(0x80)...UInt8(0xFF) {
            var sequences: [[UInt8]] = [[lead]]
            for second in Self.edges {
                sequences.append([lead, second])
                if lead >= 0xE0 {
                    for third in Self.edges where third >= 0x80 {
                        sequences.append([lead, second, third])
                        if lead >= 0xF0 { sequences.append([lead, second, third, 0x80]) }
                    }
                }
            }
            for bytes in sequences {
                let expected = String(validating: bytes, as: UTF8.self) != nil
                let (value, key) = Self.outcomes(bytes)
                #expect(value == expected, "value \(Self.encoded(bytes))")
                #expect(key == expected, "key \(Self.encoded(bytes))")
                checked += 1
                if expected { accepted += 1 }
            }
        }
        #expect(checked == 19_008)
        #expect(accepted == 864)  // some of every length, so both outcomes are exercised
    }

    @Test("a valid value keeps its text, however it is split into percent-escapes and raw bytes")
    func validTextSurvives() throws {
        let text = "Plan «Пла́н» — 中文 🚀 👍🏽 e\u{301}"
        let escaped = Array(text.utf8).enumerated()
            .map { $0.offset % 2 == 0 ? String(format: "%%%02X", $0.element) : String(format: "%%%02x", $0.element) }
            .joined()
        let webhook = try parseWebhookBody(webhookAccountPairs + "&leads[add][0][id]=1&leads[add][0][name]=" + escaped)
        guard case .lead(let lead)? = webhook.events.first else {
            Issue.record("no lead event")
            return
        }
        #expect(lead.name == text)
    }
}
