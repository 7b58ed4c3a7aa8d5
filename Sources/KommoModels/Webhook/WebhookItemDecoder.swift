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
        let accountNode = tree.child(WebhookFormTree.root, "account").flatMap { tree.leaf($0) == nil ? $0 : nil }
        let subdomain = accountNode.flatMap { tree.leaf($0, "subdomain") }.flatMap { $0.isEmpty ? nil : $0 }
        let links = accountNode.flatMap { tree.child($0, "_links") }
        let baseURL = links.flatMap { tree.leaf($0, "self") }.flatMap(WebhookScalar.httpURL)
        let id: Int64
        let source: KommoWebhookAccount.IDSource
        if let idNode = accountNode.flatMap({ tree.child($0, "id") }) {
            guard let value = WebhookScalar.int64(tree.leaf(idNode)) else {
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
            for (index, itemNode) in tree.children(actionNode) {
                let note = tree.child(itemNode, "note")
                guard let idNode = tree.child(itemNode, "account_id") ?? note.flatMap({ tree.child($0, "account_id") })
                else { continue }
                let path = "\(appearance.entity)[\(action)][\(index)][account_id]"
                guard let id = WebhookScalar.int64(tree.leaf(idNode)) else {
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
        var seen = Set<SectionKey>()
        for appearance in tree.appearances where appearance.entity != "account" {
            guard seen.insert(SectionKey(entity: appearance.entity, action: appearance.action)).inserted,
                  let entityNode = tree.child(WebhookFormTree.root, appearance.entity) else { continue }
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
            for (index, itemNode) in tree.orderedChildren(actionNode) {
                if events.count >= maxItems { throw KommoWebhookError.tooManyItems(maxItems) }
                let item = Item(tree: tree, node: itemNode, section: appearance.entity, action: actionKey,
                                index: index)
                events.append(try event(section: section, action: action, index: index, item: item))
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
        section: KommoWebhookSection, action: KommoWebhookAction, index: String, item: Item
    ) throws(KommoWebhookError) -> KommoWebhookEvent {
        switch section {
        case .leads where action == .note:
            return .note(try note(section: section, item: item))
        case .leads:
            return .lead(try lead(action: action, item: item))
        case .contacts where action == .note:
            return .note(try note(section: section, item: item))
        case .contacts:
            switch item.string("type").map(KommoWebhookEntityType.init(rawValue:)) {
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
        return .unknown(UnknownWebhookItem(section: section, action: action, index: index,
                                           raw: tree.json(item.node)))
    }

    // MARK: Items

    private func lead(action: KommoWebhookAction, item: Item) throws(KommoWebhookError) -> LeadEvent {
        LeadEvent(
            action: action, id: try item.id(),
            name: item.string("name"),
            statusID: item.int64("status_id"), pipelineID: item.int64("pipeline_id"),
            oldStatusID: item.int64("old_status_id"), oldPipelineID: item.int64("old_pipeline_id"),
            price: WebhookScalar.decimal(item.string("price")),
            priceWithMinorUnits: WebhookScalar.decimal(item.string("price_with_minor_units")),
            responsibleUserID: item.int64("responsible_user_id"),
            oldResponsibleUserID: item.int64("old_responsible_user_id"),
            createdUserID: item.int64("created_user_id"), modifiedUserID: item.int64("modified_user_id"),
            accountID: item.int64("account_id"),
            lastModified: item.date("last_modified"), dateCreate: item.date("date_create"),
            createdAt: item.date("created_at"), updatedAt: item.date("updated_at"),
            tags: tags(item), customFields: customFields(item)
        )
    }

    private func entity(
        type: KommoWebhookEntityType, action: KommoWebhookAction, item: Item
    ) throws(KommoWebhookError) -> EntityEvent {
        EntityEvent(
            entityType: type, action: action, id: try item.id(),
            name: item.string("name"),
            responsibleUserID: item.int64("responsible_user_id"),
            oldResponsibleUserID: item.int64("old_responsible_user_id"),
            createdUserID: item.int64("created_user_id"), modifiedUserID: item.int64("modified_user_id"),
            accountID: item.int64("account_id"),
            dateCreate: item.date("date_create"), lastModified: item.date("last_modified"),
            createdAt: item.date("created_at"), updatedAt: item.date("updated_at"),
            customFields: customFields(item), tags: tags(item), linkedLeadIDs: linkedLeadIDs(item),
            linkedCompanyID: item.int64("linked_company_id"), companyName: item.string("company_name"),
            unknownFields: unknownFields(item, known: Self.entityKeys)
        )
    }

    /// The keys ``entity(type:action:item:)`` reads into named fields.
    private static let entityKeys: Set<String> = [
        "id", "type", "name", "responsible_user_id", "old_responsible_user_id", "created_user_id", "modified_user_id",
        "account_id", "date_create", "last_modified", "created_at", "updated_at", "custom_fields", "tags",
        "linked_leads_id", "linked_company_id", "company_name",
    ]

    /// The item's fields whose keys are not in `known`, as decoded subtrees.
    private func unknownFields(_ item: Item, known: Set<String>) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        for (key, child) in tree.children(item.node) where !known.contains(key) {
            fields[key] = tree.json(child)
        }
        return fields
    }

    private func note(section: KommoWebhookSection, item: Item) throws(KommoWebhookError) -> NoteEvent {
        // The note's fields sit under `[note]`; accept them directly on the item too.
        let note = tree.child(item.node, "note").flatMap { tree.leaf($0) == nil ? $0 : nil }
            .map { Item(tree: tree, node: $0, section: item.section, action: item.action, index: item.index,
                        isNote: true) } ?? item
        return NoteEvent(
            section: section, entityType: item.string("type").map(KommoWebhookEntityType.init(rawValue:)),
            id: try note.id(), text: note.string("text"),
            noteType: note.int64("note_type").flatMap { Int(exactly: $0) },
            elementType: note.int64("element_type").flatMap { Int(exactly: $0) },
            elementID: note.int64("element_id"), createdBy: note.int64("created_by"),
            modifiedBy: note.int64("modified_by"), mainUserID: note.int64("main_user_id"),
            attachment: note.string("attachement") ?? note.string("attachment"),
            dateCreate: note.string("date_create"), timestampX: note.string("timestamp_x"),
            createdAt: note.date("created_at"), updatedAt: note.date("updated_at"),
            metadata: note.string("metadata"), accountID: note.int64("account_id")
        )
    }

    // MARK: Nested lists

    /// `tags[i][id]`/`tags[i][name]`; a bare `tags[i]=name` is a tag without id; entries with neither are skipped.
    private func tags(_ item: Item) -> [WebhookTag] {
        guard let node = tree.child(item.node, "tags") else { return [] }
        if let leaf = tree.leaf(node) { return leaf.isEmpty ? [] : [WebhookTag(name: leaf)] }
        var tags: [WebhookTag] = []
        for (_, child) in tree.orderedChildren(node) {
            if let leaf = tree.leaf(child) {
                tags.append(WebhookTag(name: leaf))
                continue
            }
            let id = WebhookScalar.int64(tree.leaf(child, "id"))
            let name = tree.leaf(child, "name")
            if id != nil || name != nil { tags.append(WebhookTag(id: id, name: name ?? "")) }
        }
        return tags
    }

    /// `custom_fields[i][…]`; a field without a numeric `id` is skipped (it cannot be matched).
    private func customFields(_ item: Item) -> [WebhookCustomField] {
        guard let node = tree.child(item.node, "custom_fields") else { return [] }
        var fields: [WebhookCustomField] = []
        for (_, child) in tree.orderedChildren(node) {
            guard let id = WebhookScalar.int64(tree.leaf(child, "id")) else { continue }
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
        for (_, child) in tree.orderedChildren(node) {
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
        let enumID = WebhookScalar.int64(tree.leaf(node, "enum") ?? tree.leaf(node, "enum_id"))
        guard let valueNode else {
            return enumID.map { WebhookCustomFieldValue(value: "", enumID: $0) }
        }
        let text = tree.leaf(valueNode) ?? tree.json(valueNode).description
        return WebhookCustomFieldValue(value: text, enumID: enumID)
    }

    /// `linked_leads_id[<lead id>][ID]=<lead id>`; the key is used when the inner value is missing.
    private func linkedLeadIDs(_ item: Item) -> [Int64] {
        guard let node = tree.child(item.node, "linked_leads_id"), tree.leaf(node) == nil else { return [] }
        var ids: [Int64] = []
        for (key, child) in tree.orderedChildren(node) {
            let text = tree.leaf(child) ?? tree.leaf(child, "ID") ?? tree.leaf(child, "id") ?? key
            if let id = WebhookScalar.int64(text) { ids.append(id) }
        }
        return ids
    }
}

/// One item's fields, with what its bracket path for errors is made of (made only for an error: building it for
/// every item cost a tenth of a parse).
private struct Item {
    let tree: WebhookFormTree
    let node: Int
    let section: String
    let action: String
    let index: String
    /// Whether the fields are those under the item's `[note]`.
    var isNote = false

    /// `section[action][index]`, then `[note]` for a note's inner fields.
    var path: String { "\(section)[\(action)][\(index)]" + (isNote ? "[note]" : "") }

    func string(_ key: String) -> String? { tree.leaf(node, key) }
    func int64(_ key: String) -> Int64? { WebhookScalar.int64(string(key)) }
    func date(_ key: String) -> Date? { WebhookScalar.date(string(key)) }

    /// The item's `id`, which must be present and numeric.
    func id() throws(KommoWebhookError) -> Int64 {
        guard let idNode = tree.child(node, "id") else {
            throw KommoWebhookError(code: .missingItemID, path: path + "[id]", detail: "the item has no id")
        }
        guard let id = WebhookScalar.int64(tree.leaf(idNode)) else {
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
        guard let text, !text.isEmpty, text.utf8.count <= 19,
              text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(text)
    }

    /// Unix seconds as a date.
    static func date(_ text: String?) -> Date? {
        int64(text).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// A plain decimal number: optional `-`, digits, optionally `.` and digits; at most 40 characters.
    static func decimal(_ text: String?) -> Decimal? {
        guard let text, text.utf8.count <= 40 else { return nil }
        var bytes = text.utf8[...]
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
            return Decimal(bytes.count == text.utf8.count ? magnitude : -magnitude)
        }
        guard let value = Decimal(string: text, locale: posix), !value.isNaN else {
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
