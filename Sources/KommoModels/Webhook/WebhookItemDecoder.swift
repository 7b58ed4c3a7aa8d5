import Foundation
import JSONCore

/// Reads the account block and the typed items out of a decoded form tree.
struct WebhookItemDecoder {
    let tree: WebhookFormTree

    private struct SectionKey: Hashable {
        var entity: String
        var action: String?
    }

    // MARK: Account

    /// The account block, with the account id found in this order: `account[id]`; else the items' `account_id`
    /// (which must all be equal); else `account[subdomain]` (or the host of `account[_links][self]`) matched
    /// against `knownAccounts`.
    func account(knownAccounts: [KommoWebhookParser.KnownAccount]) throws(KommoWebhookError) -> KommoWebhookAccount {
        let accountNode = tree.child(WebhookFormTree.root, "account").flatMap { tree.isLeaf($0) ? nil : $0 }
        let subdomain = accountNode.flatMap { tree.leaf($0, "subdomain") }.flatMap { $0.isEmpty ? nil : $0 }
        let links = accountNode.flatMap { tree.child($0, "_links") }
        let baseURL = links.flatMap { tree.leaf($0, "self") }.flatMap(WebhookScalar.httpURL)
        let id: Int64
        let source: KommoWebhookAccount.IDSource
        if let idNode = accountNode.flatMap({ tree.child($0, "id") }) {
            guard let value = WebhookScalar.int64(tree.leafBytes(idNode)) else {
                throw KommoWebhookError(code: .invalidAccountID, path: "account[id]",
                                        detail: "account[id] is not a whole non-negative number")
            }
            (id, source) = (value, .accountBlock)
        } else if let value = try itemAccountID() {
            (id, source) = (value, .items)
        } else if let subdomain {
            (id, source) = (try Self.match(subdomain: subdomain, baseURL: baseURL, in: knownAccounts), .subdomain)
        } else {
            throw KommoWebhookError(code: .missingAccountID, path: "account[id]",
                                    detail: "no account was found: the body has no account[id], no account_id on "
                                        + "its items and no account[subdomain]")
        }
        guard let subdomain else {
            throw KommoWebhookError(code: .missingAccountSubdomain, path: "account[subdomain]",
                                    detail: "account[subdomain] is absent or empty")
        }
        return KommoWebhookAccount(id: id, subdomain: subdomain, baseURL: baseURL, idSource: source)
    }

    /// The `account_id` that every item carrying one agrees on (a note's may sit under its `[note]`), or `nil` if no
    /// item carries one.
    private func itemAccountID() throws(KommoWebhookError) -> Int64? {
        var found: (id: Int64, path: String)?
        for appearance in tree.appearances where appearance.entity != "account" {
            guard let action = appearance.action,
                  let actionNode = tree.child(WebhookFormTree.root, appearance.entity).flatMap({ tree.child($0, action) })
            else { continue }
            for itemNode in tree.children(actionNode) {
                let note = tree.child(itemNode, "note")
                guard let idNode = tree.child(itemNode, "account_id") ?? note.flatMap({ tree.child($0, "account_id") })
                else { continue }
                let path = "\(appearance.entity)[\(action)][\(tree.key(itemNode))][account_id]"
                guard let id = WebhookScalar.int64(tree.leafBytes(idNode)) else {
                    throw KommoWebhookError(code: .invalidAccountID, path: path,
                                            detail: "an item's account_id is not a whole non-negative number")
                }
                if let found, found.id != id {
                    throw KommoWebhookError(code: .conflictingAccountIDs, path: path,
                                            detail: "the body has no account[id] and its items name different "
                                                + "accounts (first at \(found.path))")
                }
                if found == nil { found = (id, path) }
            }
        }
        return found?.id
    }

