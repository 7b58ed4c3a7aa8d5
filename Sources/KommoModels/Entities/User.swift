import Foundation
import JSONCore

/// A Kommo user (`GET /api/v4/users/{id}`; needs an admin token).
public struct User: Codable, Sendable, Hashable {
    /// The user's id.
    public var id: Int64
    /// The user's display name.
    public var name: String
    /// The user's login e-mail.
    public var email: String?
    /// The interface language, for example `"en"`.
    public var lang: String?
    /// The user's rights as sent (the shape varies by plan and changes over time).
    public var rights: JSONValue

    /// Creates a user.
    public init(id: Int64, name: String, email: String? = nil, lang: String? = nil, rights: JSONValue = [:]) {
        self.id = id
        self.name = name
        self.email = email
        self.lang = lang
        self.rights = rights
    }

    enum CodingKeys: String, CodingKey { case id, name, email, lang, rights }

    /// Decodes a user leniently; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        email = c.entityString(.email)
        lang = c.entityString(.lang)
        rights = c.entityJSON(.rights) ?? .null
    }

    /// Encodes the user in the API's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(email, forKey: .email)
        try c.encodeIfPresent(lang, forKey: .lang)
        try c.encode(rights, forKey: .rights)
    }

    /// Whether `rights.is_admin` is true.
    public var isAdmin: Bool { rights["is_admin"]?.boolValue ?? false }

    /// Whether `rights.is_active` is true (a missing flag counts as active).
    public var isActive: Bool { rights["is_active"]?.boolValue ?? true }
}
