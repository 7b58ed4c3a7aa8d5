import Foundation

/// The Kommo account the token belongs to (`GET /api/v4/account`).
public struct Account: Codable, Sendable, Hashable {
    /// The account id.
    public var id: Int64
    /// The account's name.
    public var name: String
    /// The subdomain (`acme` in `acme.kommo.com`).
    public var subdomain: String
    /// The default currency of deal amounts, as an ISO 4217 code such as `"USD"`.
    public var currency: String?
    /// The currency's symbol, such as `"$"`.
    public var currencySymbol: String?
    /// The account's country code.
    public var country: String?
    /// When the account was created.
    public var createdAt: Date?
    /// Who created the account.
    public var createdBy: Int64?
    /// When the account was last changed.
    public var updatedAt: Date?
    /// The id of the user the token acts as.
    public var currentUserID: Int64?
    /// Whether the "unsorted" inbox is enabled.
    public var isUnsortedOn: Bool?
    /// Whether lost leads ask for a loss reason.
    public var isLossReasonEnabled: Bool?

    /// Creates an account.
    public init(id: Int64, name: String, subdomain: String, currency: String? = nil, currencySymbol: String? = nil,
                country: String? = nil, createdAt: Date? = nil, createdBy: Int64? = nil, updatedAt: Date? = nil,
                currentUserID: Int64? = nil, isUnsortedOn: Bool? = nil, isLossReasonEnabled: Bool? = nil) {
        self.id = id
        self.name = name
        self.subdomain = subdomain
        self.currency = currency
        self.currencySymbol = currencySymbol
        self.country = country
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = updatedAt
        self.currentUserID = currentUserID
        self.isUnsortedOn = isUnsortedOn
        self.isLossReasonEnabled = isLossReasonEnabled
    }

    enum CodingKeys: String, CodingKey {
        case id, name, subdomain, currency, country
        case currencySymbol = "currency_symbol"
        case createdAt = "created_at"
        case createdBy = "created_by"
        case updatedAt = "updated_at"
        case currentUserID = "current_user_id"
        case isUnsortedOn = "is_unsorted_on"
        case isLossReasonEnabled = "is_loss_reason_enabled"
    }

    /// Decodes an account leniently; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        subdomain = c.entityString(.subdomain) ?? ""
        currency = c.entityString(.currency)
        currencySymbol = c.entityString(.currencySymbol)
        country = c.entityString(.country)
        createdAt = c.entityDate(.createdAt)
        createdBy = c.entityID(.createdBy)
        updatedAt = c.entityDate(.updatedAt)
        currentUserID = c.entityID(.currentUserID)
        isUnsortedOn = c.entityBool(.isUnsortedOn)
        isLossReasonEnabled = c.entityBool(.isLossReasonEnabled)
    }

    /// Encodes the account in the API's shape (dates as Unix seconds).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(subdomain, forKey: .subdomain)
        try c.encodeIfPresent(currency, forKey: .currency)
        try c.encodeIfPresent(currencySymbol, forKey: .currencySymbol)
        try c.encodeIfPresent(country, forKey: .country)
        try c.encodeUnixSeconds(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(createdBy, forKey: .createdBy)
        try c.encodeUnixSeconds(updatedAt, forKey: .updatedAt)
        try c.encodeIfPresent(currentUserID, forKey: .currentUserID)
        try c.encodeIfPresent(isUnsortedOn, forKey: .isUnsortedOn)
        try c.encodeIfPresent(isLossReasonEnabled, forKey: .isLossReasonEnabled)
    }
}
