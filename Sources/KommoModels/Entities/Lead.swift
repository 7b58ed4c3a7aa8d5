import Foundation

/// A Kommo lead (a deal), as returned by `GET /api/v4/leads` and `GET /api/v4/leads/{id}`.
///
/// Decoding is lenient: only `id` is required. Integer fields Kommo always sends decode as `0` when absent (Kommo
/// itself uses `0` for "nobody"), the always-present dates as the Unix epoch, and optional fields as `nil`.
/// `custom_fields_values: null` decodes as an empty array.
///
/// Stage ids `142` (won) and `143` (lost) are shared by every pipeline: always read ``statusID`` together with
/// ``pipelineID``.
public struct Lead: Codable, Sendable, Hashable, CustomFieldsCarrier {
    /// The entities embedded in a lead (`_embedded`).
    public struct Embedded: Codable, Sendable, Hashable {
        /// The lead's tags (always sent, may be empty).
        public var tags: [Tag]
        /// The linked company, as an id (0 or 1 entries).
        public var companies: [EntityReference]
        /// The linked contacts with the main-contact flag (only with `with=contacts`).
        public var contacts: [ContactReference]
        /// The loss reason: an array of 0 or 1 items (only with `with=loss_reason`).
        public var lossReason: [LossReason]

        /// Creates the embedded entities.
        public init(tags: [Tag] = [], companies: [EntityReference] = [], contacts: [ContactReference] = [],
                    lossReason: [LossReason] = []) {
            self.tags = tags
            self.companies = companies
            self.contacts = contacts
            self.lossReason = lossReason
        }

        enum CodingKeys: String, CodingKey {
            case tags, companies, contacts
            case lossReason = "loss_reason"
        }

        /// Decodes the embedded entities; missing lists are empty and unreadable items are skipped.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tags = c.entityArray(Tag.self, .tags)
            companies = c.entityArray(EntityReference.self, .companies)
            contacts = c.entityArray(ContactReference.self, .contacts)
            lossReason = c.entityArray(LossReason.self, .lossReason)
        }

