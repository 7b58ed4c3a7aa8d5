import Foundation

/// A message together with its serialized wire JSON, ready to be batched.
public struct EncodedSegmentMessage: Sendable, Hashable {
    /// The message, with `messageID` and `timestamp` set.
    public let message: SegmentMessage
    /// Its UTF-8 JSON as sent.
    public let json: [UInt8]

    /// Validates `message` and serializes it with `encoder`; refuses a message over 32 KB.
    public init(_ message: SegmentMessage, encoder: SegmentWireEncoder) throws(SegmentError) {
        try message.validate()
        let json = encoder.encode(message)
        guard json.count <= SegmentMessage.maxMessageBytes else {
            throw SegmentError(code: .messageTooLarge,
                               detail: "message \(message.messageID ?? "") is \(json.count) bytes serialized "
                                   + "(limit \(SegmentMessage.maxMessageBytes))")
        }
        self.message = message
        self.json = json
    }
}

/// Messages sent together in one request to `/v1/batch`.
///
/// A batch never changes between attempts: the same messages, in the same order, with the same ids.
public struct SegmentBatch: Sendable, Hashable {
    /// The most messages Segment accepts in one request.
    public static let maxMessages = 2_500
    /// The byte budget of one request body, leaving room under Segment's 500 KB limit.
    public static let maxBytes = 475_000

    /// The messages, in order.
    public let messages: [EncodedSegmentMessage]

    /// Creates a batch of already encoded messages.
    public init(_ messages: [EncodedSegmentMessage]) { self.messages = messages }

    /// The size of the body without the write key: the messages, their commas and the envelope around them.
    public var estimatedBodyBytes: Int {
        messages.reduce(Self.envelopeOverhead) { $0 + $1.json.count + 1 }
    }

    /// The bytes of `{"batch":[`, `],"sentAt":"…Z"`, `,"writeKey":""` and `}`.
    public static let envelopeOverhead = 10 + 38 + 14 + 1

    /// Extra bytes the envelope needs for a write key of this size.
    package static func keyOverhead(_ writeKey: SegmentWriteKey?) -> Int {
        writeKey.map { $0.value.utf8.count * 2 } ?? 0
    }

    /// The request body: `{"batch":[…],"sentAt":"…","writeKey":"…"}` (keys sorted; `writeKey` only when given).
    public func body(sentAt: Date, writeKey: SegmentWriteKey?) -> Data {
        var writer = JSONWriter(capacity: estimatedBodyBytes + Self.keyOverhead(writeKey))
        writer.appendRaw("{\"batch\":[".utf8)
        for (index, message) in messages.enumerated() {
            if index > 0 { writer.appendRaw(UInt8(ascii: ",")) }
            writer.appendRaw(message.json)
        }
        writer.appendRaw("],\"sentAt\":\"".utf8)
        ISO8601Timestamp.append(sentAt, to: &writer.bytes)
        writer.appendRaw(UInt8(ascii: "\""))
        if let writeKey {
            writer.appendRaw(",\"writeKey\":".utf8)
            writer.write(writeKey.value)
        }
        writer.appendRaw(UInt8(ascii: "}"))
        return Data(writer.bytes)
    }
}
