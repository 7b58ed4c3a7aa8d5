import Foundation
import JSONCore

/// Derives the Segment `messageId` of every message from the Kommo facts behind it, so a redelivered webhook,
/// a change that Kommo reports twice (a `status` item and an `update` item), or a change recovered later from
/// Kommo's events API all produce the same id, and Segment drops the repeats.
///
/// The id is a version 5 UUID (``NameBasedUUID``) under ``projectNamespace`` over a canonical name:
///
/// ```text
/// kommo-segment/v1|account=31234567|entity=lead|id=24000017|change=stage:7654321:61000005>7654321:142|at=1768912200|call=track
/// ```
///
/// Only facts that Kommo's events API (`GET /api/v4/events`) also carries enter the name: the account, the entity
/// and its id, the raw change, the event time in Unix seconds, plus the Segment call. Mapping configuration
/// (event names, won and lost stage ids, traits) never does, so renaming an event does not re-send history.
/// The exact format is in `Documentation/MessageIDs.md`.
public struct MessageIDRecipe: Sendable, Hashable {
    /// The project's own UUID namespace, `330dbac6-0a78-4c51-9dd4-02c3e8282ca0`.
    ///
    /// Generated at random once (a version 4 UUID) for this project and fixed forever: changing it would change
    /// every message id and make Segment accept re-sent history as new events.
    public static let projectNamespace = UUID(uuid: (0x33, 0x0D, 0xBA, 0xC6, 0x0A, 0x78, 0x4C, 0x51,
                                                     0x9D, 0xD4, 0x02, 0xC3, 0xE8, 0x28, 0x2C, 0xA0))

    /// The prefix that names the format of the canonical name; a new format gets a new version.
    public static let formatVersion = "kommo-segment/v1"

    /// The marker written for a value that is not known (for example a webhook without `old_pipeline_id`).
    ///
    /// No number contains `~`, and open tokens (entity, call) are escaped so that theirs cannot either.
    public static let noValueMarker = "~"

    /// The namespace the ids are made in.
    public let namespace: UUID

    /// A recipe in `namespace`; leave the default (``projectNamespace``) unless you deliberately want a new id
    /// space (for example to replay history into a Segment source that has already seen it within 24 hours).
    public init(namespace: UUID = MessageIDRecipe.projectNamespace) {
        self.namespace = namespace
    }

    /// The canonical UTF-8 name the message id is derived from.
    ///
    /// - Parameters:
    ///   - accountID: The Kommo account id (`account[id]` in a webhook, `account_id` in the events API).
    ///   - entity: The entity the change happened to.
    ///   - entityID: The entity's id.
    ///   - change: The raw change, as Kommo reported it.
    ///   - eventTime: When the change happened, in Unix seconds.
    ///   - call: The Segment call the message is.
    public func canonicalName(accountID: Int64, entity: Entity, entityID: Int64, change: Change, eventTime: Int64,
                              call: Call) -> String {
        var name = CanonicalNameBytes()
        writeCanonicalName(accountID: accountID, entity: entity, entityID: entityID, change: change,
                           eventTime: eventTime, call: call, to: &name)
        return String(decoding: name.bytes, as: UTF8.self)
    }

    /// Writes the canonical name piece by piece: into a string for ``canonicalName(accountID:entity:entityID:change:eventTime:call:)``,
    /// straight into the hash for ``messageUUID(accountID:entity:entityID:change:eventTime:call:)``.
    func writeCanonicalName<Output: CanonicalNameOutput>(
        accountID: Int64, entity: Entity, entityID: Int64, change: Change, eventTime: Int64, call: Call,
        to output: inout Output
    ) {
        output.write(text: Self.formatVersion)
        output.write(text: "|account=")
        output.write(number: accountID)
        output.write(text: "|entity=")
        output.write(token: entity.rawValue)
        output.write(text: "|id=")
        output.write(number: entityID)
        output.write(text: "|change=")
        output.write(text: change.canonicalValue)
        output.write(text: "|at=")
        output.write(number: eventTime)
        output.write(text: "|call=")
        output.write(token: call.rawValue)
    }

    /// The message id: the lowercase, hyphenated version 5 UUID of ``canonicalName(accountID:entity:entityID:change:eventTime:call:)``.
    ///
    /// Always 36 characters, well under Segment's 100-character limit.
    public func messageID(accountID: Int64, entity: Entity, entityID: Int64, change: Change, eventTime: Int64,
                          call: Call) -> String {
        messageUUID(accountID: accountID, entity: entity, entityID: entityID, change: change, eventTime: eventTime,
                    call: call).string
    }

    /// The message id as a ``NameBasedUUID``.
    public func messageUUID(accountID: Int64, entity: Entity, entityID: Int64, change: Change, eventTime: Int64,
                            call: Call) -> NameBasedUUID {
        NameBasedUUID(namespace: namespace) { hasher in
            writeCanonicalName(accountID: accountID, entity: entity, entityID: entityID, change: change,
                               eventTime: eventTime, call: call, to: &hasher)
        }
    }

