import Foundation
import JSONCore

/// A decoded PHP-style form body (`section[action][0][field]=value&…`) as a tree of string-keyed maps with string
/// leaves, stored flat in one array so that building it costs one lookup per new key segment.
///
/// Repeated keys follow PHP's rule: the last assignment wins, and a leaf and a map at the same path replace each
/// other. Real Kommo bodies never repeat a key; the rule only makes odd input deterministic.
struct WebhookFormTree {
    /// One node: a leaf (`leaf != nil`, no children) or a map (`leaf == nil`). Only the root starts empty.
    struct Node {
        var leaf: String?
        /// The children in creation order. Most maps have a handful, found by comparing keys (no hashing, no table);
        /// past ``indexedChildren`` a dictionary indexes them, so that a map of many siblings costs no more.
        var children: [(key: String, node: Int)] = []
        var childIndex: [String: Int]?
        /// The index an empty segment (`[]`) appends at: one past the largest numeric key seen.
        var nextAppendIndex = 0
        /// The value of this node's own key when it is numeric with at most 18 significant digits, else -1: items
        /// are sorted on it without reading the key again.
        var keyIndex = -1
    }

    /// The first time a top-level key (`action == nil`) or a `key[action]` pair was created, in body order.
    struct Appearance {
        var entity: String
        var action: String?
    }

    /// How many children a map holds before they are indexed by a dictionary.
    static let indexedChildren = 12

    static let root = 0
    private(set) var nodes: [Node] = [Node()]
    private(set) var appearances: [Appearance] = []
    /// How many `section[action][index]` maps were created outside `account`: a lower bound on the number of items,
    /// kept while scanning so that a body with too many items is refused before any of them is sorted or decoded.
    private(set) var itemCount = 0

    /// Assigns `value` at a key path whose first `depth` parts (the name is part 0) were already walked to `start`;
    /// `parts` holds the rest, a `nil` part being PHP's `[]` (append). The node reached after each part is appended
    /// to `path`. `name` is the key's name, whether or not it is among `parts`.
    mutating func insert(name: String, from start: Int, depth startDepth: Int, parts: [String?], value: String,
                         path: inout [Int]) {
        var current = start
        var depth = startDepth
        for part in parts {
            let key = part ?? String(nodes[current].nextAppendIndex)
            if let child = child(current, key) {
                current = child
            } else {
                nodes[current].leaf = nil
                let index = nodes.count
                var node = Node()
                if let number = Self.sortIndex(key) {
                    node.keyIndex = number
                    // PHP's `[]` appends after the largest index of up to 18 digits, leading zeros included.
                    if key.utf8.count <= 18, number >= nodes[current].nextAppendIndex {
                        nodes[current].nextAppendIndex = number + 1
                    }
                }
                nodes.append(node)
                addChild(index, key: key, to: current)
                if depth == 0 {
                    appearances.append(Appearance(entity: key, action: nil))
                } else if depth == 1 {
                    appearances.append(Appearance(entity: name, action: key))
                } else if depth == 2, name != "account" {
                    itemCount += 1
                }
                current = index
            }
            path.append(current)
            depth += 1
        }
        nodes[current].leaf = value
        if !nodes[current].children.isEmpty {
            nodes[current].children = []
            nodes[current].childIndex = nil
        }
    }

    private mutating func addChild(_ child: Int, key: String, to parent: Int) {
        nodes[parent].children.append((key: key, node: child))
        if nodes[parent].childIndex != nil {
            nodes[parent].childIndex?[key] = child
        } else if nodes[parent].children.count > Self.indexedChildren {
            var index: [String: Int] = [:]
            index.reserveCapacity(nodes[parent].children.count * 2)
            for entry in nodes[parent].children { index[entry.key] = entry.node }
            nodes[parent].childIndex = index
        }
    }

    // MARK: Reading

    /// The node at `key` under `node`, if `node` is a map that has it.
    func child(_ node: Int, _ key: String) -> Int? {
        if let index = nodes[node].childIndex { return index[key] }
        for entry in nodes[node].children where entry.key == key { return entry.node }
        return nil
    }

    /// The value of `node`, if it is a leaf.
    func leaf(_ node: Int) -> String? { nodes[node].leaf }

