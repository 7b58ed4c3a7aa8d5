import Foundation
import JSONCore

/// One Kommo webhook request, decoded: the account it came from and every item it carried, in order.
///
/// Produced by ``KommoWebhookParser/parse(body:contentType:)``. A single request may carry several sections
/// (`leads[update]` and `leads[status]`, or leads and contacts) and several items per section; all of them are in
/// ``events``. Delivery is at-least-once and may be out of order, so de-duplicate downstream.
public struct KommoWebhook: Sendable, Hashable {
    /// The Kommo account that sent the hook (`account[…]`).
    public var account: KommoWebhookAccount
    /// Every item of every section: sections in the order they first appear in the body, items of a section in
    /// ascending index order.
    public var events: [KommoWebhookEvent]

    /// Creates a decoded webhook.
    public init(account: KommoWebhookAccount, events: [KommoWebhookEvent]) {
        self.account = account
        self.events = events
    }
}

/// The `account[…]` block of a webhook.
public struct KommoWebhookAccount: Sendable, Hashable {
    /// The account id: `account[id]`, else the items' `account_id`, else the known account whose host matches
    /// `account[subdomain]` (``idSource`` says which).
    public var id: Int64
    /// The account subdomain (`account[subdomain]`), e.g. `acme` for `acme.kommo.com`. Subdomains can change;
    /// prefer ``id`` for identity.
    public var subdomain: String
    /// The account's base URL (`account[_links][self]`), e.g. `https://acme.kommo.com`; may be an `amocrm.com` or
    /// `amocrm.ru` host. `nil` when absent (Digital Pipeline hooks omit it) or not an absolute `http(s)` URL.
    public var baseURL: URL?

    /// Where ``id`` was found.
    public var idSource: IDSource

    /// Where a webhook's account id was found.
    public enum IDSource: String, Sendable, Hashable {
        /// `account[id]`, which current Kommo webhooks carry.
        case accountBlock
        /// The items' `account_id`, all equal: older amoCRM webhooks have no `account[id]`.
        case items
        /// `account[subdomain]` (or the host of `account[_links][self]`) matched against
        /// ``KommoWebhookParser/knownAccounts``.
        case subdomain
    }

    /// Creates an account block.
    public init(id: Int64, subdomain: String, baseURL: URL? = nil, idSource: IDSource = .accountBlock) {
        self.id = id
        self.subdomain = subdomain
        self.baseURL = baseURL
        self.idSource = idSource
    }
}

/// One item of a webhook, typed by the section it came from.
public enum KommoWebhookEvent: Sendable, Hashable {
    /// A lead item (`leads[add|update|delete|restore|status|responsible|…][i]`).
    case lead(LeadEvent)
    /// A contact item (`contacts[…][i]` with `type=contact`, or with no `type`).
    case contact(EntityEvent)
    /// A company item. Kommo sends companies under `contacts[…][i]` with `type=company`, never `companies[…]`.
    case company(EntityEvent)
    /// A note added to a lead, contact or company (`leads[note][i][note][…]`, `contacts[note][i][note][…]`).
    case note(NoteEvent)
    /// Anything else (tasks, unsorted, customers, talks, a contact item of an unknown `type`…), kept verbatim.
    case unknown(UnknownWebhookItem)

    /// The section the item came from (`leads`, `contacts`, `task`…).
    public var section: KommoWebhookSection {
        switch self {
        case .lead: .leads
        case .contact, .company: .contacts
        case .note(let note): note.section
        case .unknown(let item): item.section
        }
    }

    /// The action the item was filed under (`status`, `update`…), or `nil` for a bare unknown section.
    public var action: KommoWebhookAction? {
        switch self {
        case .lead(let lead): lead.action
        case .contact(let entity), .company(let entity): entity.action
        case .note: .note
        case .unknown(let item): item.action
        }
    }

    /// The id of the lead, contact, company or note; `nil` for unknown items.
    public var entityID: Int64? {
        switch self {
        case .lead(let lead): lead.id
        case .contact(let entity), .company(let entity): entity.id
        case .note(let note): note.id
        case .unknown: nil
        }
    }
}

