import Foundation

/// The library that sends the messages, written as `context.library` on every message.
public struct SegmentLibraryInfo: Sendable, Hashable {
    /// The library name, for example `kommo-segment-swift`.
    public var name: String
    /// The library version (semantic versioning: RudderStack flags anything else).
    public var version: String

    /// Creates library information.
    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}

/// Serializes messages to Segment's wire JSON: fast, deterministic (keys sorted), with `context.library` added.
///
/// A message's `messageId` and `timestamp` are written only when set; the queue sets both before encoding.
/// Timestamps are ISO-8601 UTC with milliseconds and `Z`.
public struct SegmentWireEncoder: Sendable {
    /// The `context.library` value written on every message.
    public var library: SegmentLibraryInfo

    /// Creates an encoder that stamps `library` on every message.
    public init(library: SegmentLibraryInfo) { self.library = library }

    /// The message as UTF-8 JSON bytes.
    public func encode(_ message: SegmentMessage) -> [UInt8] {
        var writer = JSONWriter(capacity: 768)
        write(message, to: &writer)
        return writer.bytes
    }

    /// Appends the message's JSON to `writer`.
    public func write(_ message: SegmentMessage, to writer: inout JSONWriter) {
        // Each key with its quotes and colon, and the comma before every key but the first, in one append.
        var separator = false
        func key(_ name: StaticString) {
            let fragment = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
            writer.appendRaw(separator ? fragment : UnsafeBufferPointer(rebasing: fragment.dropFirst()))
            separator = true
        }
        writer.appendRaw(UInt8(ascii: "{"))
        // Keys in sorted order, so the output is deterministic without sorting at run time.
        if let anonymousID = message.anonymousID { key(#","anonymousId":"#); writer.write(anonymousID) }
        if let category = message.category { key(#","category":"#); writer.write(category) }
        key(#","context":"#); writeContext(message.context, to: &writer)
        if let event = message.event { key(#","event":"#); writer.write(event) }
        if let groupID = message.groupID { key(#","groupId":"#); writer.write(groupID) }
        if let integrations = message.integrations { key(#","integrations":"#); writer.write(integrations) }
        if let messageID = message.messageID { key(#","messageId":"#); writer.write(messageID) }
        if let name = message.name { key(#","name":"#); writer.write(name) }
        if let previousID = message.previousID { key(#","previousId":"#); writer.write(previousID) }
        if let properties = message.properties { key(#","properties":"#); writer.write(properties) }
        if let timestamp = message.timestamp {
            key(#","timestamp":"#)
            writer.appendRaw(UInt8(ascii: "\""))
            ISO8601Timestamp.append(timestamp, to: &writer.bytes)
            writer.appendRaw(UInt8(ascii: "\""))
        }
        if let traits = message.traits { key(#","traits":"#); writer.write(traits) }
        key(#","type":"#); writer.write(message.type.rawValue)
        if let userID = message.userID { key(#","userId":"#); writer.write(userID) }
        writer.appendRaw(UInt8(ascii: "}"))
    }

    /// Writes `context` with `library` set (replacing any caller value), keys sorted.
    private func writeContext(_ context: JSONObject, to writer: inout JSONWriter) {
        writer.appendRaw(UInt8(ascii: "{"))
        var first = true
        var libraryWritten = false
        func writeLibrary() {
            if !first { writer.appendRaw(UInt8(ascii: ",")) }
            first = false
            writer.appendRaw("\"library\":{\"name\":".utf8)
            writer.write(library.name)
            writer.appendRaw(",\"version\":".utf8)
            writer.write(library.version)
            writer.appendRaw(UInt8(ascii: "}"))
            libraryWritten = true
        }
        for (name, value) in context {
            guard name != "library" else { continue }
            if !libraryWritten && !JSONWriter.precedes(name, "library") { writeLibrary() }
            if !first { writer.appendRaw(UInt8(ascii: ",")) }
            first = false
            writer.write(name)
            writer.appendRaw(UInt8(ascii: ":"))
            writer.write(value)
        }
        if !libraryWritten { writeLibrary() }
        writer.appendRaw(UInt8(ascii: "}"))
    }
}
