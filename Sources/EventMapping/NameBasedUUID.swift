import Foundation

/// A name-based UUID, version 5 (RFC 9562 §5.5): the same namespace and name always give the same UUID.
///
/// The UUID is the first 16 bytes of SHA-1(namespace bytes ‖ name bytes), with the version set to 5 and the
/// variant set to the RFC 9562 variant (`10xx`).
///
/// ```swift
/// let id = NameBasedUUID(namespace: NameBasedUUID.dnsNamespace, name: "www.example.com")
/// id.string // "2ed6657d-e927-568b-95e1-2665a8aea6a2"
/// ```
public struct NameBasedUUID: Sendable, Hashable, CustomStringConvertible {
    /// The UUID as a Foundation value.
    public let uuid: UUID

    /// The version 5 UUID of `name`'s UTF-8 bytes in `namespace`.
    public init(namespace: UUID, name: String) {
        self.init(namespace: namespace) { $0.update(name) }
    }

    /// The version 5 UUID of the raw bytes `name` in `namespace`.
    public init<Name: Sequence<UInt8>>(namespace: UUID, nameBytes name: Name) {
        self.init(namespace: namespace) { $0.update(name) }
    }

    /// The UUID of the name that `writeName` feeds to the hasher after the namespace's 16 bytes: what the public
    /// initializers do with a whole name, done piece by piece without building it.
    package init(namespace: UUID, writingName writeName: (inout SHA1) -> Void) {
        var hasher = SHA1()
        withUnsafeBytes(of: namespace.uuid) { hasher.update(bytes: $0) }
        writeName(&hasher)
        uuid = Self.makeUUID(words: hasher.digestWords())
    }

    /// The UUID in lowercase hyphenated form, e.g. `2ed6657d-e927-568b-95e1-2665a8aea6a2`.
    public var string: String {
        // Formatted here rather than by `uuidString.lowercased()`, which builds the text twice through Foundation:
        // the same 36 characters.
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: uuid.uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { output in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        output[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    output[position] = digits.utf8Start[Int(byte >> 4)]
                    output[position + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    position += 2
                }
                return position
            }
        }
    }

    /// The same as ``string``.
    public var description: String { string }

    /// The RFC 9562 namespace for fully qualified domain names, `6ba7b810-9dad-11d1-80b4-00c04fd430c8`.
    public static let dnsNamespace = UUID(uuid: (0x6B, 0xA7, 0xB8, 0x10, 0x9D, 0xAD, 0x11, 0xD1,
                                                0x80, 0xB4, 0x00, 0xC0, 0x4F, 0xD4, 0x30, 0xC8))
    /// The RFC 9562 namespace for URLs, `6ba7b811-9dad-11d1-80b4-00c04fd430c8`.
    public static let urlNamespace = UUID(uuid: (0x6B, 0xA7, 0xB8, 0x11, 0x9D, 0xAD, 0x11, 0xD1,
                                                0x80, 0xB4, 0x00, 0xC0, 0x4F, 0xD4, 0x30, 0xC8))
    /// The RFC 9562 namespace for ISO object identifiers, `6ba7b812-9dad-11d1-80b4-00c04fd430c8`.
    public static let oidNamespace = UUID(uuid: (0x6B, 0xA7, 0xB8, 0x12, 0x9D, 0xAD, 0x11, 0xD1,
                                                0x80, 0xB4, 0x00, 0xC0, 0x4F, 0xD4, 0x30, 0xC8))
    /// The RFC 9562 namespace for X.500 distinguished names, `6ba7b814-9dad-11d1-80b4-00c04fd430c8`.
    public static let x500Namespace = UUID(uuid: (0x6B, 0xA7, 0xB8, 0x14, 0x9D, 0xAD, 0x11, 0xD1,
                                                 0x80, 0xB4, 0x00, 0xC0, 0x4F, 0xD4, 0x30, 0xC8))

    private static func makeUUID(words: (UInt32, UInt32, UInt32, UInt32, UInt32)) -> UUID {
        // The first 16 bytes of the digest, big-endian, with the version and variant set.
        func byte(_ word: UInt32, _ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: word >> (24 - 8 * index)) }
        let (w0, w1, w2, w3, _) = words
        return UUID(uuid: (byte(w0, 0), byte(w0, 1), byte(w0, 2), byte(w0, 3), byte(w1, 0), byte(w1, 1),
                           (byte(w1, 2) & 0x0F) | 0x50,  // version 5 in the high nibble of octet 6
                           byte(w1, 3),
                           (byte(w2, 0) & 0x3F) | 0x80,  // variant 10xx in the high bits of octet 8
                           byte(w2, 1), byte(w2, 2), byte(w2, 3), byte(w3, 0), byte(w3, 1), byte(w3, 2), byte(w3, 3)))
    }
}