        /// Encodes the embedded entities in the API's shape.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(tags, forKey: .tags)
            try c.encode(companies, forKey: .companies)
            try c.encode(contacts, forKey: .contacts)
            try c.encode(lossReason, forKey: .lossReason)
        }
    }

    /// The lead's id.
    public var id: Int64
    /// The lead's title (may be empty).
    public var name: String
    /// The deal amount in the account's currency: `price_with_minor_units` when sent, else `price`.
    public var price: Decimal?
    /// The owner's user id.
    public var responsibleUserID: Int64
    /// The owner's group id.
    public var groupID: Int64
    /// The stage id (pair it with ``pipelineID``).
    public var statusID: Int64
    /// The pipeline id.
    public var pipelineID: Int64
    /// The loss reason id, set for lost leads when a reason was chosen.
    public var lossReasonID: Int64?
    /// The lead source id (only with `with=source_id`).
    public var sourceID: Int64?
    /// Who created the lead (0 for the system or a robot).
    public var createdBy: Int64
    /// Who changed the lead last (0 for the system or a robot).
    public var updatedBy: Int64
    /// When the lead was created.
    public var createdAt: Date
    /// When the lead was last changed.
    public var updatedAt: Date
    /// When the lead was closed (won or lost).
    public var closedAt: Date?
    /// When the lead's nearest open task is due.
    public var closestTaskAt: Date?
    /// Whether the lead is deleted (only seen with `with=only_deleted`).
    public var isDeleted: Bool
    /// The custom field values (empty when Kommo sent `null`).
    public var customFieldsValues: [CustomFieldValue]
    /// The lead score, when the account uses scoring.
    public var score: Int?
    /// Seconds worked on the lead, when recorded.
    public var laborCost: Int?
    /// The account id.
    public var accountID: Int64
    /// Tags, company, contacts and loss reason.
    public var embedded: Embedded

    /// Creates a lead.
    public init(id: Int64, name: String = "", price: Decimal? = nil, responsibleUserID: Int64 = 0, groupID: Int64 = 0,
                statusID: Int64 = 0, pipelineID: Int64 = 0, lossReasonID: Int64? = nil, sourceID: Int64? = nil,
                createdBy: Int64 = 0, updatedBy: Int64 = 0, createdAt: Date = Date(timeIntervalSince1970: 0),
                updatedAt: Date = Date(timeIntervalSince1970: 0), closedAt: Date? = nil, closestTaskAt: Date? = nil,
                isDeleted: Bool = false, customFieldsValues: [CustomFieldValue] = [], score: Int? = nil,
                laborCost: Int? = nil, accountID: Int64 = 0, embedded: Embedded = Embedded()) {
        self.id = id
        self.name = name
        self.price = price
        self.responsibleUserID = responsibleUserID
        self.groupID = groupID
        self.statusID = statusID
        self.pipelineID = pipelineID
        self.lossReasonID = lossReasonID
        self.sourceID = sourceID
        self.createdBy = createdBy
        self.updatedBy = updatedBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.closedAt = closedAt
        self.closestTaskAt = closestTaskAt
        self.isDeleted = isDeleted
        self.customFieldsValues = customFieldsValues
        self.score = score
        self.laborCost = laborCost
        self.accountID = accountID
        self.embedded = embedded
    }

    enum CodingKeys: String, CodingKey {
        case id, name, price, score
        case priceWithMinorUnits = "price_with_minor_units"
        case responsibleUserID = "responsible_user_id"
        case groupID = "group_id"
        case statusID = "status_id"
        case pipelineID = "pipeline_id"
        case lossReasonID = "loss_reason_id"
        case sourceID = "source_id"
        case createdBy = "created_by"
        case updatedBy = "updated_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case closedAt = "closed_at"
        case closestTaskAt = "closest_task_at"
        case isDeleted = "is_deleted"
        case customFieldsValues = "custom_fields_values"
        case laborCost = "labor_cost"
        case accountID = "account_id"
        case embedded = "_embedded"
    }

    /// Decodes a lead leniently (see the type's documentation).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        price = c.entityDecimal(.priceWithMinorUnits) ?? c.entityDecimal(.price)
        responsibleUserID = c.entityID(.responsibleUserID) ?? 0
        groupID = c.entityID(.groupID) ?? 0
        statusID = c.entityID(.statusID) ?? 0
        pipelineID = c.entityID(.pipelineID) ?? 0
        lossReasonID = c.entityID(.lossReasonID)
        sourceID = c.entityID(.sourceID)
        createdBy = c.entityID(.createdBy) ?? 0
        updatedBy = c.entityID(.updatedBy) ?? 0
        createdAt = c.entityDate(.createdAt) ?? entityMissingDate
        updatedAt = c.entityDate(.updatedAt) ?? entityMissingDate
        closedAt = c.entityDate(.closedAt)
        closestTaskAt = c.entityDate(.closestTaskAt)
        isDeleted = c.entityBool(.isDeleted) ?? false
        customFieldsValues = c.entityArray(CustomFieldValue.self, .customFieldsValues)
        score = c.entityInt(.score)
        laborCost = c.entityInt(.laborCost)
        accountID = c.entityID(.accountID) ?? 0
        embedded = c.entityValue(Embedded.self, .embedded) ?? Embedded()
    }

    /// Encodes the lead in the API's shape: dates as Unix seconds, `price` as whole units and, for a fractional
    /// amount, `price_with_minor_units` as well.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        if let price {
            var whole = Decimal()
            var value = price
            NSDecimalRound(&whole, &value, 0, .down)
            try c.encode(NSDecimalNumber(decimal: whole).int64Value, forKey: .price)
            if whole != price { try c.encode(price, forKey: .priceWithMinorUnits) }
        }
        try c.encode(responsibleUserID, forKey: .responsibleUserID)
        try c.encode(groupID, forKey: .groupID)
        try c.encode(statusID, forKey: .statusID)
        try c.encode(pipelineID, forKey: .pipelineID)
        try c.encodeIfPresent(lossReasonID, forKey: .lossReasonID)
        try c.encodeIfPresent(sourceID, forKey: .sourceID)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(updatedBy, forKey: .updatedBy)
        try c.encodeUnixSeconds(createdAt, forKey: .createdAt)
        try c.encodeUnixSeconds(updatedAt, forKey: .updatedAt)
        try c.encodeUnixSeconds(closedAt, forKey: .closedAt)
        try c.encodeUnixSeconds(closestTaskAt, forKey: .closestTaskAt)
        try c.encode(isDeleted, forKey: .isDeleted)
        try c.encode(customFieldsValues, forKey: .customFieldsValues)
        try c.encodeIfPresent(score, forKey: .score)
        try c.encodeIfPresent(laborCost, forKey: .laborCost)
        try c.encode(accountID, forKey: .accountID)
        try c.encode(embedded, forKey: .embedded)
    }

    /// Whether the lead is in the shared "won" stage (`142`).
    public var isWon: Bool { statusID == Status.wonID }
    /// Whether the lead is in the shared "lost" stage (`143`).
    public var isLost: Bool { statusID == Status.lostID }

    /// The main contact's id: the contact flagged `is_main`, else the first linked contact; `nil` without contacts
    /// (or when the lead was fetched without `with=contacts`).
    public var mainContactID: Int64? {
        (embedded.contacts.first { $0.isMain } ?? embedded.contacts.first)?.id
    }

    /// The ids of every linked contact, in Kommo's order.
    public var contactIDs: [Int64] { embedded.contacts.map(\.id) }

    /// The linked company's id, if any.
    public var companyID: Int64? { embedded.companies.first?.id }

    /// The embedded loss reason, if the lead was fetched with `with=loss_reason` and has one.
    public var lossReason: LossReason? { embedded.lossReason.first }
}
