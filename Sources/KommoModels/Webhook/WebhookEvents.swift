import Foundation
import JSONCore

/// A lead item of a webhook (`leads[<action>][i][…]`).
///
/// Only ``id`` is guaranteed: deletes carry just the id and stage, Digital Pipeline hooks just the id and the old
/// and new stage. Every other field is `nil` (or empty) when absent or unparseable. Hooks carry current values only:
/// there is no previous price, no loss reason, no close date, no contacts and no company; fetch the lead for those.
/// Unix-second fields become `Date`s.
public struct LeadEvent: Sendable, Hashable {
    /// The section's action (`add`, `update`, `status`…).
    public var action: KommoWebhookAction
    /// The lead id.
    public var id: Int64
    /// The lead's title; may be empty, and is `nil` when not sent.
    public var name: String?
    /// The current stage. Stage ids 142 (won) and 143 (lost) are shared by all pipelines; pair with ``pipelineID``.
    public var statusID: Int64?
    /// The current pipeline.
    public var pipelineID: Int64?
    /// The previous stage (`old_status_id`), on `status` items and on `update` items that changed the stage.
    public var oldStatusID: Int64?
    /// The previous pipeline (`old_pipeline_id`), optional on `status` items, always in Digital Pipeline hooks.
    public var oldPipelineID: Int64?
    /// The deal amount (`price`), whole or decimal (`"12500"`, `"12500.50"`).
    public var price: Decimal?
    /// The deal amount as newer accounts send it (`price_with_minor_units`), kept apart from ``price`` because the
    /// reference does not say how the two relate inside hooks; decide which to trust when mapping.
    public var priceWithMinorUnits: Decimal?
    /// The current responsible user (the new owner on `responsible` items).
    public var responsibleUserID: Int64?
    /// The previous responsible user (`old_responsible_user_id`); may be present although unchanged.
    public var oldResponsibleUserID: Int64?
    /// The user who created the lead (`created_user_id`; 0 for the system).
    public var createdUserID: Int64?
    /// The user who made this change (`modified_user_id`; 0 for the system).
    public var modifiedUserID: Int64?
    /// The account id repeated on the item (`account_id`).
    public var accountID: Int64?
    /// `last_modified` (Unix seconds).
    public var lastModified: Date?
    /// `date_create` (Unix seconds).
    public var dateCreate: Date?
    /// `created_at` (Unix seconds).
    public var createdAt: Date?
    /// `updated_at` (Unix seconds).
    public var updatedAt: Date?
    /// The lead's tags (`tags[i][id]`, `tags[i][name]`), in index order.
    public var tags: [WebhookTag]
    /// The lead's custom fields (`custom_fields[i][…]`), in index order.
    public var customFields: [WebhookCustomField]

    /// Creates a lead event; everything but the action and id defaults to absent.
    public init(
        action: KommoWebhookAction, id: Int64, name: String? = nil, statusID: Int64? = nil, pipelineID: Int64? = nil,
        oldStatusID: Int64? = nil, oldPipelineID: Int64? = nil, price: Decimal? = nil,
        priceWithMinorUnits: Decimal? = nil, responsibleUserID: Int64? = nil, oldResponsibleUserID: Int64? = nil,
        createdUserID: Int64? = nil, modifiedUserID: Int64? = nil, accountID: Int64? = nil,
        lastModified: Date? = nil, dateCreate: Date? = nil, createdAt: Date? = nil, updatedAt: Date? = nil,
        tags: [WebhookTag] = [], customFields: [WebhookCustomField] = []
    ) {
        self.action = action
        self.id = id
        self.name = name
        self.statusID = statusID
        self.pipelineID = pipelineID
        self.oldStatusID = oldStatusID
        self.oldPipelineID = oldPipelineID
        self.price = price
        self.priceWithMinorUnits = priceWithMinorUnits
        self.responsibleUserID = responsibleUserID
        self.oldResponsibleUserID = oldResponsibleUserID
        self.createdUserID = createdUserID
        self.modifiedUserID = modifiedUserID
        self.accountID = accountID
        self.lastModified = lastModified
        self.dateCreate = dateCreate
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.tags = tags
        self.customFields = customFields
    }
}

extension LeadEvent {
    /// Whether the item records a move to another stage: ``oldStatusID`` is present and differs from
    /// ``statusID``, or the statuses match but ``oldPipelineID`` and ``pipelineID`` are both present and differ
    /// (142/143 exist in every pipeline). A "change" to the same stage is not one, and neither is an item without
    /// a current ``statusID``.
    public var isStageChange: Bool {
        guard let oldStatusID, let statusID else { return false }
        if oldStatusID != statusID { return true }
        if let oldPipelineID, let pipelineID { return oldPipelineID != pipelineID }
        return false
    }

