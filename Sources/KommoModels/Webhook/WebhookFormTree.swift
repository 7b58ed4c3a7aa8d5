import JSONCore

/// A decoded PHP-style form body (`section[action][0][field]=value&…`) as a tree of string-keyed maps with string
/// leaves, stored flat in one array so that building it costs one dictionary step per key segment.
///
/// Repeated keys follow PHP's rule: the last assignment wins, and a leaf and a map at the same path replace each
/// other. Real Kommo bodies never repeat a key; the rule only makes odd input deterministic.
struct WebhookFormTree {
    /// One node: a leaf (`leaf != nil`, no children) or a map (`leaf == nil`). Only the root starts empty.
    struct Node {
        var leaf: String?
        var children: [String: Int] = [:]
        /// The index an empty segment (`[]`) appends at: one past the largest numeric key seen.
        var nextAppendIndex = 0
    }

    /// The first time a top-level key (`action == nil`) or a `key[action]` pair was created, in body order.
    struct Appearance {
        var entity: String
        var action: String?
    }

    static let root = 0
    private(set) var nodes: [Node] = [Node()]
    private(set) var appearances: [Appearance] = []

    /// Assigns `value` at `name[segments[0]][segments[1]]…`; a `nil` segment is PHP's `[]` (append).
    mutating func insert(name: String, segments: [String?], value: String) {
        var current = Self.root
        var depth = 0
        var component: String? = name
        var next = 0
        while true {
            let key = component ?? String(nodes[current].nextAppendIndex)
            if let child = nodes[current].children[key] {
                current = child
            } else {
                nodes[current].leaf = nil
                let index = nodes.count
                nodes.append(Node())
                nodes[current].children[key] = index
                if let number = Self.smallIndex(key), number >= nodes[current].nextAppendIndex {
                    nodes[current].nextAppendIndex = number + 1
                }
                if depth == 0 {
                    appearances.append(Appearance(entity: key, action: nil))
                } else if depth == 1 {
                    appearances.append(Appearance(entity: name, action: key))
                }
                current = index
            }
            depth += 1
            guard next < segments.count else { break }
            component = segments[next]
            next += 1
        }
        nodes[current].leaf = value
        if !nodes[current].children.isEmpty { nodes[current].children = [:] }
    }

    // MARK: Reading

    /// The node at `key` under `node`, if `node` is a map that has it.
    func child(_ node: Int, _ key: String) -> Int? { nodes[node].children[key] }

    /// The value of `node`, if it is a leaf.
    func leaf(_ node: Int) -> String? { nodes[node].leaf }

    /// The value of the leaf at `key` under `node`, if there is one.
    func leaf(_ node: Int, _ key: String) -> String? { child(node, key).flatMap { nodes[$0].leaf } }

    /// The children of a map in index order: numeric keys ascending by value, then other keys in code-point order.
    func orderedChildren(_ node: Int) -> [(key: String, node: Int)] {
        nodes[node].children.map { (key: $0.key, node: $0.value) }.sorted { Self.indexOrder($0.key, $1.key) }
    }

    /// The subtree at `node` as JSON: leaves are strings, maps are objects keyed as in the body.
    func json(_ node: Int) -> JSONValue {
        if let leaf = nodes[node].leaf { return .string(leaf) }
        var members: [String: JSONValue] = [:]
        members.reserveCapacity(nodes[node].children.count)
        for (key, child) in nodes[node].children { members[key] = json(child) }
        return .object(members)
    }

    // MARK: Index keys

