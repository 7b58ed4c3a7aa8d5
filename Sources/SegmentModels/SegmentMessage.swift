import Foundation
@_exported import JSONCore

/// The kind of a Segment call: `identify`, `track`, `page`, `screen`, `group` or `alias`.
///
/// An open set, so that a future call type is data rather than a crash; the six Segment defines are static members.
public struct SegmentCallType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The wire name, as in the message's `type` field.
    public let rawValue: String
    /// Creates a call type from its wire name.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Creates a call type by decoding its wire name.
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    /// Encodes the wire name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// `identify`: attach traits to a person.
    public static let identify = SegmentCallType(rawValue: "identify")
    /// `track`: record an action.
    public static let track = SegmentCallType(rawValue: "track")
    /// `page`: a web page view.
    public static let page = SegmentCallType(rawValue: "page")
    /// `screen`: an app screen view.
    public static let screen = SegmentCallType(rawValue: "screen")
    /// `group`: link a person to an account and describe it.
    public static let group = SegmentCallType(rawValue: "group")
    /// `alias`: merge an earlier identity into a new one.
    public static let alias = SegmentCallType(rawValue: "alias")

    /// The wire name.
    public var description: String { rawValue }
}

/// One Segment call (`identify`, `track`, `page`, `screen`, `group` or `alias`) with its common and own fields.
///
/// Build messages with the static constructors (``identify(userID:anonymousID:traits:messageID:timestamp:context:integrations:)``,
/// ``track(_:userID:anonymousID:properties:messageID:timestamp:context:integrations:)`` and so on), which set the
/// fields each call uses. Swift names are camelCase with `ID`; on the wire they are Segment's (`userId`, `messageId`).
/// ``messageID`` and ``timestamp`` may be left `nil`: the queue fills them in when the message is enqueued.
///
/// The object fields (`context`, `integrations`, `properties`, `traits`) are ``JSONObject``s, built from dictionary
/// literals as before, or from a `[String: JSONValue]` with `JSONObject(dictionary)`: their members are kept in the
/// order they are written, so a message is built without hashing and encoded without sorting.
public struct SegmentMessage: Sendable, Hashable {
    /// The call type (`type` on the wire).
    public var type: SegmentCallType
    /// The person's stable id in the customer's own database (`userId`).
    public var userID: String?
    /// A pseudonymous id for a person without a ``userID`` (`anonymousId`).
    public var anonymousID: String?
    /// The unique id of this message (`messageId`, at most 100 characters); `nil` lets the queue generate one.
    public var messageID: String?
    /// When the event happened (`timestamp`); `nil` lets the queue stamp the enqueue time.
    public var timestamp: Date?
    /// Extra facts about the event (`context`); the SDK adds `context.library` when sending.
    public var context: JSONObject
    /// Per-destination switches (`integrations`); `nil` omits the field (send to every destination).
    public var integrations: JSONObject?
    /// The action's name (`event`, track only).
    public var event: String?
    /// The event's properties (`properties`: track, page, screen).
    public var properties: JSONObject?
    /// The person's or group's traits (`traits`: identify, group).
    public var traits: JSONObject?
    /// The page or screen name (`name`: page, screen).
    public var name: String?
    /// The page category (`category`: page).
    public var category: String?
    /// The group's id (`groupId`: group).
    public var groupID: String?
    /// The earlier id being merged (`previousId`: alias).
    public var previousID: String?

    /// Creates a message from every field; prefer the static constructors.
    public init(
        type: SegmentCallType, userID: String? = nil, anonymousID: String? = nil, messageID: String? = nil,
        timestamp: Date? = nil, context: JSONObject = [:], integrations: JSONObject? = nil,
        event: String? = nil, properties: JSONObject? = nil, traits: JSONObject? = nil,
        name: String? = nil, category: String? = nil, groupID: String? = nil, previousID: String? = nil
    ) {
        self.type = type
        self.userID = userID
        self.anonymousID = anonymousID
        self.messageID = messageID
        self.timestamp = timestamp
        self.context = context
        self.integrations = integrations
        self.event = event
        self.properties = properties
        self.traits = traits
        self.name = name
        self.category = category
        self.groupID = groupID
        self.previousID = previousID
    }

    /// An `identify` call: attach `traits` to the person.
    public static func identify(
        userID: String? = nil, anonymousID: String? = nil, traits: JSONObject = [:],
        messageID: String? = nil, timestamp: Date? = nil, context: JSONObject = [:],
        integrations: JSONObject? = nil
    ) -> SegmentMessage {
        SegmentMessage(type: .identify, userID: userID, anonymousID: anonymousID, messageID: messageID,
                       timestamp: timestamp, context: context, integrations: integrations, traits: traits)
    }

    /// A `track` call: the person did `event`.
    public static func track(
        _ event: String, userID: String? = nil, anonymousID: String? = nil, properties: JSONObject = [:],
        messageID: String? = nil, timestamp: Date? = nil, context: JSONObject = [:],
        integrations: JSONObject? = nil
    ) -> SegmentMessage {
        SegmentMessage(type: .track, userID: userID, anonymousID: anonymousID, messageID: messageID,
                       timestamp: timestamp, context: context, integrations: integrations, event: event,
                       properties: properties)
    }

    /// A `page` call: the person viewed a web page.
    public static func page(
        _ name: String? = nil, category: String? = nil, userID: String? = nil, anonymousID: String? = nil,
        properties: JSONObject = [:], messageID: String? = nil, timestamp: Date? = nil,
        context: JSONObject = [:], integrations: JSONObject? = nil
    ) -> SegmentMessage {
        SegmentMessage(type: .page, userID: userID, anonymousID: anonymousID, messageID: messageID,
                       timestamp: timestamp, context: context, integrations: integrations, properties: properties,
                       name: name, category: category)
    }

    /// A `screen` call: the person viewed an app screen.
    public static func screen(
        _ name: String? = nil, userID: String? = nil, anonymousID: String? = nil,
        properties: JSONObject = [:], messageID: String? = nil, timestamp: Date? = nil,
        context: JSONObject = [:], integrations: JSONObject? = nil
    ) -> SegmentMessage {
        SegmentMessage(type: .screen, userID: userID, anonymousID: anonymousID, messageID: messageID,
                       timestamp: timestamp, context: context, integrations: integrations, properties: properties,
                       name: name)
    }

    /// A `group` call: the person belongs to the group `groupID`, described by `traits`.
    public static func group(
        _ groupID: String, userID: String? = nil, anonymousID: String? = nil, traits: JSONObject = [:],
        messageID: String? = nil, timestamp: Date? = nil, context: JSONObject = [:],
        integrations: JSONObject? = nil
    ) -> SegmentMessage {
        SegmentMessage(type: .group, userID: userID, anonymousID: anonymousID, messageID: messageID,
                       timestamp: timestamp, context: context, integrations: integrations, traits: traits,
                       groupID: groupID)
    }

    /// An `alias` call: `previousID` and `userID` are the same person.
    public static func alias(
        userID: String, previousID: String, messageID: String? = nil, timestamp: Date? = nil,
        context: JSONObject = [:], integrations: JSONObject? = nil
    ) -> SegmentMessage {
        SegmentMessage(type: .alias, userID: userID, messageID: messageID, timestamp: timestamp, context: context,
                       integrations: integrations, previousID: previousID)
    }
}