    /// Whether the lead's current stage is a won stage (Kommo's is 142 in every pipeline). This looks at the
    /// current stage only; combine with ``isStageChange`` for "just won".
    public func isWon(wonStatusIDs: Set<Int64> = [142]) -> Bool {
        statusID.map(wonStatusIDs.contains) ?? false
    }

    /// Whether the lead's current stage is a lost stage (Kommo's is 143 in every pipeline). This looks at the
    /// current stage only; combine with ``isStageChange`` for "just lost".
    public func isLost(lostStatusIDs: Set<Int64> = [143]) -> Bool {
        statusID.map(lostStatusIDs.contains) ?? false
    }

    /// Whether the responsible user changed: both ``oldResponsibleUserID`` and ``responsibleUserID`` are present
    /// and differ (Kommo sometimes sends the old owner although it did not change).
    public var isOwnerChange: Bool {
        guard let oldResponsibleUserID, let responsibleUserID else { return false }
        return oldResponsibleUserID != responsibleUserID
    }

    /// When the change happened: ``updatedAt``, else ``lastModified``, else `nil` (use the receive time then).
    public var eventTime: Date? { updatedAt ?? lastModified }
}

/// A contact or company item of a webhook (`contacts[<action>][i][…]`; companies carry `type=company`).
///
/// Only ``entityType``, ``action`` and ``id`` are guaranteed; deletes carry just the id and type. Every other field
/// is `nil` (or empty) when absent or unparseable.
public struct EntityEvent: Sendable, Hashable {
    /// Whether this is a contact or a company (the item's `type`).
    public var entityType: KommoWebhookEntityType
    /// The section's action (`add`, `update`, `delete`, `restore`…).
    public var action: KommoWebhookAction
    /// The contact or company id.
    public var id: Int64
    /// The name, `nil` when not sent.
    public var name: String?
    /// The responsible user.
    public var responsibleUserID: Int64?
    /// The previous responsible user; Kommo sends it even when unchanged (see ``isOwnerChange``).
    public var oldResponsibleUserID: Int64?
    /// The user who created the entity.
    public var createdUserID: Int64?
    /// The user who made this change.
    public var modifiedUserID: Int64?
    /// The account id repeated on the item.
    public var accountID: Int64?
    /// `date_create` (Unix seconds).
    public var dateCreate: Date?
    /// `last_modified` (Unix seconds).
    public var lastModified: Date?
    /// `created_at` (Unix seconds).
    public var createdAt: Date?
    /// `updated_at` (Unix seconds).
    public var updatedAt: Date?
    /// The custom fields, in index order.
    public var customFields: [WebhookCustomField]
    /// The tags, in index order.
    public var tags: [WebhookTag]
    /// The leads linked to a company (`linked_leads_id[<lead id>][ID]`), in ascending id order.
    public var linkedLeadIDs: [Int64]
    /// The company a contact belongs to (`linked_company_id`), `nil` when not sent.
    public var linkedCompanyID: Int64?
    /// The name of that company (`company_name`), `nil` when not sent.
    public var companyName: String?
    /// Every field of the item this model does not name, by key, as decoded: leaves are strings, nested keys are
    /// objects (as in ``UnknownWebhookItem/raw``). Nothing Kommo sends about a contact or company is dropped.
    public var unknownFields: [String: JSONValue]

    /// Creates a contact or company event; everything but the type, action and id defaults to absent.
    public init(
        entityType: KommoWebhookEntityType, action: KommoWebhookAction, id: Int64, name: String? = nil,
        responsibleUserID: Int64? = nil, oldResponsibleUserID: Int64? = nil, createdUserID: Int64? = nil,
        modifiedUserID: Int64? = nil, accountID: Int64? = nil, dateCreate: Date? = nil, lastModified: Date? = nil,
        createdAt: Date? = nil, updatedAt: Date? = nil, customFields: [WebhookCustomField] = [],
        tags: [WebhookTag] = [], linkedLeadIDs: [Int64] = [], linkedCompanyID: Int64? = nil,
        companyName: String? = nil, unknownFields: [String: JSONValue] = [:]
    ) {
        self.linkedCompanyID = linkedCompanyID
        self.companyName = companyName
        self.unknownFields = unknownFields
        self.entityType = entityType
        self.action = action
        self.id = id
        self.name = name
        self.responsibleUserID = responsibleUserID
        self.oldResponsibleUserID = oldResponsibleUserID
        self.createdUserID = createdUserID
        self.modifiedUserID = modifiedUserID
        self.accountID = accountID
        self.dateCreate = dateCreate
        self.lastModified = lastModified
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.customFields = customFields
        self.tags = tags
        self.linkedLeadIDs = linkedLeadIDs
    }
}

extension EntityEvent {
    /// Whether the responsible user changed: both ids are present and differ.
    public var isOwnerChange: Bool {
        guard let oldResponsibleUserID, let responsibleUserID else { return false }
        return oldResponsibleUserID != responsibleUserID
    }

