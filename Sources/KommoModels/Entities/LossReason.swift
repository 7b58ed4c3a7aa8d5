import Foundation

/// Why a lead was lost: an account-defined reason (`GET /api/v4/leads/loss_reasons`, or embedded in a lead with
/// `with=loss_reason`).
public struct LossReason: Codable, Sendable, Hashable {
    /// The reason's id.
    public var id: Int64
    /// The reason's text, for example "Chose a competitor".
    public var name: String
    /// The position in the account's list.
    public var sort: Int?
    /// When the reason was created.
    public var createdAt: Date?
    /// When the reason was last changed.
    public var updatedAt: Date?

    /// Creates a loss reason.
    public init(id: Int64, name: String, sort: Int? = nil, createdAt: Date? = nil, updatedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.sort = sort
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, sort
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// Decodes a loss reason; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        sort = c.entityInt(.sort)
        createdAt = c.entityDate(.createdAt)
        updatedAt = c.entityDate(.updatedAt)
    }

    /// Encodes the reason in the API's shape (dates as Unix seconds).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(sort, forKey: .sort)
        try c.encodeUnixSeconds(createdAt, forKey: .createdAt)
        try c.encodeUnixSeconds(updatedAt, forKey: .updatedAt)
    }
}
