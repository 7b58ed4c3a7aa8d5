import Foundation
import JSONCore

/// The type of a note, such as `common`: an open set of Kommo's names.
public struct NoteType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral {
    /// The type name as Kommo sends it.
    public let rawValue: String
    /// Creates a type from its name.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Creates a type from a string literal.
    public init(stringLiteral value: String) { rawValue = value }

    /// A plain text note; `params` is `{text}`.
    public static let common: NoteType = "common"
    /// A note visibly written by an integration; `params` is `{service, text}`.
    public static let serviceMessage: NoteType = "service_message"
    /// Like ``serviceMessage`` but allows longer text, collapsed in the UI.
    public static let extendedServiceMessage: NoteType = "extended_service_message"

    /// The type name.
    public var description: String { rawValue }

    /// Decodes any string; other shapes become an empty name.
    public init(from decoder: any Decoder) throws {
        rawValue = (try? decoder.singleValueContainer().decode(String.self)) ?? ""
    }

    /// Encodes the type name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A note attached to a lead, as returned by Kommo (a created note echoes only `id`, `entity_id` and
/// `request_id`; the other fields are then `nil`).
public struct Note: Codable, Sendable, Hashable {
    /// The note's id.
    public var id: Int64
    /// The id of the lead (or other entity) the note is attached to.
    public var entityID: Int64
    /// The note's type, when sent.
    public var noteType: NoteType?
    /// The type-specific content, such as `{"text": "…"}`; `null` when not sent.
    public var params: JSONValue
    /// The echo of the client's `request_id` (Kommo sends `"0"` by default).
    public var requestID: String?
    /// When the note was created, when sent.
    public var createdAt: Date?
    /// Who wrote the note, when sent.
    public var createdBy: Int64?

    /// Creates a note.
    public init(id: Int64, entityID: Int64, noteType: NoteType? = nil, params: JSONValue = .null,
                requestID: String? = nil, createdAt: Date? = nil, createdBy: Int64? = nil) {
        self.id = id
        self.entityID = entityID
        self.noteType = noteType
        self.params = params
        self.requestID = requestID
        self.createdAt = createdAt
        self.createdBy = createdBy
    }

    enum CodingKeys: String, CodingKey {
        case id, params
        case entityID = "entity_id"
        case noteType = "note_type"
        case requestID = "request_id"
        case createdAt = "created_at"
        case createdBy = "created_by"
    }

    /// Decodes a note leniently; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        entityID = c.entityID(.entityID) ?? 0
        noteType = c.entityString(.noteType).map(NoteType.init(rawValue:))
        params = c.entityJSON(.params) ?? .null
        requestID = c.entityString(.requestID)
        createdAt = c.entityDate(.createdAt)
        createdBy = c.entityID(.createdBy)
    }

    /// Encodes the note in the API's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(entityID, forKey: .entityID)
        try c.encodeIfPresent(noteType, forKey: .noteType)
        if params != .null { try c.encode(params, forKey: .params) }
        try c.encodeIfPresent(requestID, forKey: .requestID)
        try c.encodeUnixSeconds(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(createdBy, forKey: .createdBy)
    }
}

/// A note to add to a lead (one element of the `POST /api/v4/leads/notes` body).
public struct NewNote: Codable, Sendable, Hashable {
    /// The lead to attach the note to.
    public var entityID: Int64
    /// The note's type.
    public var noteType: NoteType
    /// The type-specific content, such as `{"text": "…"}`.
    public var params: JSONValue
    /// An optional value Kommo echoes back in ``Note/requestID`` (useful to match results to inputs).
    public var requestID: String?

    /// Creates a note of any type.
    public init(entityID: Int64, noteType: NoteType, params: JSONValue, requestID: String? = nil) {
        self.entityID = entityID
        self.noteType = noteType
        self.params = params
        self.requestID = requestID
    }

    /// A plain text note on a lead.
    public static func common(leadID: Int64, text: String, requestID: String? = nil) -> NewNote {
        NewNote(entityID: leadID, noteType: .common, params: ["text": .string(text)], requestID: requestID)
    }

    /// A note shown as written by the integration named `service`.
    public static func serviceMessage(leadID: Int64, service: String, text: String,
                                      requestID: String? = nil) -> NewNote {
        NewNote(entityID: leadID, noteType: .serviceMessage,
                params: ["service": .string(service), "text": .string(text)], requestID: requestID)
    }

    enum CodingKeys: String, CodingKey {
        case params
        case entityID = "entity_id"
        case noteType = "note_type"
        case requestID = "request_id"
    }
}