    /// The one known account whose host is that of `baseURL`, else whose host's first label is `subdomain`.
    private static func match(
        subdomain: String, baseURL: URL?, in knownAccounts: [KommoWebhookParser.KnownAccount]
    ) throws(KommoWebhookError) -> Int64 {
        let linkHost = baseURL?.host?.lowercased()
        var matches = Set(knownAccounts.filter { $0.host == linkHost }.map(\.id))
        if matches.isEmpty {
            let label = subdomain.lowercased()
            matches = Set(knownAccounts.filter { $0.host.split(separator: ".").first.map(String.init) == label }
                .map(\.id))
        }
        guard matches.count <= 1 else {
            throw KommoWebhookError(code: .ambiguousAccount, path: "account[subdomain]",
                                    detail: "the body has no account[id] and no account_id on its items, and its "
                                        + "account[subdomain] matches \(matches.count) of the accounts served")
        }
        guard let id = matches.first else {
            throw KommoWebhookError(code: .missingAccountID, path: "account[subdomain]",
                                    detail: "no account was found: the body has no account[id] and no account_id on "
                                        + "its items, and its account[subdomain] matches none of the "
                                        + "\(knownAccounts.count) accounts served")
        }
        return id
    }

    // MARK: Events

    func events(maxItems: Int) throws(KommoWebhookError) -> [KommoWebhookEvent] {
        var events: [KommoWebhookEvent] = []
        // A section is read at its first appearance only. The few sections of a real body are compared with the
        // ones before; a body of many is deduplicated by hashing, so that it costs no more per section.
        let appearances = tree.appearances
        let hashing = appearances.count > 16
        var seen = Set<SectionKey>()
        for (position, appearance) in appearances.enumerated() where appearance.entity != "account" {
            let first = hashing
                ? seen.insert(SectionKey(entity: appearance.entity, action: appearance.action)).inserted
                : !appearances[..<position].contains { $0.entity == appearance.entity && $0.action == appearance.action }
            guard first, let entityNode = tree.child(WebhookFormTree.root, appearance.entity) else { continue }
            let section = KommoWebhookSection(rawValue: appearance.entity)
            guard let actionKey = appearance.action else {
                // A bare `name=value` at the top level; a map here is reported through its actions instead.
                if let leaf = tree.leaf(entityNode) {
                    try append(.unknown(UnknownWebhookItem(section: section, raw: .string(leaf))), to: &events,
                               maxItems: maxItems)
                }
                continue
            }
            // The action may have been replaced by a later leaf at the entity level (last assignment wins).
            guard let actionNode = tree.child(entityNode, actionKey) else { continue }
            let action = KommoWebhookAction(rawValue: actionKey)
            if let leaf = tree.leaf(actionNode) {
                try append(.unknown(UnknownWebhookItem(section: section, action: action, raw: .string(leaf))),
                           to: &events, maxItems: maxItems)
                continue
            }
            for itemNode in tree.orderedChildren(actionNode) {
                if events.count >= maxItems { throw KommoWebhookError.tooManyItems(maxItems) }
                let item = Item(tree: tree, node: itemNode, section: appearance.entity, action: actionKey)
                events.append(try event(section: section, action: action, item: item))
            }
        }
        return events
    }

    private func append(
        _ event: KommoWebhookEvent, to events: inout [KommoWebhookEvent], maxItems: Int
    ) throws(KommoWebhookError) {
        if events.count >= maxItems { throw KommoWebhookError.tooManyItems(maxItems) }
        events.append(event)
    }

    private func event(
        section: KommoWebhookSection, action: KommoWebhookAction, item: Item
    ) throws(KommoWebhookError) -> KommoWebhookEvent {
        switch section {
        case .leads where action == .note:
            return .note(try note(section: section, item: item))
        case .leads:
            return .lead(try lead(action: action, item: item))
        case .contacts where action == .note:
            return .note(try note(section: section, item: item))
        case .contacts:
            switch item.string(.type).map(KommoWebhookEntityType.init(rawValue:)) {
            case nil, .contact?:
                return .contact(try entity(type: .contact, action: action, item: item))
            case .company?:
                return .company(try entity(type: .company, action: action, item: item))
            default:
                break
            }
        default:
            break
        }
        return .unknown(UnknownWebhookItem(section: section, action: action, index: tree.key(item.node),
                                           raw: tree.json(item.node)))
    }

