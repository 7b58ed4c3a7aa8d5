import Foundation
import JSONCore

/// How Kommo deals, contacts and companies become Segment messages: event names, which stages count as won or
/// lost, which custom fields become traits and properties, how people are identified.
///
/// `MappingConfiguration()` gives the defaults, which work for a standard Kommo account. Load a JSON document with
/// ``load(from:)``; every key is optional, and the document is checked strictly (unknown keys, wrong types and
/// impossible values are refused with an error that names the key path). Every key, default and rule is described
/// in `Documentation/MappingConfiguration.md`.
///
/// Nothing here enters message ids: renaming an event never re-sends history (see ``MessageIDRecipe``).
public struct MappingConfiguration: Sendable, Hashable {
    /// Status (stage) ids that mean "won" in any pipeline; JSON key `wonStatusIds`. Default `[142]`.
    public var wonStatusIDs: Set<Int64>
    /// Status (stage) ids that mean "lost" in any pipeline; JSON key `lostStatusIds`. Default `[143]`.
    public var lostStatusIDs: Set<Int64>
    /// The ISO 4217 code amounts are reported in (`"USD"`); `nil` (the default) uses the Kommo account's currency.
    public var currency: String?
    /// Kommo custom fields that have a fixed meaning for the mapping (plan, company, loss reason, source).
    public var customFields: CustomFieldIDs
    /// Lead custom field id → event property name. Default empty.
    public var leadFields: [Int64: String]
    /// Contact custom field id → identify trait name. Default empty.
    public var contactFields: [Int64: String]
    /// Company custom field id → group trait name. Default empty.
    public var companyFields: [Int64: String]
    /// The Segment event name of each event; defaults in ``defaultEventNames``.
    public var eventNames: [EventKey: String]
    /// Events that produce no message. Default `[.dealDeleted]`.
    public var disabledEvents: Set<EventKey>
    /// Fixed traits set on the person when a deal is won. Default `{"customer": true}`.
    public var wonTraits: JSONObject
    /// Fixed traits set on the person when a deal is lost. Default `{"customer": false, "churned": true, "plan": null}`.
    public var lostTraits: JSONObject
    /// How the Segment `userId` is chosen.
    public var identity: Identity
    /// Whether `group` calls are sent for the deal's company. Default `true`.
    public var sendGroup: Bool
    /// The `integrations` object added to every message; `nil` (the default) sends none.
    public var integrations: JSONObject?

    /// The default configuration.
    public init() {
        wonStatusIDs = [142]
        lostStatusIDs = [143]
        currency = nil
        customFields = CustomFieldIDs()
        leadFields = [:]
        contactFields = [:]
        companyFields = [:]
        eventNames = Self.defaultEventNames
        disabledEvents = [.dealDeleted]
        wonTraits = Self.defaultWonTraits
        lostTraits = Self.defaultLostTraits
        identity = Identity()
        sendGroup = true
        integrations = nil
    }

    /// The default event names: "Stage Changed", "Deal Won", "Deal Lost", "Owner Changed", "Deal Created",
    /// "Deal Deleted", "Deal Restored", "Contact Updated".
    public static let defaultEventNames: [EventKey: String] = [
        .stageChanged: "Stage Changed",
        .dealWon: "Deal Won",
        .dealLost: "Deal Lost",
        .ownerChanged: "Owner Changed",
        .dealCreated: "Deal Created",
        .dealDeleted: "Deal Deleted",
        .dealRestored: "Deal Restored",
        .contactUpdated: "Contact Updated",
    ]

    /// The default ``wonTraits``: `{"customer": true}`.
    public static let defaultWonTraits: JSONObject = ["customer": true]

    /// The default ``lostTraits``: `{"customer": false, "churned": true, "plan": null}`.
    public static let defaultLostTraits: JSONObject = ["customer": false, "churned": true, "plan": nil]

    /// The Segment event name for `key`, or `nil` when the event is disabled or has no name.
    public func eventName(for key: EventKey) -> String? {
        disabledEvents.contains(key) ? nil : eventNames[key]
    }

    /// Whether `statusID` is a won stage.
    public func isWon(statusID: Int64) -> Bool { wonStatusIDs.contains(statusID) }

    /// Whether `statusID` is a lost stage.
    public func isLost(statusID: Int64) -> Bool { lostStatusIDs.contains(statusID) }
}

// MARK: - Nested types

extension MappingConfiguration {
    /// One of the events the mapping can emit, as named in `eventNames` and `disabledEvents`.
    ///
    /// An open set of names (``RawRepresentable``), so a future event is data, not a breaking change; a document
    /// may only use the ``known`` ones.
    public struct EventKey: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The key as written in JSON, e.g. `dealWon`.
        public let rawValue: String
        /// An event key named `rawValue`.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A deal moved to another stage that is neither won nor lost. Default name "Stage Changed".
        public static let stageChanged = EventKey(rawValue: "stageChanged")
        /// A deal moved to a won stage. Default name "Deal Won".
        public static let dealWon = EventKey(rawValue: "dealWon")
        /// A deal moved to a lost stage. Default name "Deal Lost".
        public static let dealLost = EventKey(rawValue: "dealLost")
        /// A deal got another responsible user. Default name "Owner Changed".
        public static let ownerChanged = EventKey(rawValue: "ownerChanged")
        /// A deal was created. Default name "Deal Created".
        public static let dealCreated = EventKey(rawValue: "dealCreated")
        /// A deal was deleted. Default name "Deal Deleted"; disabled by default.
        public static let dealDeleted = EventKey(rawValue: "dealDeleted")
        /// A deal was restored from the trash. Default name "Deal Restored".
        public static let dealRestored = EventKey(rawValue: "dealRestored")
        /// A contact's data changed. Default name "Contact Updated".
        public static let contactUpdated = EventKey(rawValue: "contactUpdated")

