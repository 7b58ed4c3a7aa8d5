import Foundation
import JSONCore

/// One entry of Kommo's account-wide activity log, as `GET /api/v4/events` returns it.
///
/// The log is how a bridge recovers changes whose webhook never arrived: a stage change, an owner change, a lead
/// created, deleted or restored. Only ``id``, ``type``, ``entityID`` and ``createdAt`` are guaranteed; a malformed
/// value of any other field becomes `nil` (or empty) rather than failing the page.
///
/// ```swift
/// if event.type == .leadStatusChanged, let from = event.statusBefore, let to = event.statusAfter {
///     print("lead \(event.entityID): \(from.statusID) -> \(to.statusID) at \(event.createdAt)")
/// }
/// ```
public struct KommoEvent: Sendable, Hashable, Decodable {
    /// The type of an event, such as `lead_status_changed`: an open set of Kommo's names.
    public struct EventType: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral,
        CustomStringConvertible {
        /// The type name as Kommo writes it.
        public let rawValue: String
        /// A type from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A type from a string literal.
        public init(stringLiteral value: String) { rawValue = value }
        /// The type name.
        public var description: String { rawValue }

        /// A lead moved to another stage (`value_before` / `value_after` hold `lead_status`).
        public static let leadStatusChanged: EventType = "lead_status_changed"
        /// An entity's responsible user changed (`value_before` / `value_after` hold `responsible_user`).
        public static let entityResponsibleChanged: EventType = "entity_responsible_changed"
        /// A lead was created.
        public static let leadAdded: EventType = "lead_added"
        /// A lead was deleted.
        public static let leadDeleted: EventType = "lead_deleted"
        /// A lead was restored from the trash.
        public static let leadRestored: EventType = "lead_restored"

        /// The types a catch-up reads: the lead changes a webhook reports and the mapping tracks.
        public static let leadChanges: [EventType] = [
            .leadStatusChanged, .entityResponsibleChanged, .leadAdded, .leadDeleted, .leadRestored,
        ]
    }

    /// A stage as the log writes it: `{"lead_status": {"id": 142, "pipeline_id": 7654321}}`.
    public struct Stage: Sendable, Hashable {
        /// The stage (status) id.
        public var statusID: Int64
        /// The pipeline the stage belongs to; `nil` when the log leaves it out.
        public var pipelineID: Int64?

        /// A stage.
        public init(statusID: Int64, pipelineID: Int64?) {
            self.statusID = statusID
            self.pipelineID = pipelineID
        }
    }

    /// The event id, a string such as `01jh0000000000000000000001`.
    public var id: String
    /// What happened.
    public var type: EventType
    /// The id of the entity it happened to.
    public var entityID: Int64
    /// The entity's type in the log's singular names: `lead`, `contact`, `company`, `customer`, `task`.
    public var entityType: String
    /// The user who caused it; 0 for the system, `nil` when not sent.
    public var createdBy: Int64?
    /// When it happened (Unix seconds on the wire).
    public var createdAt: Date
    /// The account id.
    public var accountID: Int64?
    /// The values before the change, as sent (for example `[{"lead_status": {...}}]`).
    public var valueBefore: [JSONValue]
    /// The values after the change, as sent.
    public var valueAfter: [JSONValue]

    /// An event.
    public init(id: String, type: EventType, entityID: Int64, entityType: String = "lead", createdBy: Int64? = nil,
                createdAt: Date, accountID: Int64? = nil, valueBefore: [JSONValue] = [],
                valueAfter: [JSONValue] = []) {
        self.id = id
        self.type = type
        self.entityID = entityID
        self.entityType = entityType
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.accountID = accountID
        self.valueBefore = valueBefore
        self.valueAfter = valueAfter
    }

    /// The stage before a `lead_status_changed` event; `nil` when the log carries none.
    public var statusBefore: Stage? { Self.stage(in: valueBefore) }
    /// The stage after a `lead_status_changed` event; `nil` when the log carries none.
    public var statusAfter: Stage? { Self.stage(in: valueAfter) }
    /// The responsible user before an `entity_responsible_changed` event.
    public var responsibleBefore: Int64? { Self.responsible(in: valueBefore) }
    /// The responsible user after an `entity_responsible_changed` event.
    public var responsibleAfter: Int64? { Self.responsible(in: valueAfter) }

    private static func stage(in values: [JSONValue]) -> Stage? {
        for case .object(let value) in values {
            guard case .object(let stage)? = value["lead_status"],
                  let status = stage["id"].flatMap(JSONValue.entityIDValue) else { continue }
            return Stage(statusID: status, pipelineID: stage["pipeline_id"].flatMap(JSONValue.entityIDValue))
        }
        return nil
    }

    private static func responsible(in values: [JSONValue]) -> Int64? {
        for case .object(let value) in values {
            guard case .object(let user)? = value["responsible_user"],
                  let id = user["id"].flatMap(JSONValue.entityIDValue) else { continue }
            return id
        }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case id, type
        case entityID = "entity_id"
        case entityType = "entity_type"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case accountID = "account_id"
        case valueBefore = "value_before"
        case valueAfter = "value_after"
    }

    /// Decodes an event leniently: the id, type, entity id and time are required; the rest is optional.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let id = c.entityString(.id), !id.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "an event needs an id")
        }
        guard let type = c.entityString(.type), !type.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "an event needs a type")
        }
        guard let createdAt = c.entityDate(.createdAt) else {
            throw DecodingError.dataCorruptedError(forKey: .createdAt, in: c,
                                                   debugDescription: "an event needs created_at")
        }
        self.id = id
        self.type = EventType(rawValue: type)
        entityID = try c.requiredEntityID(.entityID)
        entityType = c.entityString(.entityType) ?? ""
        createdBy = c.entityID(.createdBy)
        self.createdAt = createdAt
        accountID = c.entityID(.accountID)
        valueBefore = Self.values(c.entityJSON(.valueBefore))
        valueAfter = Self.values(c.entityJSON(.valueAfter))
    }

    /// An array as it is; an object (some types write one) as a one-element array.
    private static func values(_ json: JSONValue?) -> [JSONValue] {
        switch json {
        case .array(let values)?: values
        case .object(let object)?: [.object(object)]
        default: []
        }
    }
}