    // MARK: Items

    private func lead(action: KommoWebhookAction, item: Item) throws(KommoWebhookError) -> LeadEvent {
        LeadEvent(
            action: action, id: try item.id(),
            name: item.string(.name),
            statusID: item.int64(.statusID), pipelineID: item.int64(.pipelineID),
            oldStatusID: item.int64(.oldStatusID), oldPipelineID: item.int64(.oldPipelineID),
            price: WebhookScalar.decimal(item.bytes(.price)),
            priceWithMinorUnits: WebhookScalar.decimal(item.bytes(.priceWithMinorUnits)),
            responsibleUserID: item.int64(.responsibleUserID),
            oldResponsibleUserID: item.int64(.oldResponsibleUserID),
            createdUserID: item.int64(.createdUserID), modifiedUserID: item.int64(.modifiedUserID),
            accountID: item.int64(.accountID),
            lastModified: item.date(.lastModified), dateCreate: item.date(.dateCreate),
            createdAt: item.date(.createdAt), updatedAt: item.date(.updatedAt),
            tags: tags(item[.tags]), customFields: customFields(item[.customFields])
        )
    }

    private func entity(
        type: KommoWebhookEntityType, action: KommoWebhookAction, item: Item
    ) throws(KommoWebhookError) -> EntityEvent {
        EntityEvent(
            entityType: type, action: action, id: try item.id(),
            name: item.string(.name),
            responsibleUserID: item.int64(.responsibleUserID),
            oldResponsibleUserID: item.int64(.oldResponsibleUserID),
            createdUserID: item.int64(.createdUserID), modifiedUserID: item.int64(.modifiedUserID),
            accountID: item.int64(.accountID),
            dateCreate: item.date(.dateCreate), lastModified: item.date(.lastModified),
            createdAt: item.date(.createdAt), updatedAt: item.date(.updatedAt),
            customFields: customFields(item[.customFields]), tags: tags(item[.tags]),
            linkedLeadIDs: linkedLeadIDs(item[.linkedLeadsID]),
            linkedCompanyID: item.int64(.linkedCompanyID), companyName: item.string(.companyName),
            unknownFields: unknownFields(item, known: Self.entityFields)
        )
    }

    /// The fields ``entity(type:action:item:)`` reads into named properties.
    private static let entityFields: Set<ItemField> = [
        .id, .type, .name, .responsibleUserID, .oldResponsibleUserID, .createdUserID, .modifiedUserID, .accountID,
        .dateCreate, .lastModified, .createdAt, .updatedAt, .customFields, .tags, .linkedLeadsID, .linkedCompanyID,
        .companyName,
    ]