/// The top-level key of a webhook section (`leads`, `contacts`, `task`…), as an open set.
///
/// Sections the parser does not model arrive as ``KommoWebhookEvent/unknown(_:)`` with their name kept here.
public struct KommoWebhookSection: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The key as it appears in the body.
    public let rawValue: String
    /// Creates a section from its key.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `leads[…]`.
    public static let leads = KommoWebhookSection(rawValue: "leads")
    /// `contacts[…]`, which also carries companies (`type=company`).
    public static let contacts = KommoWebhookSection(rawValue: "contacts")
    /// `customers[…]` (amoCRM customers; not modelled).
    public static let customers = KommoWebhookSection(rawValue: "customers")
    /// `task[…]` (singular; not modelled).
    public static let task = KommoWebhookSection(rawValue: "task")
    /// `unsorted[…]`, incoming leads (not modelled).
    public static let unsorted = KommoWebhookSection(rawValue: "unsorted")
    /// `talk[…]` (not modelled).
    public static let talk = KommoWebhookSection(rawValue: "talk")
    /// `message[…]` (not modelled).
    public static let message = KommoWebhookSection(rawValue: "message")

    /// The key.
    public var description: String { rawValue }
}

/// The action key of a webhook section (`leads[status]` → ``status``), as an open set.
public struct KommoWebhookAction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The key as it appears in the body.
    public let rawValue: String
    /// Creates an action from its key.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// An entity was created (`add_lead`, `add_contact`…).
    public static let add = KommoWebhookAction(rawValue: "add")
    /// An entity was edited (`update_lead`…); a stage change may also produce one carrying `old_status_id`.
    public static let update = KommoWebhookAction(rawValue: "update")
    /// An entity was deleted; the item carries little more than its id.
    public static let delete = KommoWebhookAction(rawValue: "delete")
    /// A deleted entity was restored.
    public static let restore = KommoWebhookAction(rawValue: "restore")
    /// A lead changed stage (`status_lead`, and Digital Pipeline hooks).
    public static let status = KommoWebhookAction(rawValue: "status")
    /// A lead's responsible user changed (`responsible_lead`).
    public static let responsible = KommoWebhookAction(rawValue: "responsible")
    /// A note was added (`note_lead`, `note_contact`, `note_company`).
    public static let note = KommoWebhookAction(rawValue: "note")

    /// The key.
    public var description: String { rawValue }
}

/// The `type` of an item under `contacts[…]`, as an open set.
public struct KommoWebhookEntityType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as it appears in the body.
    public let rawValue: String
    /// Creates an entity type from its value.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A contact (`type=contact`).
    public static let contact = KommoWebhookEntityType(rawValue: "contact")
    /// A company (`type=company`).
    public static let company = KommoWebhookEntityType(rawValue: "company")

    /// The value.
    public var description: String { rawValue }
}

/// An item the parser does not model, kept as decoded so that nothing in a webhook is lost or fatal.
///
/// For `task[add][0][id]=5&task[add][0][text]=Call` there is one item with section `task`, action `add`, index
/// `"0"` and raw `{"id": "5", "text": "Call"}`. A bare `foo=bar` gives section `foo`, no action, no index and raw
/// `"bar"`. Every leaf in ``raw`` is a string; numeric keys stay strings (`"0"`, `"5"`).
public struct UnknownWebhookItem: Sendable, Hashable {
    /// The top-level key.
    public var section: KommoWebhookSection
    /// The second-level key, if there is one.
    public var action: KommoWebhookAction?
    /// The third-level key (usually a numeric index), if there is one.
    public var index: String?
    /// The decoded subtree under `section[action][index]` (or under whichever of those exist).
    public var raw: JSONValue

    /// Creates an unknown item.
    public init(section: KommoWebhookSection, action: KommoWebhookAction? = nil, index: String? = nil,
                raw: JSONValue) {
        self.section = section
        self.action = action
        self.index = index
        self.raw = raw
    }
}
