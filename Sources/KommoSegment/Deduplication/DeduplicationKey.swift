import EventMapping
import Foundation

/// The identity of one Kommo change in a ``DeduplicationStore``: account, entity type, entity id, the raw change and
/// the time it happened.
///
/// Two deliveries of the same change (a webhook that Kommo retries, the same stage change reported as a `status` and
/// an `update` item, a catch-up from the events API) give the same key; two different changes never do. The key
/// holds no Segment call: one key stands for every message the change produces.
///
/// The string form (``rawValue``) is safe to use as a Redis key as it is:
///
/// ```text
/// kommo-segment:v1:event:31234567:lead:24000017:stage:7654321:61000005>7654321:142:1768912200
/// ```
///
/// It starts with ``prefix``, then `event:`, the account id, the entity type, the entity id, the change and the
/// event time, separated by `:`. Numbers are decimal. The entity type keeps ASCII letters, digits, `_`, `.` and `-`
/// and the change also keeps `:`, `>` and `~`; every other UTF-8 byte (spaces, `%`, non-ASCII) is written as `%XX`
/// (uppercase hexadecimal), and an empty entity type as `~`. Because the entity type never contains `:` and the
/// event time is the last field, different components always give different strings.
public struct DeduplicationKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The prefix of every key this module builds: `kommo-segment:v1:`. A new key format gets a new version.
    public static let prefix = "kommo-segment:v1:"

    /// The most UTF-8 bytes a key accepted by ``init(rawValue:)`` may have.
    public static let maxRawValueBytes = 1024

    /// The key's stable string form, usable as a Redis key.
    public let rawValue: String

    /// A key from its string form: any non-empty string of at most ``maxRawValueBytes`` printable ASCII characters
    /// without spaces (`!` to `~`), for example one read back from logs or built by another implementation.
    ///
    /// Returns `nil` for an empty string, a longer one, or one with spaces, control or non-ASCII characters. The
    /// ``prefix`` is not required, so a store can hold keys of your own scheme as well.
    public init?(rawValue: String) {
        guard DeduplicationKey.isSafe(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// The key of one change, from its components.
    ///
    /// - Parameters:
    ///   - accountID: The Kommo account id (`account[id]`).
    ///   - entity: The entity type: `lead`, `contact` or `company`.
    ///   - entityID: The entity's id.
    ///   - change: The raw change; use the canonical change of `MessageIDRecipe.Change` (for example
    ///     `stage:7654321:61000005>7654321:142`) so that the key agrees with the message ids.
    ///   - eventTime: When the change happened, in Unix seconds (`updated_at` or `last_modified`).
    public init(accountID: Int64, entity: String, entityID: Int64, change: String, eventTime: Int64) {
        var text = DeduplicationKey.prefix
        text += "event:"
        text += String(accountID)
        text += ":"
        text += entity.isEmpty ? "~" : DeduplicationKey.escape(entity, keeping: DeduplicationKey.tokenBytes)
        text += ":"
        text += String(entityID)
        text += ":"
        text += DeduplicationKey.escape(change, keeping: DeduplicationKey.changeBytes)
        text += ":"
        text += String(eventTime)
        rawValue = text
    }

    /// The key of one change, from the same values that make its message ids (see `MessageIDRecipe`).
    public init(accountID: Int64, entity: MessageIDRecipe.Entity, entityID: Int64, change: MessageIDRecipe.Change,
                eventTime: Int64) {
        self.init(accountID: accountID, entity: entity.rawValue, entityID: entityID, change: change.canonicalValue,
                  eventTime: eventTime)
    }

    /// The string form, ``rawValue``.
    public var description: String { rawValue }

    // MARK: Escaping

    /// Bytes an entity type keeps as they are.
    static let tokenBytes: Set<UInt8> = {
        var bytes = Set<UInt8>()
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { bytes.insert(byte) }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { bytes.insert(byte) }
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { bytes.insert(byte) }
        bytes.formUnion([UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-")])
        return bytes
    }()

    /// Bytes a change keeps as they are: those of a token plus `:`, `>` and `~`.
    static let changeBytes: Set<UInt8> = tokenBytes.union([UInt8(ascii: ":"), UInt8(ascii: ">"), UInt8(ascii: "~")])

    /// `text` with every UTF-8 byte outside `keeping` written as `%XX`.
    static func escape(_ text: String, keeping: Set<UInt8>) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if keeping.contains(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` is a non-empty run of at most ``maxRawValueBytes`` printable ASCII characters without spaces.
    static func isSafe(_ text: String) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maxRawValueBytes else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

extension DeduplicationKey {
    /// The marker catch-up leaves beside the key of a change it read from Kommo's events log and claimed:
    /// `kommo-segment:v1:logged:…` where the key has `kommo-segment:v1:event:…`. A webhook item looks for these at
    /// the neighbouring seconds, so that it matches a change the log reported at a slightly different time, and
    /// never another webhook's change (`Documentation/CatchUp.md`).
    var loggedMarker: DeduplicationKey {
        let event = Self.prefix + "event:"
        guard rawValue.hasPrefix(event) else { return self }
        return DeduplicationKey(rawValue: Self.prefix + "logged:" + rawValue.dropFirst(event.count)) ?? self
    }
}

/// The entity whose newest applied change time a ``DeduplicationStore`` keeps, for ordering: account id, entity type
/// and entity id (in practice a lead).
///
/// Its string form (``rawValue``) is safe to use as a Redis key:
/// `kommo-segment:v1:newest:<account>:<entity>:<id>`, for example `kommo-segment:v1:newest:31234567:lead:24000017`.
/// The entity type is escaped as in ``DeduplicationKey``.
public struct DeduplicationEntityKey: Hashable, Sendable, CustomStringConvertible {
    /// The Kommo account id.
    public let accountID: Int64
    /// The entity type, `lead` unless you track another kind.
    public let entity: String
    /// The entity's id.
    public let entityID: Int64

    /// The key of an entity of any type.
    public init(accountID: Int64, entity: String, entityID: Int64) {
        self.accountID = accountID
        self.entity = entity
        self.entityID = entityID
    }

    /// The key of a lead (deal).
    public init(accountID: Int64, leadID: Int64) {
        self.init(accountID: accountID, entity: "lead", entityID: leadID)
    }

    /// The stable string form, usable as a Redis key.
    public var rawValue: String {
        DeduplicationKey.prefix + "newest:" + String(accountID) + ":"
            + (entity.isEmpty ? "~" : DeduplicationKey.escape(entity, keeping: DeduplicationKey.tokenBytes))
            + ":" + String(entityID)
    }

    /// The string form, ``rawValue``.
    public var description: String { rawValue }
}