    /// The item's fields that are not in `known`, as decoded subtrees.
    private func unknownFields(_ item: Item, known: Set<ItemField>) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        for child in tree.children(item.node) {
            if let field = ItemField.matching(tree, child), known.contains(field) { continue }
            fields[tree.key(child)] = tree.json(child)
        }
        return fields
    }

    private func note(section: KommoWebhookSection, item: Item) throws(KommoWebhookError) -> NoteEvent {
        // The note's fields sit under `[note]`; accept them directly on the item too.
        let note = item[.note].flatMap { tree.isLeaf($0) ? nil : $0 }
            .map { Item(tree: tree, node: $0, section: item.section, action: item.action, itemNode: item.node) }
            ?? item
        return NoteEvent(
            section: section, entityType: item.string(.type).map(KommoWebhookEntityType.init(rawValue:)),
            id: try note.id(), text: note.string(.text),
            noteType: note.int64(.noteType).flatMap { Int(exactly: $0) },
            elementType: note.int64(.elementType).flatMap { Int(exactly: $0) },
            elementID: note.int64(.elementID), createdBy: note.int64(.createdBy),
            modifiedBy: note.int64(.modifiedBy), mainUserID: note.int64(.mainUserID),
            attachment: note.string(.attachement) ?? note.string(.attachment),
            dateCreate: note.string(.dateCreate), timestampX: note.string(.timestampX),
            createdAt: note.date(.createdAt), updatedAt: note.date(.updatedAt),
            metadata: note.string(.metadata), accountID: note.int64(.accountID)
        )
    }

    // MARK: Nested lists

    /// `tags[i][id]`/`tags[i][name]`; a bare `tags[i]=name` is a tag without id; entries with neither are skipped.
    private func tags(_ node: Int?) -> [WebhookTag] {
        guard let node else { return [] }
        if let leaf = tree.leaf(node) { return leaf.isEmpty ? [] : [WebhookTag(name: leaf)] }
        var tags: [WebhookTag] = []
        for child in tree.orderedChildren(node) {
            if let leaf = tree.leaf(child) {
                tags.append(WebhookTag(name: leaf))
                continue
            }
            let id = WebhookScalar.int64(tree.child(child, "id").flatMap(tree.leafBytes))
            let name = tree.leaf(child, "name")
            if id != nil || name != nil { tags.append(WebhookTag(id: id, name: name ?? "")) }
        }
        return tags
    }

    /// `custom_fields[i][…]`; a field without a numeric `id` is skipped (it cannot be matched).
    private func customFields(_ node: Int?) -> [WebhookCustomField] {
        guard let node else { return [] }
        var fields: [WebhookCustomField] = []
        for child in tree.orderedChildren(node) {
            guard let id = WebhookScalar.int64(tree.child(child, "id").flatMap(tree.leafBytes)) else { continue }
            fields.append(WebhookCustomField(id: id, name: tree.leaf(child, "name"), code: tree.leaf(child, "code"),
                                             values: values(tree.child(child, "values"))))
        }
        return fields
    }

    /// The three shapes of `values`: a list of `{value, enum}` objects, a list of bare scalars, or one keyed
    /// object (`values[value]`, `values[enum]`). A bare `values=x` is one value too.
    private func values(_ node: Int?) -> [WebhookCustomFieldValue] {
        guard let node else { return [] }
        if let leaf = tree.leaf(node) { return [WebhookCustomFieldValue(value: leaf)] }
        if tree.child(node, "value") != nil || tree.child(node, "enum") != nil {
            return value(object: node).map { [$0] } ?? []
        }
        var values: [WebhookCustomFieldValue] = []
        for child in tree.orderedChildren(node) {
            if let leaf = tree.leaf(child) {
                values.append(WebhookCustomFieldValue(value: leaf))
            } else if let value = value(object: child) {
                values.append(value)
            }
        }
        return values
    }

    private func value(object node: Int) -> WebhookCustomFieldValue? {
        let valueNode = tree.child(node, "value")
        let enumNode = tree.child(node, "enum").flatMap { tree.isLeaf($0) ? $0 : nil }
            ?? tree.child(node, "enum_id")
        let enumID = WebhookScalar.int64(enumNode.flatMap(tree.leafBytes))
        guard let valueNode else {
            return enumID.map { WebhookCustomFieldValue(value: "", enumID: $0) }
        }
        let text = tree.leaf(valueNode) ?? tree.json(valueNode).description
        return WebhookCustomFieldValue(value: text, enumID: enumID)
    }

    /// `linked_leads_id[<lead id>][ID]=<lead id>`; the key is used when the inner value is missing.
    private func linkedLeadIDs(_ node: Int?) -> [Int64] {
        guard let node, !tree.isLeaf(node) else { return [] }
        var ids: [Int64] = []
        for child in tree.orderedChildren(node) {
            let text = tree.leaf(child) ?? tree.leaf(child, "ID") ?? tree.leaf(child, "id") ?? tree.key(child)
            if let id = WebhookScalar.int64(text) { ids.append(id) }
        }
        return ids
    }
}

