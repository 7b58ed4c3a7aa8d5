import Foundation

extension SegmentMessage: Codable {
    private enum CodingKeys: String, CodingKey {
        case type, userID = "userId", anonymousID = "anonymousId", messageID = "messageId", timestamp, context,
             integrations, event, properties, traits, name, category, groupID = "groupId", previousID = "previousId"
    }

    /// Decodes a message from Segment's wire JSON (timestamps as ISO-8601 strings).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(SegmentCallType.self, forKey: .type)
        userID = try c.decodeIfPresent(String.self, forKey: .userID)
        anonymousID = try c.decodeIfPresent(String.self, forKey: .anonymousID)
        messageID = try c.decodeIfPresent(String.self, forKey: .messageID)
        if let text = try c.decodeIfPresent(String.self, forKey: .timestamp) {
            guard let date = Self.parseTimestamp(text) else {
                throw DecodingError.dataCorruptedError(forKey: .timestamp, in: c,
                                                       debugDescription: "not an ISO-8601 timestamp: \(text)")
            }
            timestamp = date
        } else {
            timestamp = nil
        }
        context = try c.decodeIfPresent(JSONObject.self, forKey: .context) ?? [:]
        integrations = try c.decodeIfPresent(JSONObject.self, forKey: .integrations)
        event = try c.decodeIfPresent(String.self, forKey: .event)
        properties = try c.decodeIfPresent(JSONObject.self, forKey: .properties)
        traits = try c.decodeIfPresent(JSONObject.self, forKey: .traits)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        category = try c.decodeIfPresent(String.self, forKey: .category)
        groupID = try c.decodeIfPresent(String.self, forKey: .groupID)
        previousID = try c.decodeIfPresent(String.self, forKey: .previousID)
    }

    /// Encodes the message in Segment's wire shape (without adding `context.library`; see ``SegmentWireEncoder``).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(userID, forKey: .userID)
        try c.encodeIfPresent(anonymousID, forKey: .anonymousID)
        try c.encodeIfPresent(messageID, forKey: .messageID)
        try c.encodeIfPresent(timestamp.map(ISO8601Timestamp.string(from:)), forKey: .timestamp)
        try c.encode(context, forKey: .context)
        try c.encodeIfPresent(integrations, forKey: .integrations)
        try c.encodeIfPresent(event, forKey: .event)
        try c.encodeIfPresent(properties, forKey: .properties)
        try c.encodeIfPresent(traits, forKey: .traits)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(category, forKey: .category)
        try c.encodeIfPresent(groupID, forKey: .groupID)
        try c.encodeIfPresent(previousID, forKey: .previousID)
    }

    /// Parses an ISO-8601 timestamp with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