    /// Whether `key` is a non-empty run of ASCII digits.
    static func isNumeric(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// The numeric value of `key` when it is a run of at most 18 digits (so that adding one cannot overflow).
    static func smallIndex(_ key: String) -> Int? {
        guard key.utf8.count <= 18, isNumeric(key) else { return nil }
        return Int(key)
    }

    /// Orders keys as items are ordered: numeric keys by value (any length, no overflow), ties and the rest by
    /// their UTF-8 bytes, numeric before non-numeric.
    static func indexOrder(_ lhs: String, _ rhs: String) -> Bool {
        let lhsNumeric = isNumeric(lhs)
        let rhsNumeric = isNumeric(rhs)
        if lhsNumeric != rhsNumeric { return lhsNumeric }
        if lhsNumeric {
            let lhsDigits = lhs.utf8.drop { $0 == 0x30 }
            let rhsDigits = rhs.utf8.drop { $0 == 0x30 }
            if lhsDigits.count != rhsDigits.count { return lhsDigits.count < rhsDigits.count }
            if !lhsDigits.elementsEqual(rhsDigits) { return lhsDigits.lexicographicallyPrecedes(rhsDigits) }
        }
        return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}

/// Turns raw body bytes into a ``WebhookFormTree`` following the Kommo reference: split on `&`, split each pair on
/// its first `=`, turn `+` into a space, then percent-decode as UTF-8, then split the key into its bracket path.
///
/// Work is one pass over the bytes plus one dictionary step per key segment; every buffer is reused.
enum WebhookFormDecoder {
    private static let ampersand = UInt8(ascii: "&")
    private static let equals = UInt8(ascii: "=")
    private static let plus = UInt8(ascii: "+")
    private static let percent = UInt8(ascii: "%")
    private static let space = UInt8(ascii: " ")
    private static let open = UInt8(ascii: "[")
    private static let close = UInt8(ascii: "]")

    static func decode(
        _ bytes: [UInt8], limits: KommoWebhookParser.Limits
    ) throws(KommoWebhookError) -> WebhookFormTree {
        let maxPairs = max(0, limits.maxPairs)
        let maxDepth = max(0, limits.maxDepth)
        var tree = WebhookFormTree()
        var keyBuffer: [UInt8] = []
        var valueBuffer: [UInt8] = []
        var segments: [String?] = []
        var pairs = 0
        var start = 0
        let count = bytes.count
        while start < count {
            var end = start
            var separator = -1
            while end < count, bytes[end] != ampersand {
                if separator < 0, bytes[end] == equals { separator = end }
                end += 1
            }
            defer { start = end + 1 }
            if end == start { continue }
            pairs += 1
            if pairs > maxPairs {
                throw KommoWebhookError(code: .tooManyPairs, byteOffset: start,
                                        detail: "more than \(maxPairs) name=value pairs")
            }
            let keyEnd = separator < 0 ? end : separator
            try percentDecode(bytes, start..<keyEnd, into: &keyBuffer)
            try percentDecode(bytes, (separator < 0 ? end : separator + 1)..<end, into: &valueBuffer)
            guard let value = String(validating: valueBuffer, as: UTF8.self) else {
                throw KommoWebhookError(code: .invalidUTF8, byteOffset: start,
                                        detail: "a value is not valid UTF-8 after percent-decoding")
            }
            let name = try splitKey(keyBuffer, into: &segments, maxDepth: maxDepth, offset: start)
            tree.insert(name: name, segments: segments, value: value)
        }
        if pairs == 0 {
            throw KommoWebhookError(code: .emptyBody, detail: "the body holds no name=value pairs")
        }
        return tree
    }

    /// Appends the decoded bytes of `range` to `output` (cleared first): `+` is a space, `%XX` is one byte.
    private static func percentDecode(
        _ bytes: [UInt8], _ range: Range<Int>, into output: inout [UInt8]
    ) throws(KommoWebhookError) {
        output.removeAll(keepingCapacity: true)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            if byte == plus {
                output.append(space)
                index += 1
            } else if byte == percent {
                guard index + 2 < range.upperBound,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    throw KommoWebhookError(code: .invalidPercentEncoding, byteOffset: index,
                                            detail: "'%' is not followed by two hexadecimal digits")
                }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// Splits a decoded key into its name and bracket segments (`nil` for `[]`), checking the shape and depth.
    /// Each part is validated as UTF-8 on its own, which is equivalent to validating the key: brackets are ASCII,
    /// so they never split a valid multi-byte sequence.
    private static func splitKey(
        _ key: [UInt8], into segments: inout [String?], maxDepth: Int, offset: Int
    ) throws(KommoWebhookError) -> String {
        segments.removeAll(keepingCapacity: true)
        var index = 0
        while index < key.count, key[index] != open {
            if key[index] == close { throw malformed(key, offset, "a ']' without a matching '['") }
            index += 1
        }
        if index == 0 { throw malformed(key, offset, "the key has no name before its brackets") }
        let name = try text(key[0..<index], offset)
        while index < key.count {
            guard key[index] == open else { throw malformed(key, offset, "text after a closing ']'") }
            var end = index + 1
            while end < key.count, key[end] != close {
                if key[end] == open { throw malformed(key, offset, "a '[' inside brackets") }
                end += 1
            }
            guard end < key.count else { throw malformed(key, offset, "a '[' without a matching ']'") }
            if segments.count == maxDepth {
                throw KommoWebhookError(code: .tooDeep, path: printable(key), byteOffset: offset,
                                        detail: "a key nests deeper than \(maxDepth) bracket levels")
            }
            segments.append(end == index + 1 ? nil : try text(key[(index + 1)..<end], offset))
            index = end + 1
        }
        return name
    }

    private static func text(_ bytes: ArraySlice<UInt8>, _ offset: Int) throws(KommoWebhookError) -> String {
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw KommoWebhookError(code: .invalidUTF8, byteOffset: offset,
                                    detail: "a key is not valid UTF-8 after percent-decoding")
        }
        return string
    }

    private static func malformed(_ key: [UInt8], _ offset: Int, _ detail: String) -> KommoWebhookError {
        KommoWebhookError(code: .malformedKey, path: printable(key), byteOffset: offset, detail: detail)
    }

    /// The key for an error message (invalid UTF-8 shown as U+FFFD; the error shortens it further).
    private static func printable(_ key: [UInt8]) -> String {
        String(decoding: key.prefix(400), as: UTF8.self)
    }
}