/// The keys items are read by. One pass over an item's children finds them all (``Item``), instead of one walk of
/// the children per field.
private enum ItemField: Int, CaseIterable {
    case id, type, name, statusID, pipelineID, oldStatusID, oldPipelineID, price, priceWithMinorUnits
    case responsibleUserID, oldResponsibleUserID, createdUserID, modifiedUserID, accountID
    case lastModified, dateCreate, createdAt, updatedAt, tags, customFields
    case linkedLeadsID, linkedCompanyID, companyName
    case note, text, noteType, elementType, elementID, createdBy, modifiedBy, mainUserID, attachement, attachment
    case timestampX, metadata

    /// The key as Kommo sends it.
    var key: String {
        switch self {
        case .id: "id"
        case .type: "type"
        case .name: "name"
        case .statusID: "status_id"
        case .pipelineID: "pipeline_id"
        case .oldStatusID: "old_status_id"
        case .oldPipelineID: "old_pipeline_id"
        case .price: "price"
        case .priceWithMinorUnits: "price_with_minor_units"
        case .responsibleUserID: "responsible_user_id"
        case .oldResponsibleUserID: "old_responsible_user_id"
        case .createdUserID: "created_user_id"
        case .modifiedUserID: "modified_user_id"
        case .accountID: "account_id"
        case .lastModified: "last_modified"
        case .dateCreate: "date_create"
        case .createdAt: "created_at"
        case .updatedAt: "updated_at"
        case .tags: "tags"
        case .customFields: "custom_fields"
        case .linkedLeadsID: "linked_leads_id"
        case .linkedCompanyID: "linked_company_id"
        case .companyName: "company_name"
        case .note: "note"
        case .text: "text"
        case .noteType: "note_type"
        case .elementType: "element_type"
        case .elementID: "element_id"
        case .createdBy: "created_by"
        case .modifiedBy: "modified_by"
        case .mainUserID: "main_user_id"
        case .attachement: "attachement"
        case .attachment: "attachment"
        case .timestampX: "timestamp_x"
        case .metadata: "metadata"
        }
    }

    /// The fields by the length of their key, as the bytes of the key: a child's key is compared only with the
    /// keys of its own length.
    static let byLength: [[(field: ItemField, key: [UInt8])]] = {
        var table: [[(field: ItemField, key: [UInt8])]] = []
        for field in allCases {
            let bytes = Array(field.key.utf8)
            while table.count <= bytes.count { table.append([]) }
            table[bytes.count].append((field: field, key: bytes))
        }
        return table
    }()

    /// The field whose key is that of `node`, if any.
    static func matching(_ tree: WebhookFormTree, _ node: Int) -> ItemField? {
        let length = tree.nodes[node].keyCount
        guard length < byLength.count else { return nil }
        for candidate in byLength[length] {
            let equal = candidate.key.withUnsafeBufferPointer { tree.key(node, equals: $0) }
            if equal { return candidate.field }
        }
        return nil
    }
}

/// One item's fields, found in one pass over its children, with what its bracket path for errors is made of (made
/// only for an error: building it for every item cost a tenth of a parse).
private struct Item {
    let tree: WebhookFormTree
    let node: Int
    let section: String
    let action: String
    /// The item's own node when these are the fields under its `[note]`, else -1.
    let itemNode: Int
    /// The child of ``node`` for each ``ItemField``, by its raw value; -1 where there is none.
    private let slots: [Int]

