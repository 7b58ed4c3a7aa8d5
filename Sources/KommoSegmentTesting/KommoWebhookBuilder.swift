import Foundation

/// Builds Kommo webhook bodies exactly as Kommo POSTs them: `application/x-www-form-urlencoded`, PHP bracket keys
/// (`leads[status][0][id]`), brackets and every byte outside `A–Z a–z 0–9 - . _ ~` percent-encoded with upper-case
/// hex, spaces as `+`, UTF-8, pairs joined by `&`, no trailing newline.
///
/// Items keep their fields in the order Kommo sends them, so a builder can reproduce a captured body byte for byte.
///
/// ```swift
/// var hook = KommoWebhookBuilder()                       // account 31234567 "acme"
/// hook.add(.leads, .status, .lead(id: 24000017, statusID: 142, oldStatusID: 61000005, pipelineID: 7654321))
/// let body: Data = hook.body                              // parse it with KommoWebhookParser
/// ```
public struct KommoWebhookBuilder: Sendable, Hashable {
    /// Where the account block goes: Kommo usually sends it first, but the order is not guaranteed.
    public enum AccountPlacement: Sendable, Hashable {
        /// Before every item.
        case first
        /// After every item.
        case last
    }

    /// The `account[…]` block.
    public struct Account: Sendable, Hashable {
        /// `account[id]`.
        public var id: Int64
        /// `account[subdomain]`.
        public var subdomain: String
        /// `account[_links][self]`; `nil` omits it (Digital Pipeline hooks have none).
        public var link: String?
        /// Write `account[id]` before `account[subdomain]` (as Digital Pipeline hooks do); otherwise the subdomain
        /// comes first.
        public var idFirst: Bool

        /// The sample account: id 31234567, subdomain `acme`, link `https://acme.kommo.com`.
        public static let sample = Account(id: 31_234_567, subdomain: "acme", link: "https://acme.kommo.com")

        /// Creates an account block.
        public init(id: Int64, subdomain: String, link: String? = nil, idFirst: Bool = false) {
            self.id = id
            self.subdomain = subdomain
            self.link = link
            self.idFirst = idFirst
        }

        var fields: [KommoWebhookItem.Field] {
            var fields: [KommoWebhookItem.Field] = []
            let subdomainField = KommoWebhookItem.Field(["subdomain"], subdomain)
            let idField = KommoWebhookItem.Field(["id"], String(id))
            fields += idFirst ? [idField, subdomainField] : [subdomainField, idField]
            if let link { fields.append(.init(["_links", "self"], link)) }
            return fields
        }
    }

    /// The top-level section of an item: `leads`, `contacts` (contacts and companies), `companies`, `customers`...
    public struct Section: RawRepresentable, Sendable, Hashable {
        /// The key as it appears on the wire.
        public let rawValue: String
        /// Creates a section from its wire key.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// `leads[…]`.
        public static let leads = Section(rawValue: "leads")
        /// `contacts[…]` (also carries companies, with `type=company`).
        public static let contacts = Section(rawValue: "contacts")
        /// `companies[…]`.
        public static let companies = Section(rawValue: "companies")
    }

    /// The action under a section: `add`, `update`, `status`, `responsible`, `delete`, `restore`, `note`...
    public struct Action: RawRepresentable, Sendable, Hashable {
        /// The key as it appears on the wire.
        public let rawValue: String
        /// Creates an action from its wire key.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// `[add]`.
        public static let add = Action(rawValue: "add")
        /// `[update]`.
        public static let update = Action(rawValue: "update")
        /// `[status]`.
        public static let status = Action(rawValue: "status")
        /// `[responsible]`.
        public static let responsible = Action(rawValue: "responsible")
        /// `[delete]`.
        public static let delete = Action(rawValue: "delete")
        /// `[restore]`.
        public static let restore = Action(rawValue: "restore")
        /// `[note]`.
        public static let note = Action(rawValue: "note")
    }

    private struct Entry: Sendable, Hashable {
        var section: Section
        var action: Action
        var item: KommoWebhookItem
    }

