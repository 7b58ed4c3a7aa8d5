import Foundation

/// A tag on a lead, contact or company (`_embedded.tags[]`).
public struct Tag: Codable, Sendable, Hashable {
    /// The tag's id.
    public var id: Int64
    /// The tag's text.
    public var name: String
    /// The tag's colour as a hex string, when one was chosen.
    public var color: String?

    /// Creates a tag.
    public init(id: Int64, name: String, color: String? = nil) {
        self.id = id
        self.name = name
        self.color = color
    }

    enum CodingKeys: String, CodingKey { case id, name, color }

    /// Decodes a tag; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        color = c.entityString(.color)
    }

    /// Encodes the tag in the API's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(color, forKey: .color)
    }
}

/// A reference to another entity by id, as embedded in a lead or contact (`_embedded.companies[]`).
public struct EntityReference: Codable, Sendable, Hashable {
    /// The referenced entity's id.
    public var id: Int64

    /// Creates a reference.
    public init(id: Int64) { self.id = id }

    enum CodingKeys: String, CodingKey { case id }

    /// Decodes a reference; `id` is required.
    public init(from decoder: any Decoder) throws {
        id = try decoder.container(keyedBy: CodingKeys.self).requiredEntityID(.id)
    }

    /// Encodes the reference as `{"id": …}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
    }
}

/// A contact linked to a lead (`_embedded.contacts[]`, only with `with=contacts`): its id and whether it is the
/// lead's main contact.
public struct ContactReference: Codable, Sendable, Hashable {
    /// The contact's id.
    public var id: Int64
    /// Whether this is the lead's main contact (at most one per lead).
    public var isMain: Bool

    /// Creates a reference.
    public init(id: Int64, isMain: Bool = false) {
        self.id = id
        self.isMain = isMain
    }

    enum CodingKeys: String, CodingKey {
        case id
        case isMain = "is_main"
    }

    /// Decodes a reference; `id` is required, a missing `is_main` is `false`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        isMain = c.entityBool(.isMain) ?? false
    }

    /// Encodes the reference in the API's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(isMain, forKey: .isMain)
    }
}