    /// When the change happened: ``updatedAt``, else ``lastModified``, else `nil`.
    public var eventTime: Date? { updatedAt ?? lastModified }
}

/// A note item of a webhook (`leads[note][i][note][…]`, or `contacts[note][i][note][…]` with an outer `type`).
///
/// Writing a note through the API triggers this hook too; filter your own notes to avoid loops.
public struct NoteEvent: Sendable, Hashable {
    /// The section the note arrived in (``KommoWebhookSection/leads`` or ``KommoWebhookSection/contacts``).
    public var section: KommoWebhookSection
    /// The outer `type` of a `contacts[note]` item (contact or company); `nil` for lead notes.
    public var entityType: KommoWebhookEntityType?
    /// The note id.
    public var id: Int64
    /// The note text.
    public var text: String?
    /// The note kind (`note_type`: 4 text, 5 attachment, …).
    public var noteType: Int?
    /// The kind of entity the note belongs to (`element_type`: 1 contact, 2 lead, 3 company).
    public var elementType: Int?
    /// The id of the entity the note belongs to (`element_id`).
    public var elementID: Int64?
    /// The author (`created_by`).
    public var createdBy: Int64?
    /// The last editor (`modified_by`).
    public var modifiedBy: Int64?
    /// The responsible user (`main_user_id`).
    public var mainUserID: Int64?
    /// The attachment field, spelled `attachement` on the wire; often empty.
    public var attachment: String?
    /// `date_create` exactly as sent, a `"YYYY-MM-DD HH:MM:SS"` string in an unstated time zone.
    public var dateCreate: String?
    /// `timestamp_x` exactly as sent, in the same form as ``dateCreate``.
    public var timestampX: String?
    /// `created_at` (Unix seconds).
    public var createdAt: Date?
    /// `updated_at` (Unix seconds).
    public var updatedAt: Date?
    /// `metadata` exactly as sent: a JSON document inside a string, not parsed here.
    public var metadata: String?
    /// The account id repeated on the note.
    public var accountID: Int64?

    /// Creates a note event; everything but the section and id defaults to absent.
    public init(
        section: KommoWebhookSection, entityType: KommoWebhookEntityType? = nil, id: Int64, text: String? = nil,
        noteType: Int? = nil, elementType: Int? = nil, elementID: Int64? = nil, createdBy: Int64? = nil,
        modifiedBy: Int64? = nil, mainUserID: Int64? = nil, attachment: String? = nil, dateCreate: String? = nil,
        timestampX: String? = nil, createdAt: Date? = nil, updatedAt: Date? = nil, metadata: String? = nil,
        accountID: Int64? = nil
    ) {
        self.section = section
        self.entityType = entityType
        self.id = id
        self.text = text
        self.noteType = noteType
        self.elementType = elementType
        self.elementID = elementID
        self.createdBy = createdBy
        self.modifiedBy = modifiedBy
        self.mainUserID = mainUserID
        self.attachment = attachment
        self.dateCreate = dateCreate
        self.timestampX = timestampX
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.metadata = metadata
        self.accountID = accountID
    }
}

/// A tag on a webhook item (`tags[i][id]`, `tags[i][name]`).
public struct WebhookTag: Sendable, Hashable {
    /// The tag id, when sent.
    public var id: Int64?
    /// The tag text (may be empty when only an id was sent).
    public var name: String

    /// Creates a tag.
    public init(id: Int64? = nil, name: String) {
        self.id = id
        self.name = name
    }
}

/// A custom field on a webhook item, in the older (v2) shape hooks use (`custom_fields[i][…]`).
///
/// Fields are keyed by position in the body; match them by ``id``, since names can be renamed or localized.
public struct WebhookCustomField: Sendable, Hashable {
    /// The field id.
    public var id: Int64
    /// The field name as shown in the account, when sent.
    public var name: String?
    /// The built-in field code (`PHONE`, `EMAIL`, `WEB`, `POSITION`…); `nil` for user-defined fields.
    public var code: String?
    /// The values, in index order. Each of the three wire shapes becomes this list.
    public var values: [WebhookCustomFieldValue]

    /// Creates a custom field.
    public init(id: Int64, name: String? = nil, code: String? = nil, values: [WebhookCustomFieldValue] = []) {
        self.id = id
        self.name = name
        self.code = code
        self.values = values
    }
}

/// One value of a webhook custom field.
public struct WebhookCustomFieldValue: Sendable, Hashable {
    /// The value as sent: text, a numeric string, `"1"`/`"0"` for checkboxes, Unix seconds for dates. A value
    /// sent as a nested structure is kept as compact JSON with sorted keys.
    public var value: String
    /// The enum option id (`enum`), for select, multiselect, radiobutton and multitext fields. This is a numeric
    /// option id, not a code such as `WORK`.
    public var enumID: Int64?

    /// Creates a value.
    public init(value: String, enumID: Int64? = nil) {
        self.value = value
        self.enumID = enumID
    }
}
