extension SegmentMessage {
    /// The longest `messageId` Segment accepts, in characters.
    public static let maxMessageIDLength = 100
    /// The largest serialized message Segment accepts: 32 KB of UTF-8 JSON.
    public static let maxMessageBytes = 32_768

    /// Checks the rules Segment applies to a single message, except its size (see ``SegmentWireEncoder``).
    ///
    /// Identity: at least one non-empty id (`alias` needs `userId` and `previousId`); `track` needs an `event`,
    /// `group` a `groupId`; a given `messageId` is 1 to 100 characters; the type is one of the six.
    public func validate() throws(SegmentError) {
        func isBlank(_ s: String?) -> Bool { s.map { $0.allSatisfy(\.isWhitespace) } ?? true }
        switch type {
        case .identify, .track, .page, .screen, .group:
            if isBlank(userID) && isBlank(anonymousID) {
                throw SegmentError(code: .missingIdentity, detail: "\(type) message has neither userId nor anonymousId")
            }
        case .alias:
            if isBlank(userID) {
                throw SegmentError(code: .missingIdentity, detail: "alias message has no userId")
            }
            if isBlank(previousID) {
                throw SegmentError(code: .missingPreviousID, detail: "alias message has no previousId")
            }
        default:
            throw SegmentError(code: .invalidType, detail: "unknown message type \"\(type.rawValue.prefix(40))\"")
        }
        if type == .track && isBlank(event) {
            throw SegmentError(code: .missingEvent, detail: "track message has no event name")
        }
        if type == .group && isBlank(groupID) {
            throw SegmentError(code: .missingGroupID, detail: "group message has no groupId")
        }
        if let messageID, messageID.isEmpty || messageID.count > Self.maxMessageIDLength {
            throw SegmentError(code: .invalidMessageID,
                               detail: "messageId has \(messageID.count) characters (1 to 100 allowed)")
        }
    }
}
