import Foundation
import JSONCore

/// A Kommo company, as returned by `GET /api/v4/companies`: the same shape as a contact without first/last name.
///
/// Decoding is lenient: only `id` is required; see ``Lead`` for the rules.
public struct Company: Codable, Sendable, Hashable, CustomFieldsCarrier {
    /// The entities embedded in a company (`_embedded`).
    public struct Embedded: Codable, Sendable, Hashable {
        /// The company's tags.
        public var tags: [Tag]
        /// Linked contacts (only with `with=contacts`).
        public var contacts: [EntityReference]
        /// Linked leads (only with `with=leads`).
        public var leads: [EntityReference]

        /// Creates the embedded entities.
        public init(tags: [Tag] = [], contacts: [EntityReference] = [], leads: [EntityReference] = []) {
            self.tags = tags
            self.contacts = contacts
            self.leads = leads
        }

        enum CodingKeys: String, CodingKey { case tags, contacts, leads }

        /// Decodes the embedded entities; missing lists are empty.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tags = c.entityArray(Tag.self, .tags)
            contacts = c.entityArray(EntityReference.self, .contacts)
            leads = c.entityArray(EntityReference.self, .leads)
        }

        /// Encodes the embedded entities in the API's shape.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(tags, forKey: .tags)
            if !contacts.isEmpty { try c.encode(contacts, forKey: .contacts) }
            if !leads.isEmpty { try c.encode(leads, forKey: .leads) }
        }
    }

    /// The company's id.
    public var id: Int64
    /// The company's name.
    public var name: String
    /// The owner's user id.
    public var responsibleUserID: Int64
    /// The owner's group id.
    public var groupID: Int64
    /// Who created the company.
    public var createdBy: Int64
    /// Who changed the company last.
    public var updatedBy: Int64
    /// When the company was created.
    public var createdAt: Date
    /// When the company was last changed.
    public var updatedAt: Date
    /// When the company's nearest open task is due.
    public var closestTaskAt: Date?
    /// Whether the company is deleted.
    public var isDeleted: Bool
    /// The custom field values (empty when Kommo sent `null`).
    public var customFieldsValues: [CustomFieldValue]
    /// The account id.
    public var accountID: Int64
    /// Tags and (on request) contacts and leads.
    public var embedded: Embedded

    /// Creates a company.
    public init(id: Int64, name: String = "", responsibleUserID: Int64 = 0, groupID: Int64 = 0, createdBy: Int64 = 0,
                updatedBy: Int64 = 0, createdAt: Date = Date(timeIntervalSince1970: 0),
                updatedAt: Date = Date(timeIntervalSince1970: 0), closestTaskAt: Date? = nil,
                isDeleted: Bool = false, customFieldsValues: [CustomFieldValue] = [], accountID: Int64 = 0,
                embedded: Embedded = Embedded()) {
        self.id = id
        self.name = name
        self.responsibleUserID = responsibleUserID
        self.groupID = groupID
        self.createdBy = createdBy
        self.updatedBy = updatedBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.closestTaskAt = closestTaskAt
        self.isDeleted = isDeleted
        self.customFieldsValues = customFieldsValues
        self.accountID = accountID
        self.embedded = embedded
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case responsibleUserID = "responsible_user_id"
        case groupID = "group_id"
        case createdBy = "created_by"
        case updatedBy = "updated_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case closestTaskAt = "closest_task_at"
        case isDeleted = "is_deleted"
        case customFieldsValues = "custom_fields_values"
        case accountID = "account_id"
        case embedded = "_embedded"
    }

    /// Decodes a company leniently; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        responsibleUserID = c.entityID(.responsibleUserID) ?? 0
        groupID = c.entityID(.groupID) ?? 0
        createdBy = c.entityID(.createdBy) ?? 0
        updatedBy = c.entityID(.updatedBy) ?? 0
        createdAt = c.entityDate(.createdAt) ?? entityMissingDate
        updatedAt = c.entityDate(.updatedAt) ?? entityMissingDate
        closestTaskAt = c.entityDate(.closestTaskAt)
        isDeleted = c.entityBool(.isDeleted) ?? false
        customFieldsValues = c.entityArray(CustomFieldValue.self, .customFieldsValues)
        accountID = c.entityID(.accountID) ?? 0
        embedded = c.entityValue(Embedded.self, .embedded) ?? Embedded()
    }

    /// Encodes the company in the API's shape (dates as Unix seconds).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(responsibleUserID, forKey: .responsibleUserID)
        try c.encode(groupID, forKey: .groupID)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(updatedBy, forKey: .updatedBy)
        try c.encodeUnixSeconds(createdAt, forKey: .createdAt)
        try c.encodeUnixSeconds(updatedAt, forKey: .updatedAt)
        try c.encodeUnixSeconds(closestTaskAt, forKey: .closestTaskAt)
        try c.encode(isDeleted, forKey: .isDeleted)
        try c.encode(customFieldsValues, forKey: .customFieldsValues)
        try c.encode(accountID, forKey: .accountID)
        try c.encode(embedded, forKey: .embedded)
    }

    /// The website from the built-in `WEB` field, trimmed; `nil` when empty.
    public var website: String? {
        guard let text = customField(code: "WEB")?.firstText?.trimmingWhiteSpace(),
              !text.isEmpty else { return nil }
        return text
    }
}
