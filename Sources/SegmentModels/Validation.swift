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
        func isBlank(_ s: String?) -> Bool {
            guard let s, let first = s.utf8.first else { return true }
            // Fast path: a first byte that is printable ASCII other than a space cannot start a blank string.
            if first > 0x20 && first < 0x7F { return false }
            return s.allSatisfy(\.isWhitespace)
        }
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
        // Counting characters is costly; a string of at most 100 UTF-8 bytes has at most 100 characters.
        if let messageID, messageID.isEmpty
            || (messageID.utf8.count > Self.maxMessageIDLength && messageID.count > Self.maxMessageIDLength) {
            throw SegmentError(code: .invalidMessageID,
                               detail: "messageId has \(messageID.count) characters (1 to 100 allowed)")
        }
    }
}