    /// The account block.
    public var account: Account
    /// Where the account block goes.
    public var accountPlacement: AccountPlacement
    private var entries: [Entry] = []

    /// Creates an empty webhook for `account` (the sample account by default).
    public init(account: Account = .sample, accountPlacement: AccountPlacement = .first) {
        self.account = account
        self.accountPlacement = accountPlacement
    }

    /// Appends `item` as the next index of `section[action]` (`leads[status][0]`, then `[1]`...).
    public mutating func add(_ section: Section, _ action: Action, _ item: KommoWebhookItem) {
        entries.append(Entry(section: section, action: action, item: item))
    }

    /// Returns a copy with `item` appended; see ``add(_:_:_:)``.
    public func adding(_ section: Section, _ action: Action, _ item: KommoWebhookItem) -> KommoWebhookBuilder {
        var copy = self
        copy.add(section, action, item)
        return copy
    }

    /// The decoded (name, value) pairs in wire order, for example `("leads[status][0][id]", "24000017")`.
    public var pairs: [(name: String, value: String)] {
        var itemPairs: [(String, String)] = []
        var counters: [String: Int] = [:]
        for entry in entries {
            let key = entry.section.rawValue + "[" + entry.action.rawValue + "]"
            let index = counters[key, default: 0]
            counters[key] = index + 1
            let prefix = key + "[\(index)]"
            for field in entry.item.fields {
                itemPairs.append((prefix + field.path.map { "[\($0)]" }.joined(), field.value))
            }
        }
        let accountPairs = account.fields.map { ("account" + $0.path.map { "[\($0)]" }.joined(), $0.value) }
        return accountPlacement == .first ? accountPairs + itemPairs : itemPairs + accountPairs
    }

    /// The body as text.
    public var string: String {
        pairs.map { Self.encode($0.name) + "=" + Self.encode($0.value) }.joined(separator: "&")
    }

    /// The body bytes (UTF-8).
    public var body: Data { Data(string.utf8) }

    /// The content type Kommo sends with webhooks.
    public static let contentType = "application/x-www-form-urlencoded"

    /// Form-encodes `text` like Kommo: unreserved ASCII as is, space as `+`, every other UTF-8 byte as `%XX`.
    public static func encode(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        let hex: [Character] = Array("0123456789ABCDEF")
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                result.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: " "):
                result.append("+")
            default:
                result.append("%")
                result.append(hex[Int(byte >> 4)])
                result.append(hex[Int(byte & 0x0F)])
            }
        }
        return result
    }
}

/// One item of a webhook (one lead, contact, company or note): ordered fields under the item's prefix.
public struct KommoWebhookItem: Sendable, Hashable {
    /// One field: its key path below the item (`["custom_fields", "0", "id"]`) and its value as sent.
    public struct Field: Sendable, Hashable {
        /// The bracket keys below the item.
        public var path: [String]
        /// The value (every value is a string on the wire).
        public var value: String

        /// Creates a field.
        public init(_ path: [String], _ value: String) {
            self.path = path
            self.value = value
        }
    }