    /// The value of the leaf at `key` under `node`, if there is one.
    func leaf(_ node: Int, _ key: String) -> String? { child(node, key).flatMap { nodes[$0].leaf } }

    /// The children of a map in the order they first appeared in the body.
    func children(_ node: Int) -> [(key: String, node: Int)] { nodes[node].children }

    /// The children of a map in index order: numeric keys ascending by value, then other keys in code-point order.
    ///
    /// Each key is examined once: keys of up to 18 significant digits are ordered by the value stored at insertion, the rest by a
    /// byte comparison, so sorting costs O(n log n) comparisons that read each key's bytes at most to where it
    /// differs from its neighbour.
    func orderedChildren(_ node: Int) -> [(key: String, node: Int)] {
        var small: [(key: String, node: Int)] = []
        var large: [SortKey] = []
        for (key, child) in nodes[node].children {
            if nodes[child].keyIndex >= 0 {
                small.append((key: key, node: child))
            } else {
                large.append(SortKey(key: key, node: child))
            }
        }
        small.sort { lhs, rhs in
            let left = nodes[lhs.node].keyIndex, right = nodes[rhs.node].keyIndex
            return left != right ? left < right : Self.bytesPrecede(lhs.key, rhs.key)
        }
        guard !large.isEmpty else { return small }
        large.sort()
        return small + large.map { (key: $0.key, node: $0.node) }
    }

    /// A key with more than 18 significant digits, or not numeric, with what its place depends on computed once:
    /// numeric keys by value (significant digits: first their count, then their bytes), ties and the rest by their
    /// UTF-8 bytes, numeric before non-numeric.
    private struct SortKey: Comparable {
        var key: String
        var node: Int
        /// Whether the key is all digits.
        var isNumeric: Bool
        /// The digits after the leading zeros (numeric keys only).
        var significant: Substring.UTF8View

        init(key: String, node: Int) {
            self.key = key
            self.node = node
            isNumeric = WebhookFormTree.isNumeric(key)
            significant = isNumeric ? Substring(key).utf8.drop { $0 == 0x30 } : Substring().utf8
        }

        static func < (lhs: SortKey, rhs: SortKey) -> Bool {
            if lhs.isNumeric != rhs.isNumeric { return lhs.isNumeric }
            if lhs.isNumeric, lhs.significant.count != rhs.significant.count {
                return lhs.significant.count < rhs.significant.count
            }
            // Equal lengths of significant digits: their byte order is their numeric order, and the whole keys'
            // byte order breaks ties between equal values ("01" before "1").
            if lhs.isNumeric, let order = WebhookFormTree.byteOrder(Substring(lhs.significant),
                                                                    Substring(rhs.significant)), order != 0 {
                return order < 0
            }
            return WebhookFormTree.bytesPrecede(lhs.key, rhs.key)
        }

        static func == (lhs: SortKey, rhs: SortKey) -> Bool { lhs.key == rhs.key }
    }

    /// Whether `lhs` comes before `rhs` in UTF-8 byte order.
    static func bytesPrecede(_ lhs: String, _ rhs: String) -> Bool {
        (byteOrder(Substring(lhs), Substring(rhs)) ?? 0) < 0
    }