    /// An open token (entity or call): letters, digits, `_`, `.` and `-` as they are; every other UTF-8 byte as
    /// `%XX`; the empty string as the no-value marker. So a token can never contain `|`, `=`, `:`, `>` or `~`.
    static func token(_ raw: String) -> String {
        if raw.isEmpty { return noValueMarker }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(raw.utf8.count)
        for byte in raw.utf8 {
            if isTokenByte(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `byte` stands for itself in a token: a letter, a digit, `_`, `.` or `-`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// A number, or the no-value marker.
    static func number(_ value: Int64?) -> String {
        value.map { String($0) } ?? noValueMarker
    }
}

extension MessageIDRecipe {
    /// The Kommo entity a change happened to, named as Kommo's events API names it (`lead`, `contact`, `company`).
    ///
    /// An open set: `Entity(rawValue: "customer")` works without a library change.
    public struct Entity: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The name, as written into the canonical name (escaped if it holds anything but letters, digits,
        /// `_`, `.` and `-`).
        public let rawValue: String
        /// An entity named `rawValue`.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A lead (deal).
        public static let lead = Entity(rawValue: "lead")
        /// A contact (person).
        public static let contact = Entity(rawValue: "contact")
        /// A company.
        public static let company = Entity(rawValue: "company")

        /// The raw value.
        public var description: String { rawValue }
    }

    /// The Segment call a message is (`identify`, `track`, `group`), so one change can yield one message per call.
    ///
    /// An open set. A mapping that ever needs two messages of the same call for one change must give the second a
    /// call token of its own (for example `track.secondary`), never a configuration value.
    public struct Call: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The call's name, as written into the canonical name.
        public let rawValue: String
        /// A call named `rawValue`.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// An `identify` call.
        public static let identify = Call(rawValue: "identify")
        /// A `track` call.
        public static let track = Call(rawValue: "track")
        /// A `group` call.
        public static let group = Call(rawValue: "group")

        /// The raw value.
        public var description: String { rawValue }
    }

    /// The raw change as Kommo reported it, with no interpretation (no "won", no event names).
    ///
    /// Build one with ``stageChanged(fromStatus:fromPipeline:toStatus:toPipeline:)``,
    /// ``ownerChanged(from:to:)`` or one of the section changes (``added``, ``restored``, ``deleted``,
    /// ``updated``). Its ``canonicalValue`` is what enters the canonical name.
    public struct Change: Sendable, Hashable, CustomStringConvertible {
        /// The change as written into the canonical name, e.g. `stage:7654321:61000005>7654321:142`,
        /// `owner:9000001>9000002` or `add`.
        public let canonicalValue: String

        private init(canonicalValue: String) { self.canonicalValue = canonicalValue }

        /// A stage (status) change: `stage:<old pipeline>:<old status>><new pipeline>:<new status>`.
        ///
        /// Pass the old pipeline whenever it can be known: Kommo's events API always carries it, but a webhook
        /// `status` item carries `old_pipeline_id` only sometimes. `nil` is written as the no-value marker `~`, which
        /// gives a different id from the one with the pipeline filled in (see `Documentation/MessageIDs.md` for how
        /// to resolve it).
        public static func stageChanged(fromStatus: Int64?, fromPipeline: Int64?, toStatus: Int64,
                                        toPipeline: Int64) -> Change {
            Change(canonicalValue: "stage:" + MessageIDRecipe.number(fromPipeline) + ":"
                + MessageIDRecipe.number(fromStatus) + ">" + String(toPipeline) + ":" + String(toStatus))
        }

        /// An owner (responsible user) change: `owner:<old user>><new user>`; the stage does not enter it.
        public static func ownerChanged(from oldOwner: Int64?, to newOwner: Int64) -> Change {
            Change(canonicalValue: "owner:" + MessageIDRecipe.number(oldOwner) + ">" + String(newOwner))
        }

        /// The entity was created (webhook section `add`; events API `lead_added`, `contact_added`...).
        public static let added = Change(canonicalValue: "add")
        /// The entity was restored from the trash (webhook section `restore`).
        public static let restored = Change(canonicalValue: "restore")
        /// The entity was deleted (webhook section `delete`).
        public static let deleted = Change(canonicalValue: "delete")
        /// The entity was updated (webhook section `update`), e.g. a contact's or a company's fields changed.
        public static let updated = Change(canonicalValue: "update")

        /// A deal found in a stage by a backfill (`kommo-segment backfill`), not a change Kommo reported:
        /// `backfill:<pipeline>:<status>`, with the lead's `closed_at` as the time. Running a backfill again gives
        /// the same ids; they never equal the ids of the webhook that reported the deal's move to that stage, whose
        /// change names the old stage too.
        public static func backfill(status: Int64, pipeline: Int64) -> Change {
            Change(canonicalValue: "backfill:" + String(pipeline) + ":" + String(status))
        }

        /// The canonical value.
        public var description: String { canonicalValue }
    }
}

/// Where a canonical name is written: the bytes of a string, or the SHA-1 of a message id.
protocol CanonicalNameOutput {
    mutating func write(_ bytes: UnsafeRawBufferPointer)
}

extension CanonicalNameOutput {
    mutating func write(text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// A number in decimal, as `String(value)` writes it.
    mutating func write(number value: Int64) {
        value.withDecimalDigits { write($0) }
    }

    /// An open token: as it is when every byte stands for itself, else escaped by ``MessageIDRecipe/token(_:)``.
    mutating func write(token raw: String) {
        if !raw.isEmpty, raw.utf8.allSatisfy(MessageIDRecipe.isTokenByte) {
            write(text: raw)
        } else {
            write(text: MessageIDRecipe.token(raw))
        }
    }
}

/// A canonical name collected as bytes.
struct CanonicalNameBytes: CanonicalNameOutput {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(160) }

    mutating func write(_ bytes: UnsafeRawBufferPointer) { self.bytes.append(contentsOf: bytes) }
}

extension SHA1: CanonicalNameOutput {
    mutating func write(_ bytes: UnsafeRawBufferPointer) { update(bytes: bytes) }
}