    init(tree: WebhookFormTree, node: Int, section: String, action: String, itemNode: Int = -1) {
        self.tree = tree
        self.node = node
        self.section = section
        self.action = action
        self.itemNode = itemNode
        var slots = [Int](repeating: -1, count: ItemField.allCases.count)
        for child in tree.children(node) {
            if let field = ItemField.matching(tree, child) { slots[field.rawValue] = child }
        }
        self.slots = slots
    }

    /// `section[action][index]`, then `[note]` for a note's inner fields.
    var path: String {
        itemNode >= 0 ? "\(section)[\(action)][\(tree.key(itemNode))][note]" : "\(section)[\(action)][\(tree.key(node))]"
    }

    /// The child for `field`, if the item has it.
    subscript(_ field: ItemField) -> Int? {
        let child = slots[field.rawValue]
        return child >= 0 ? child : nil
    }

    func bytes(_ field: ItemField) -> UnsafeBufferPointer<UInt8>? { self[field].flatMap(tree.leafBytes) }
    func string(_ field: ItemField) -> String? { self[field].flatMap { tree.leaf($0) } }
    func int64(_ field: ItemField) -> Int64? { WebhookScalar.int64(bytes(field)) }
    func date(_ field: ItemField) -> Date? { WebhookScalar.date(bytes(field)) }

    /// The item's `id`, which must be present and numeric.
    func id() throws(KommoWebhookError) -> Int64 {
        guard let idNode = self[.id] else {
            throw KommoWebhookError(code: .missingItemID, path: path + "[id]", detail: "the item has no id")
        }
        guard let id = WebhookScalar.int64(tree.leafBytes(idNode)) else {
            throw KommoWebhookError(code: .invalidItemID, path: path + "[id]",
                                    detail: "the item's id is not a whole non-negative number")
        }
        return id
    }
}

/// Strict readers for the string leaves of a webhook: anything that does not fit is `nil`.
enum WebhookScalar {
    private static let posix = Locale(identifier: "en_US_POSIX")

    /// A run of 1 to 19 ASCII digits that fits in `Int64` (no sign, no spaces).
    static func int64(_ text: String?) -> Int64? {
        guard var text else { return nil }
        return text.withUTF8 { int64($0) }
    }

    /// A run of 1 to 19 ASCII digits that fits in `Int64` (no sign, no spaces), read from UTF-8 bytes.
    static func int64(_ bytes: UnsafeBufferPointer<UInt8>?) -> Int64? {
        guard let bytes, !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(Int64(byte - 0x30))
            if overflowTimes || overflowSum { return nil }
            value = sum
        }
        return value
    }

    /// Unix seconds as a date.
    static func date(_ bytes: UnsafeBufferPointer<UInt8>?) -> Date? {
        int64(bytes).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// A plain decimal number: optional `-`, digits, optionally `.` and digits; at most 40 characters.
    static func decimal(_ text: UnsafeBufferPointer<UInt8>?) -> Decimal? {
        guard let text, text.count <= 40 else { return nil }
        var bytes = text[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let isDigit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
        let whole = bytes.prefix(while: isDigit)
        guard !whole.isEmpty else { return nil }
        let rest = bytes.dropFirst(whole.count)
        if !rest.isEmpty {
            let fraction = rest.dropFirst()
            guard rest.first == UInt8(ascii: "."), !fraction.isEmpty, fraction.allSatisfy(isDigit) else { return nil }
        }
        // Whole numbers of up to 18 digits (most prices) without Foundation's parser; the same value.
        if rest.isEmpty, whole.count <= 18 {
            var magnitude: Int64 = 0
            for digit in whole { magnitude = magnitude * 10 + Int64(digit - 0x30) }
            return Decimal(bytes.count == text.count ? magnitude : -magnitude)
        }
        guard let value = Decimal(string: String(decoding: text, as: UTF8.self), locale: posix), !value.isNaN else {
            return nil
        }
        return value
    }

    /// An absolute `http` or `https` URL with a host.
    static func httpURL(_ text: String) -> URL? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else { return nil }
        return url
    }
}