    /// A tag as sent in `tags[i][id]` / `tags[i][name]`.
    public struct Tag: Sendable, Hashable {
        /// The tag id.
        public var id: Int64
        /// The tag name.
        public var name: String
        /// Creates a tag.
        public init(id: Int64, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// A custom field as sent in `custom_fields[i][…]`.
    public struct CustomField: Sendable, Hashable {
        /// How the values are written.
        public enum Values: Sendable, Hashable {
            /// `values[i][value]` (and `values[i][enum]` when the enum id is given).
            case list([(value: String, enumID: Int64?)])
            /// `values[i]=value`: bare scalars (date fields).
            case scalars([String])
            /// `values[value]` and `values[enum]` without an index (radio buttons).
            case keyed(value: String, enumID: Int64?)

            /// Compares the written form.
            public static func == (lhs: Values, rhs: Values) -> Bool { lhs.fields == rhs.fields }
            /// Hashes the written form.
            public func hash(into hasher: inout Hasher) { hasher.combine(fields) }

            var fields: [Field] {
                switch self {
                case .list(let values):
                    return values.enumerated().flatMap { index, entry -> [Field] in
                        var fields = [Field(["values", String(index), "value"], entry.value)]
                        if let enumID = entry.enumID {
                            fields.append(Field(["values", String(index), "enum"], String(enumID)))
                        }
                        return fields
                    }
                case .scalars(let values):
                    return values.enumerated().map { Field(["values", String($0.offset)], $0.element) }
                case .keyed(let value, let enumID):
                    var fields = [Field(["values", "value"], value)]
                    if let enumID { fields.append(Field(["values", "enum"], String(enumID))) }
                    return fields
                }
            }
        }

        /// The field id.
        public var id: Int64
        /// The field name.
        public var name: String
        /// The values.
        public var values: Values
        /// The field code (`PHONE`, `EMAIL`...), written after the values; `nil` omits it.
        public var code: String?

        /// Creates a custom field.
        public init(id: Int64, name: String, values: Values, code: String? = nil) {
            self.id = id
            self.name = name
            self.values = values
            self.code = code
        }

        /// A field with one value (and its enum id, for select-like fields).
        public static func text(id: Int64, name: String, _ value: String, enumID: Int64? = nil,
                                code: String? = nil) -> CustomField {
            CustomField(id: id, name: name, values: .list([(value, enumID)]), code: code)
        }
    }

    /// The fields, in wire order.
    public var fields: [Field]

    /// Creates an item from fields in wire order.
    public init(fields: [Field]) { self.fields = fields }

    /// Creates an item from top-level keys and values in order, for example `["id": "24000017"]`; for nested
    /// keys use ``init(fields:)`` with paths such as `["custom_fields", "0", "id"]`.
    public init(_ pairs: KeyValuePairs<String, String>) {
        fields = pairs.map { Field([$0.key], $0.value) }
    }

    /// Appends a field.
    public mutating func append(_ path: [String], _ value: String) { fields.append(Field(path, value)) }

    /// A lead item (`leads[add|update|status|responsible|restore][i]`) with the fields Kommo sends, in its
    /// order; `nil` parameters are left out.
    public static func lead(
        id: Int64, name: String? = nil, statusID: Int64? = nil, oldStatusID: Int64? = nil, price: Int? = nil,
        responsibleUserID: Int64? = nil, lastModified: Int? = nil, modifiedUserID: Int64? = nil,
        createdUserID: Int64? = nil, dateCreate: Int? = nil, pipelineID: Int64? = nil, oldPipelineID: Int64? = nil,
        tags: [Tag] = [], accountID: Int64? = nil, customFields: [CustomField] = [],
        oldResponsibleUserID: Int64? = nil, createdAt: Int? = nil, updatedAt: Int? = nil
    ) -> KommoWebhookItem {
        var item = KommoWebhookItem(fields: [Field(["id"], String(id))])
        item.optional("name", name)
        item.optional("status_id", statusID)
        item.optional("old_status_id", oldStatusID)
        item.optional("price", price)
        item.optional("responsible_user_id", responsibleUserID)
        item.optional("last_modified", lastModified)
        item.optional("modified_user_id", modifiedUserID)
        item.optional("created_user_id", createdUserID)
        item.optional("date_create", dateCreate)
        item.optional("pipeline_id", pipelineID)
        item.optional("old_pipeline_id", oldPipelineID)
        for (index, tag) in tags.enumerated() {
            item.append(["tags", String(index), "id"], String(tag.id))
            item.append(["tags", String(index), "name"], tag.name)
        }
        item.optional("account_id", accountID)
        item.appendCustomFields(customFields)
        item.optional("old_responsible_user_id", oldResponsibleUserID)
        item.optional("created_at", createdAt)
        item.optional("updated_at", updatedAt)
        return item
    }

    /// A deleted lead (`leads[delete][i]`): only `id`, `status_id` and `pipeline_id`.
    public static func deletedLead(id: Int64, statusID: Int64, pipelineID: Int64) -> KommoWebhookItem {
        KommoWebhookItem(fields: [Field(["id"], String(id)), Field(["status_id"], String(statusID)),
                                  Field(["pipeline_id"], String(pipelineID))])
    }

    /// A Digital Pipeline stage item: `id`, `status_id`, `pipeline_id`, `old_status_id`, `old_pipeline_id`.
    public static func digitalPipelineStatus(id: Int64, statusID: Int64, pipelineID: Int64, oldStatusID: Int64,
                                             oldPipelineID: Int64) -> KommoWebhookItem {
        KommoWebhookItem(fields: [
            Field(["id"], String(id)), Field(["status_id"], String(statusID)),
            Field(["pipeline_id"], String(pipelineID)), Field(["old_status_id"], String(oldStatusID)),
            Field(["old_pipeline_id"], String(oldPipelineID)),
        ])
    }

    /// A contact or company item (`contacts[add|update|delete|restore][i]`); `type` is `contact` or `company`.
    public static func contact(
        id: Int64, name: String? = nil, responsibleUserID: Int64? = nil, dateCreate: Int? = nil,
        lastModified: Int? = nil, createdUserID: Int64? = nil, modifiedUserID: Int64? = nil, accountID: Int64? = nil,
        customFields: [CustomField] = [], linkedLeadIDs: [Int64] = [], oldResponsibleUserID: Int64? = nil,
        createdAt: Int? = nil, updatedAt: Int? = nil, type: String? = "contact"
    ) -> KommoWebhookItem {
        var item = KommoWebhookItem(fields: [Field(["id"], String(id))])
        item.optional("name", name)
        item.optional("responsible_user_id", responsibleUserID)
        item.optional("date_create", dateCreate)
        item.optional("last_modified", lastModified)
        item.optional("created_user_id", createdUserID)
        item.optional("modified_user_id", modifiedUserID)
        item.optional("account_id", accountID)
        item.appendCustomFields(customFields)
        for lead in linkedLeadIDs { item.append(["linked_leads_id", String(lead), "ID"], String(lead)) }
        item.optional("old_responsible_user_id", oldResponsibleUserID)
        item.optional("created_at", createdAt)
        item.optional("updated_at", updatedAt)
        item.optional("type", type)
        return item
    }

    /// A company edit as Kommo sends it: a contact item with `type=company`, under the `contacts` section.
    public static func company(
        id: Int64, name: String? = nil, responsibleUserID: Int64? = nil, dateCreate: Int? = nil,
        lastModified: Int? = nil, createdUserID: Int64? = nil, modifiedUserID: Int64? = nil, accountID: Int64? = nil,
        customFields: [CustomField] = [], linkedLeadIDs: [Int64] = [], createdAt: Int? = nil, updatedAt: Int? = nil
    ) -> KommoWebhookItem {
        contact(id: id, name: name, responsibleUserID: responsibleUserID, dateCreate: dateCreate,
                lastModified: lastModified, createdUserID: createdUserID, modifiedUserID: modifiedUserID,
                accountID: accountID, customFields: customFields, linkedLeadIDs: linkedLeadIDs, createdAt: createdAt,
                updatedAt: updatedAt, type: "company")
    }

    /// A note item (`leads[note][i][note][…]`) with the given note fields in order.
    public static func note(_ fields: KeyValuePairs<String, String>) -> KommoWebhookItem {
        KommoWebhookItem(fields: fields.map { Field(["note", $0.key], $0.value) })
    }

    private mutating func optional(_ key: String, _ value: Int?) {
        if let value { append([key], String(value)) }
    }

    private mutating func optional(_ key: String, _ value: Int64?) {
        if let value { append([key], String(value)) }
    }

    private mutating func optional(_ key: String, _ value: String?) {
        if let value { append([key], value) }
    }

    private mutating func appendCustomFields(_ customFields: [CustomField]) {
        for (index, field) in customFields.enumerated() {
            let prefix = ["custom_fields", String(index)]
            append(prefix + ["id"], String(field.id))
            append(prefix + ["name"], field.name)
            for value in field.values.fields { append(prefix + value.path, value.value) }
            if let code = field.code { append(prefix + ["code"], code) }
        }
    }
}
