import Foundation

/// Removing secrets from text that goes into an error, and cutting response bodies to size: shared by the Kommo and
/// Segment clients so that both keep the same excerpt rules.
package enum Redaction {
    /// The marker put where a secret was.
    package static let marker = "<redacted>"

    /// The most bytes of a response body an error keeps.
    package static let maxBodyBytes = 512

    /// `text` with every occurrence of a non-trivial secret (four characters or more) replaced by the marker.
    package static func scrub(_ text: String, secrets: [String]) -> String {
        var result = text
        for secret in secrets where secret.count >= 4 {
            result = result.replacingOccurrences(of: secret, with: marker)
        }
        return result
    }

    /// The body as text, scrubbed, cut to at most ``maxBodyBytes`` bytes of UTF-8 on a character boundary (an
    /// ellipsis marks a cut); `nil` for an empty body.
    package static func excerpt(_ body: Data, secrets: [String]) -> String? {
        guard !body.isEmpty else { return nil }
        let text = scrub(String(decoding: body, as: UTF8.self), secrets: secrets)
        guard text.utf8.count > maxBodyBytes else { return text }
        let suffix = "…"
        let budget = maxBodyBytes - suffix.utf8.count
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > budget { break }
            result.append(character)
            used += size
        }
        return result + suffix
    }
}
