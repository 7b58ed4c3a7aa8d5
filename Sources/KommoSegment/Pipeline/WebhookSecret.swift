import Foundation

/// The shared secret carried in a webhook URL, which is how a receiver tells Kommo's requests from forged ones.
///
/// Kommo does not sign webhooks, so register the webhook URL with a long random secret in it (a path segment or a
/// query parameter) and give the same secret here. It is compared in constant time and never printed.
public struct WebhookSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let bytes: [UInt8]

    /// Wraps a secret; use at least 32 random characters (for example `openssl rand -hex 32`).
    public init(_ secret: String) { bytes = Array(secret.utf8) }

    /// Whether the secret is empty (an empty secret never matches; the pipeline refuses it when built).
    public var isEmpty: Bool { bytes.isEmpty }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `WebhookSecret(<redacted>)`.
    public var debugDescription: String { "WebhookSecret(<redacted>)" }

    /// Whether `candidate` equals the secret, in time that depends only on the lengths.
    public func matches(_ candidate: String) -> Bool {
        let other = Array(candidate.utf8)
        var difference = UInt8(truncatingIfNeeded: bytes.count ^ other.count)
        for index in 0..<max(bytes.count, other.count) {
            let a = index < bytes.count ? bytes[index] : 0
            let b = index < other.count ? other[index] : 0
            difference |= a ^ b
        }
        return difference == 0 && !bytes.isEmpty
    }
}

/// Where the secret sits in the webhook URL registered in Kommo.
public enum WebhookSecretLocation: Sendable, Hashable {
    /// A query parameter, e.g. `https://hooks.example.com/kommo?secret=…` with the name `secret`.
    case queryParameter(String)
    /// The last path segment, e.g. `https://hooks.example.com/kommo/<secret>`.
    case lastPathSegment

    /// The candidate secret in a request target (path and query, or a full URL); `nil` when absent.
    public func candidate(in requestTarget: String) -> String? {
        let components = URLComponents(string: requestTarget)
        switch self {
        case .queryParameter(let name):
            return components?.queryItems?.first { $0.name == name }?.value
        case .lastPathSegment:
            guard let path = components?.percentEncodedPath, let last = path.split(separator: "/").last else {
                return nil
            }
            return String(last).removingPercentEncoding
        }
    }
}
