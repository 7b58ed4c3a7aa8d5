import Foundation
import JSONCore

/// A Kommo contact (a person), as returned by `GET /api/v4/contacts`.
///
/// Decoding is lenient: only `id` is required; see ``Lead`` for the rules. Use ``emails``, ``phones`` and
/// ``primaryEmail`` for the built-in `EMAIL`/`PHONE` fields.
public struct Contact: Codable, Sendable, Hashable, CustomFieldsCarrier {
    /// The entities embedded in a contact (`_embedded`).
    public struct Embedded: Codable, Sendable, Hashable {
        /// The contact's tags.
        public var tags: [Tag]
        /// The contact's company, as an id (0 or 1 entries).
        public var companies: [EntityReference]
        /// Linked leads (only with `with=leads`).
        public var leads: [EntityReference]

        /// Creates the embedded entities.
        public init(tags: [Tag] = [], companies: [EntityReference] = [], leads: [EntityReference] = []) {
            self.tags = tags
            self.companies = companies
            self.leads = leads
        }

        enum CodingKeys: String, CodingKey { case tags, companies, leads }

        /// Decodes the embedded entities; missing lists are empty.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tags = c.entityArray(Tag.self, .tags)
            companies = c.entityArray(EntityReference.self, .companies)
            leads = c.entityArray(EntityReference.self, .leads)
        }

        /// Encodes the embedded entities in the API's shape.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(tags, forKey: .tags)
            try c.encode(companies, forKey: .companies)
            if !leads.isEmpty { try c.encode(leads, forKey: .leads) }
        }
    }

    /// The contact's id.
    public var id: Int64
    /// The full name.
    public var name: String
    /// The first name, when entered separately.
    public var firstName: String?
    /// The last name, when entered separately.
    public var lastName: String?
    /// The owner's user id.
    public var responsibleUserID: Int64
    /// The owner's group id.
    public var groupID: Int64
    /// Who created the contact.
    public var createdBy: Int64
    /// Who changed the contact last.
    public var updatedBy: Int64
    /// When the contact was created.
    public var createdAt: Date
    /// When the contact was last changed.
    public var updatedAt: Date
    /// When the contact's nearest open task is due.
    public var closestTaskAt: Date?
    /// Whether the contact is deleted.
    public var isDeleted: Bool
    /// Whether the contact is still in the "unsorted" inbox.
    public var isUnsorted: Bool
    /// The custom field values (empty when Kommo sent `null`).
    public var customFieldsValues: [CustomFieldValue]
    /// The account id.
    public var accountID: Int64
    /// Tags, company and (on request) leads.
    public var embedded: Embedded

    /// Creates a contact.
    public init(id: Int64, name: String = "", firstName: String? = nil, lastName: String? = nil,
                responsibleUserID: Int64 = 0, groupID: Int64 = 0, createdBy: Int64 = 0, updatedBy: Int64 = 0,
                createdAt: Date = Date(timeIntervalSince1970: 0), updatedAt: Date = Date(timeIntervalSince1970: 0),
                closestTaskAt: Date? = nil, isDeleted: Bool = false, isUnsorted: Bool = false,
                customFieldsValues: [CustomFieldValue] = [], accountID: Int64 = 0, embedded: Embedded = Embedded()) {
        self.id = id
        self.name = name
        self.firstName = firstName
        self.lastName = lastName
        self.responsibleUserID = responsibleUserID
        self.groupID = groupID
        self.createdBy = createdBy
        self.updatedBy = updatedBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.closestTaskAt = closestTaskAt
        self.isDeleted = isDeleted
        self.isUnsorted = isUnsorted
        self.customFieldsValues = customFieldsValues
        self.accountID = accountID
        self.embedded = embedded
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case firstName = "first_name"
        case lastName = "last_name"
        case responsibleUserID = "responsible_user_id"
        case groupID = "group_id"
        case createdBy = "created_by"
        case updatedBy = "updated_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case closestTaskAt = "closest_task_at"
        case isDeleted = "is_deleted"
        case isUnsorted = "is_unsorted"
        case customFieldsValues = "custom_fields_values"
        case accountID = "account_id"
        case embedded = "_embedded"
    }

    /// Decodes a contact leniently; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        firstName = c.entityString(.firstName)
        lastName = c.entityString(.lastName)
        responsibleUserID = c.entityID(.responsibleUserID) ?? 0
        groupID = c.entityID(.groupID) ?? 0
        createdBy = c.entityID(.createdBy) ?? 0
        updatedBy = c.entityID(.updatedBy) ?? 0
        createdAt = c.entityDate(.createdAt) ?? entityMissingDate
        updatedAt = c.entityDate(.updatedAt) ?? entityMissingDate
        closestTaskAt = c.entityDate(.closestTaskAt)
        isDeleted = c.entityBool(.isDeleted) ?? false
        isUnsorted = c.entityBool(.isUnsorted) ?? false
        customFieldsValues = c.entityArray(CustomFieldValue.self, .customFieldsValues)
        accountID = c.entityID(.accountID) ?? 0
        embedded = c.entityValue(Embedded.self, .embedded) ?? Embedded()
    }

    /// Encodes the contact in the API's shape (dates as Unix seconds).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(firstName, forKey: .firstName)
        try c.encodeIfPresent(lastName, forKey: .lastName)
        try c.encode(responsibleUserID, forKey: .responsibleUserID)
        try c.encode(groupID, forKey: .groupID)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(updatedBy, forKey: .updatedBy)
        try c.encodeUnixSeconds(createdAt, forKey: .createdAt)
        try c.encodeUnixSeconds(updatedAt, forKey: .updatedAt)
        try c.encodeUnixSeconds(closestTaskAt, forKey: .closestTaskAt)
        try c.encode(isDeleted, forKey: .isDeleted)
        try c.encode(isUnsorted, forKey: .isUnsorted)
        try c.encode(customFieldsValues, forKey: .customFieldsValues)
        try c.encode(accountID, forKey: .accountID)
        try c.encode(embedded, forKey: .embedded)
    }

    /// The job title from the built-in `POSITION` field, trimmed; `nil` when empty.
    public var position: String? {
        guard let text = customField(code: "POSITION")?.firstText?.trimmingWhiteSpace(),
              !text.isEmpty else { return nil }
        return text
    }

    /// The contact's company id, if any.
    public var companyID: Int64? { embedded.companies.first?.id }
}