        /// Every event a configuration document may name, in documentation order.
        public static let known: [EventKey] = [
            .stageChanged, .dealWon, .dealLost, .ownerChanged, .dealCreated, .dealDeleted, .dealRestored,
            .contactUpdated,
        ]

        /// Orders known keys in documentation order, then any others by raw value.
        public static func < (lhs: EventKey, rhs: EventKey) -> Bool {
            let left = known.firstIndex(of: lhs) ?? known.count
            let right = known.firstIndex(of: rhs) ?? known.count
            return left != right ? left < right : lhs.rawValue < rhs.rawValue
        }

        /// The raw value.
        public var description: String { rawValue }
    }

    /// Kommo custom field ids that have a fixed meaning for the mapping; `nil` means the account has no such field.
    public struct CustomFieldIDs: Sendable, Hashable {
        /// The lead field that holds the plan or product (sent as the `plan` property and trait).
        public var plan: Int64?
        /// A lead field that holds the company name, for deals without a linked company.
        public var company: Int64?
        /// A lead field that holds the loss reason, for accounts that record it in a field rather than with
        /// Kommo's built-in loss reasons.
        public var lossReason: Int64?
        /// The lead field that holds the lead source.
        public var source: Int64?

        /// Fields with the given ids; all `nil` by default.
        public init(plan: Int64? = nil, company: Int64? = nil, lossReason: Int64? = nil, source: Int64? = nil) {
            self.plan = plan
            self.company = company
            self.lossReason = lossReason
            self.source = source
        }
    }

    /// How a person's Segment `userId` is chosen.
    public struct Identity: Sendable, Hashable {
        /// What becomes the `userId`. Default ``UserID/email``.
        public var userID: UserID
        /// What happens when ``userID`` is ``UserID/email`` and the contact has no email. Default ``Fallback/skip``.
        public var fallback: Fallback

        /// An identity rule; the defaults use the email and skip people without one.
        public init(userID: UserID = .email, fallback: Fallback = .skip) {
            self.userID = userID
            self.fallback = fallback
        }

        /// The source of the `userId`.
        public struct UserID: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
            /// The value as written in JSON.
            public let rawValue: String
            /// A source named `rawValue`.
            public init(rawValue: String) { self.rawValue = rawValue }
            /// The main contact's work email (JSON `"email"`).
            public static let email = UserID(rawValue: "email")
            /// The Kommo contact id (JSON `"contactId"`).
            public static let contactID = UserID(rawValue: "contactId")
            /// Every value a document may use.
            public static let known: [UserID] = [.email, .contactID]
            /// The raw value.
            public var description: String { rawValue }
        }

        /// What to do for a person without the chosen identifier.
        public struct Fallback: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
            /// The value as written in JSON.
            public let rawValue: String
            /// A fallback named `rawValue`.
            public init(rawValue: String) { self.rawValue = rawValue }
            /// Send no person-level message (JSON `"skip"`).
            public static let skip = Fallback(rawValue: "skip")
            /// Use the Kommo contact id instead (JSON `"contactId"`).
            public static let contactID = Fallback(rawValue: "contactId")
            /// Every value a document may use.
            public static let known: [Fallback] = [.skip, .contactID]
            /// The raw value.
            public var description: String { rawValue }
        }
    }
}

// MARK: - JSON

extension MappingConfiguration: Codable {
    /// Loads a configuration from a JSON document, applying every rule of `Documentation/MappingConfiguration.md`.
    ///
    /// - Throws: ``MappingConfigurationError`` naming the key path of the first problem found.
    public static func load(from data: Data) throws(MappingConfigurationError) -> MappingConfiguration {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw MappingConfigurationError(
                code: .invalidJSON, keyPath: "",
                message: "the document is not valid JSON (\(Self.summary(of: error))); check it with a JSON linter")
        }
        return try load(from: document)
    }

    /// Builds a configuration from an already-decoded JSON value, with the same rules as ``load(from:)``.
    public static func load(from document: JSONValue) throws(MappingConfigurationError) -> MappingConfiguration {
        try ConfigurationReader(root: ConfigurationKeyPath()).read(document)
    }

    /// Decodes with the same strict rules as ``load(from:)``; errors are ``MappingConfigurationError``s whose key
    /// path starts at the decoder's coding path.
    public init(from decoder: any Decoder) throws {
        let document = try JSONValue(from: decoder)
        self = try ConfigurationReader(root: ConfigurationKeyPath(codingPath: decoder.codingPath)).read(document)
    }

    /// Encodes ``jsonValue``.
    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }

    /// The whole configuration as a JSON object that ``load(from:)`` reads back to an equal value (every key
    /// written out, sets sorted, `currency` and `integrations` left out when `nil`).
    public var jsonValue: JSONValue {
        ConfigurationKeys.json(of: self, keys: ConfigurationKeys.topLevel)
    }

    /// A short, single-line account of a decoding failure, without echoing the document.
    private static func summary(of error: any Error) -> String {
        guard let decodingError = error as? DecodingError else { return "unreadable data" }
        switch decodingError {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return String((underlying ?? context.debugDescription).prefix(160))
        case .keyNotFound, .typeMismatch, .valueNotFound:
            return "unreadable data"
        @unknown default:
            return "unreadable data"
        }
    }
}