    /// The sign of the UTF-8 byte comparison of two strings (memcmp, then length), or `nil` if either has no
    /// contiguous UTF-8 storage (never for the native strings the parser makes).
    static func byteOrder(_ lhs: Substring, _ rhs: Substring) -> Int? {
        lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right -> Int in
                let common = min(left.count, right.count)
                if common > 0, let a = left.baseAddress, let b = right.baseAddress {
                    let order = memcmp(a, b, common)
                    if order != 0 { return order < 0 ? -1 : 1 }
                }
                return left.count == right.count ? 0 : (left.count < right.count ? -1 : 1)
            }
        } ?? nil
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
        var key = key
        return key.withUTF8 { bytes in
            guard !bytes.isEmpty else { return false }
            for byte in bytes where byte < 0x30 || byte > 0x39 { return false }
            return true
        }
    }

    /// The numeric value of `key` when it is a run of digits with at most 18 after its leading zeros.
    static func sortIndex(_ key: String) -> Int? {
        guard isNumeric(key) else { return nil }
        let significant = Substring(key).utf8.drop { $0 == 0x30 }
        guard significant.count <= 18 else { return nil }
        return significant.isEmpty ? 0 : Int(Substring(significant))
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

    static func decode(_ body: Data, limits: KommoWebhookParser.Limits) throws(KommoWebhookError) -> WebhookFormTree {
        // The body is read in place; the closure's typed error travels out through a Result.
        let result = body.withUnsafeBytes { raw in
            Result { () throws(KommoWebhookError) -> WebhookFormTree in
                try decode(raw.bindMemory(to: UInt8.self), limits: limits)
            }
        }
        return try result.get()
    }

    static func decode(
        _ bytes: UnsafeBufferPointer<UInt8>, limits: KommoWebhookParser.Limits
    ) throws(KommoWebhookError) -> WebhookFormTree {
        let maxPairs = max(0, limits.maxPairs)
        let maxDepth = max(0, limits.maxDepth)
        let maxItems = max(0, limits.maxItems)
        var tree = WebhookFormTree()
        var valueBuffer: [UInt8] = []
        var parts: [String?] = []
        var previous = KeyPath(), current = KeyPath()
        var pairs = 0
        var start = 0
        let count = bytes.count
        while start < count {
            let end = firstIndex(of: ampersand, in: bytes, from: start, to: count)
            defer { start = end + 1 }
            if end == start { continue }
            let equalsAt = firstIndex(of: equals, in: bytes, from: start, to: end)
            let separator = equalsAt < end ? equalsAt : -1
            pairs += 1
            if pairs > maxPairs {
                throw KommoWebhookError(code: .tooManyPairs, byteOffset: start,
                                        detail: "more than \(maxPairs) name=value pairs")
            }
            let keyEnd = separator < 0 ? end : separator
            // The key is decoded straight into the path that splits it: no copy.
            try percentDecode(bytes, start..<keyEnd, into: &current.key)
            try percentDecode(bytes, (separator < 0 ? end : separator + 1)..<end, into: &valueBuffer)
            guard let value = string(valueBuffer[...]) else {
                throw KommoWebhookError(code: .invalidUTF8, byteOffset: start,
                                        detail: "a value is not valid UTF-8 after percent-decoding")
            }
            let shared = try splitKey(after: previous, into: &current, parts: &parts, maxDepth: maxDepth,
                                      offset: start)
            current.nodes.append(contentsOf: previous.nodes[0..<shared])
            tree.insert(name: current.name, from: shared == 0 ? WebhookFormTree.root : previous.nodes[shared - 1],
                        depth: shared, parts: parts, value: value, path: &current.nodes)
            swap(&previous, &current)
            if tree.itemCount > maxItems {
                throw KommoWebhookError.tooManyItems(maxItems, byteOffset: start)
            }
        }
        if pairs == 0 {
            throw KommoWebhookError(code: .emptyBody, detail: "the body holds no name=value pairs")
        }
        return tree
    }

    /// Appends the decoded bytes of `range` to `output` (cleared first): `+` is a space, `%XX` is one byte.
    private static func percentDecode(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into output: inout [UInt8]
    ) throws(KommoWebhookError) {
        output.removeAll(keepingCapacity: true)
        var index = range.lowerBound
        var run = index  // the start of the bytes to copy as they are, in one append
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte == plus || byte == percent else {
                index += 1
                continue
            }
            if run < index { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index])) }
            if byte == plus {
                output.append(space)
                index += 1
            } else {
                guard index + 2 < range.upperBound,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    throw KommoWebhookError(code: .invalidPercentEncoding, byteOffset: index,
                                            detail: "'%' is not followed by two hexadecimal digits")
                }
                output.append(high << 4 | low)
                index += 3
            }
            run = index
        }
        if run < range.upperBound {
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<range.upperBound]))
        }
    }

    /// The index of the first `byte` in `bytes[from..<to]`, or `to` (`memchr`).
    private static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int {
        guard from < to, let base = bytes.baseAddress,
              let found = memchr(base + from, Int32(byte), to - from) else { return to }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// The parts of the previous key and the nodes they led to. Consecutive keys of a Kommo body share most of
    /// their path (`leads[status][0][…]`), so a part equal, byte for byte, to the previous key's part at the same
    /// place (and every part before it) reuses its node: no string is made and no dictionary is searched for it.
    struct KeyPath {
        /// The decoded key.
        var key: [UInt8] = []
        /// The name (part 0) and each bracket segment, as ranges of ``key``; `nil` for `[]`, which is never shared.
        var parts: [Range<Int>?] = []
        /// The node reached after each part.
        var nodes: [Int] = []
        /// The key's name.
        var name = ""

        /// Whether part `index` of this key is `range` of `bytes`.
        func has(part index: Int, equalTo range: Range<Int>, of bytes: [UInt8]) -> Bool {
            guard index < parts.count, let own = parts[index], own.count == range.count else { return false }
            return key.withUnsafeBufferPointer { mine in
                bytes.withUnsafeBufferPointer { theirs in
                    guard let a = mine.baseAddress, let b = theirs.baseAddress else { return range.isEmpty }
                    return memcmp(a + own.lowerBound, b + range.lowerBound, range.count) == 0
                }
            }
        }
    }

    /// Splits the decoded key in `path.key` into its name and bracket segments, checking the shape and depth, into
    /// `path` (its parts and name; its nodes are cleared). Returns how many leading parts equal those of `previous`; `parts`
    /// receives the strings of the others (`nil` for `[]`). Each part is validated as UTF-8 on its own, which is
    /// equivalent to validating the key: brackets are ASCII, so they never split a valid multi-byte sequence. A
    /// shared part was validated with the previous key.
    private static func splitKey(
        after previous: KeyPath, into path: inout KeyPath, parts: inout [String?], maxDepth: Int, offset: Int
    ) throws(KommoWebhookError) -> Int {
        parts.removeAll(keepingCapacity: true)
        path.parts.removeAll(keepingCapacity: true)
        path.nodes.removeAll(keepingCapacity: true)
        let key = path.key
        var index = 0
        while index < key.count, key[index] != open {
            if key[index] == close { throw malformed(key, offset, "a ']' without a matching '['") }
            index += 1
        }
        if index == 0 { throw malformed(key, offset, "the key has no name before its brackets") }
        var shared = 0
        if previous.has(part: 0, equalTo: 0..<index, of: key) {
            path.name = previous.name
            shared = 1
        } else {
            path.name = try text(key[0..<index], offset)
            parts.append(path.name)
        }
        path.parts.append(0..<index)
        while index < key.count {
            guard key[index] == open else { throw malformed(key, offset, "text after a closing ']'") }
            var end = index + 1
            while end < key.count, key[end] != close {
                if key[end] == open { throw malformed(key, offset, "a '[' inside brackets") }
                end += 1
            }
            guard end < key.count else { throw malformed(key, offset, "a '[' without a matching ']'") }
            if path.parts.count > maxDepth {
                throw KommoWebhookError(code: .tooDeep, path: printable(key), byteOffset: offset,
                                        detail: "a key nests deeper than \(maxDepth) bracket levels")
            }
            let range = (index + 1)..<end
            if range.isEmpty {
                path.parts.append(nil)
                parts.append(nil)
            } else {
                if shared == path.parts.count, previous.has(part: shared, equalTo: range, of: key) {
                    shared += 1
                } else {
                    parts.append(try text(key[range], offset))
                }
                path.parts.append(range)
            }
            index = end + 1
        }
        return shared
    }

    private static func text(_ bytes: ArraySlice<UInt8>, _ offset: Int) throws(KommoWebhookError) -> String {
        guard let string = string(bytes) else {
            throw KommoWebhookError(code: .invalidUTF8, byteOffset: offset,
                                    detail: "a key is not valid UTF-8 after percent-decoding")
        }
        return string
    }

    /// `bytes` as a string if they are valid UTF-8. ASCII, which nearly every key and most values are, is checked
    /// by a plain loop and copied; only other text goes through the standard library's validation.
    private static func string(_ bytes: ArraySlice<UInt8>) -> String? {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func malformed(_ key: [UInt8], _ offset: Int, _ detail: String) -> KommoWebhookError {
        KommoWebhookError(code: .malformedKey, path: printable(key), byteOffset: offset, detail: detail)
    }

    /// The key for an error message (invalid UTF-8 shown as U+FFFD; the error shortens it further).
    private static func printable(_ key: [UInt8]) -> String {
        String(decoding: key.prefix(400), as: UTF8.self)
    }
}
