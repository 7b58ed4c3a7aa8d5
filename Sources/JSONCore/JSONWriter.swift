/// A fast, deterministic JSON serializer that appends UTF-8 bytes to a buffer.
///
/// Output is compact, object keys are sorted by their UTF-8 bytes (the same order as Unicode code points), strings
/// are escaped as RFC 8259 requires (quote, backslash and control characters; everything else is written as
/// UTF-8), integers are written without a fraction, and non-finite numbers are written as `null`. The same value
/// always produces the same bytes.
public struct JSONWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// Creates a writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The bytes written so far as a string.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends a raw byte (for callers that assemble their own structure).
    @inlinable
    public mutating func appendRaw(_ byte: UInt8) { bytes.append(byte) }

    /// Appends bytes that are already valid JSON.
    @inlinable
    public mutating func appendRaw<S: Sequence>(_ json: S) where S.Element == UInt8 { bytes.append(contentsOf: json) }

    /// Writes a value.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: appendRaw("null".utf8)
        case .bool(let b): appendRaw((b ? "true" : "false").utf8)
        case .int(let i): write(i)
        case .double(let d): write(d)
        case .string(let s): write(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            write(members)
        }
    }

    /// Writes an object with its keys sorted.
    public mutating func write(_ members: [String: JSONValue]) {
        write(JSONObject(members))
    }

    /// Calls `body` with the members of `members` in the writer's key order (by UTF-8 bytes).
    @inlinable
    public static func forEachSorted(_ members: [String: JSONValue], _ body: (String, JSONValue) -> Void) {
        let count = members.count
        guard count > 1 else {
            for (key, value) in members { body(key, value) }
            return
        }
        guard count <= 32 else {
            for (key, value) in members.sorted(by: { precedes($0.key, $1.key) }) { body(key, value) }
            return
        }
        // Sort positions in a stack buffer instead of copying the (key, value) pairs into a new array.
        typealias Position = Dictionary<String, JSONValue>.Index
        withUnsafeTemporaryAllocation(of: Position.self, capacity: count) { positions in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { prefixes in
                var filled = 0
                var position = members.startIndex
                while position != members.endIndex {
                    positions.initializeElement(at: filled, to: position)
                    filled += 1
                    members.formIndex(after: &position)
                }
                _ = sortByKey(positions, prefixes: prefixes) { members[$0].key }
                for slot in 0..<filled {
                    let member = members[positions[slot]]
                    body(member.key, member.value)
                }
                positions.baseAddress?.deinitialize(count: filled)
            }
        }
    }

    /// Sorts `items` in place by their keys' UTF-8 bytes, keeping equal keys in their order; returns whether two
    /// keys are equal.
    ///
    /// An insertion sort, for the small objects JSON is made of, that holds each key's first eight bytes in
    /// `prefixes` (as many as `items`) as one integer, so that most pairs of keys are ordered by one comparison.
    @inlinable
    static func sortByKey<Item>(_ items: UnsafeMutableBufferPointer<Item>, prefixes: UnsafeMutableBufferPointer<UInt64>,
                                key: (Item) -> String) -> Bool {
        var repeated = false
        for index in items.indices {
            let prefix = sortPrefix(key(items[index]))
            var slot = index
            while slot > 0 {
                let previous = prefixes[slot - 1]
                guard prefix < previous || (prefix == previous && precedes(key(items[slot]), key(items[slot - 1])))
                else { break }
                items.swapAt(slot, slot - 1)
                prefixes[slot] = previous
                slot -= 1
            }
            prefixes[slot] = prefix
            // Stable: an equal key stops the item just after it, never before.
            if slot > 0 && prefixes[slot - 1] == prefix && key(items[slot - 1]) == key(items[slot]) { repeated = true }
        }
        return repeated
    }

    /// The first eight UTF-8 bytes of `key` as a big-endian integer, padded with zeros: when two keys' prefixes
    /// differ, they sort as the keys do (a key that ends first has zeros where the longer one has bytes).
    @inlinable
    static func sortPrefix(_ key: String) -> UInt64 {
        func pack<C: Collection<UInt8>>(_ bytes: C) -> UInt64 {
            var prefix: UInt64 = 0
            var shift: UInt64 = 56
            for byte in bytes.prefix(8) {
                prefix |= UInt64(byte) &<< shift
                shift &-= 8
            }
            return prefix
        }
        return key.utf8.withContiguousStorageIfAvailable { pack($0) } ?? pack(key.utf8)
    }

    /// How `a` and `b` compare by their UTF-8 bytes: negative when `a` sorts first, zero when they are equal,
    /// positive when `b` sorts first. One pass, for a search that needs both answers.
    @inlinable
    static func compare(_ a: String, _ b: String) -> Int {
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y -> Int in
                let common = Swift.min(x.count, y.count)
                var index = 0
                while index < common {
                    if x[index] != y[index] { return Int(x[index]) - Int(y[index]) }
                    index += 1
                }
                return x.count - y.count
            }
        }
        if let result = fast ?? nil { return result }
        return a == b ? 0 : (a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1)
    }

    /// Whether `a` sorts before `b` by their UTF-8 bytes (the same order as Unicode code points).
    @inlinable
    public static func precedes(_ a: String, _ b: String) -> Bool {
        // Native strings expose their UTF-8 in place: compare bytes without copying or retaining.
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y -> Bool in
                let common = Swift.min(x.count, y.count)
                var index = 0
                while index < common {
                    if x[index] != y[index] { return x[index] < y[index] }
                    index += 1
                }
                return x.count < y.count
            }
        }
        if let result = fast ?? nil { return result }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Writes an integer.
    public mutating func write(_ value: Int64) {
        if value >= 0 && value < 10 {
            bytes.append(UInt8(truncatingIfNeeded: value) + 0x30)
            return
        }
        value.withDecimalDigits { bytes.append(contentsOf: $0) }
    }

    /// Writes a floating-point number in its shortest round-trip form; `null` if it is not finite.
    public mutating func write(_ value: Double) {
        guard value.isFinite else {
            appendRaw("null".utf8)
            return
        }
        if value == value.rounded(), abs(value) < 1e15 {
            // Whole floating-point numbers keep a fraction so they read back as floating-point numbers.
            write(Int64(value))
            appendRaw(".0".utf8)
            return
        }
        appendRaw(value.description.utf8)
    }

    /// Writes a string with JSON escaping.
    public mutating func write(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        // Native strings expose their UTF-8 in place; others are made contiguous first.
        if string.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            var copy = string
            copy.withUTF8 { appendEscaped($0) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends UTF-8 bytes, escaping what JSON requires (quote, backslash, control characters).
    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        let count = utf8.count
        var index = 0
        // Check eight bytes at a time while none of them needs escaping (most strings need none), the last few
        // bytes as one padded word: a string with nothing to escape is appended whole, without a byte loop.
        let raw = UnsafeRawBufferPointer(utf8)
        while index + 8 <= count, !Self.needsEscape(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
            index += 8
        }
        if index == count || (index + 8 > count && !Self.needsEscape(Self.paddedWord(raw, from: index))) {
            bytes.append(contentsOf: utf8)
            return
        }
        var start = 0
        while index < count {
            let byte = utf8[index]
            index += 1
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
            if start < index - 1 { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<(index - 1)])) }
            start = index
            switch byte {
            case 0x22: appendRaw(#"\""#.utf8)
            case 0x5C: appendRaw(#"\\"#.utf8)
            case 0x0A: appendRaw(#"\n"#.utf8)
            case 0x0D: appendRaw(#"\r"#.utf8)
            case 0x09: appendRaw(#"\t"#.utf8)
            case 0x08: appendRaw(#"\b"#.utf8)
            case 0x0C: appendRaw(#"\f"#.utf8)
            default:
                appendRaw(#"\u00"#.utf8)
                bytes.append(Self.hexDigit(byte >> 4))
                bytes.append(Self.hexDigit(byte & 0x0F))
            }
        }
        if start < count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
    }

    /// Whether any of the eight bytes of `word` is a control character, a quote or a backslash.
    ///
    /// Bit tricks on the whole word: a byte below 0x20, or equal to 0x22 or 0x5C after an XOR, sets its high bit in
    /// the result. A false positive only sends the word to the byte-by-byte path.
    @inline(__always)
    static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let quotes = (quote &- ones) & ~quote & highs
        let backslashes = (backslash &- ones) & ~backslash & highs
        return (control | quotes | backslashes) != 0
    }

    /// The bytes of `raw` from `index` to its end (fewer than eight) as one little-endian word, the rest of the word
    /// filled with a letter, which needs no escaping.
    @inline(__always)
    static func paddedWord(_ raw: UnsafeRawBufferPointer, from index: Int) -> UInt64 {
        var word: UInt64 = 0x4141_4141_4141_4141
        var shift: UInt64 = 0
        for position in index..<raw.count {
            word = (word & ~(0xFF &<< shift)) | (UInt64(raw[position]) &<< shift)
            shift &+= 8
        }
        return word
    }

    /// The lowercase hexadecimal digit of a value 0...15.
    @inline(__always)
    static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 0x30 + value : 0x57 + value }
}

extension Int64 {
    /// Hands `body` the number in decimal, as `String(self)` writes it, from a buffer on the stack: how
    /// ``JSONWriter`` writes integers and message ids write their numbers, without a `String` per number.
    @inlinable
    package func withDecimalDigits<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for the 20 characters of Int64.min
        return withUnsafeMutableBytes(of: &digits) { buffer in
            var magnitude = self.magnitude
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(truncatingIfNeeded: magnitude % 10) &+ UInt8(ascii: "0")
                magnitude /= 10
            } while magnitude > 0
            if self < 0 {
                index -= 1
                buffer[index] = UInt8(ascii: "-")
            }
            return body(UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }
}
