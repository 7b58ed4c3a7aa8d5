import Foundation
import JSONCore

/// A growable run of bytes owned by one parse: the decoded keys and values of a body, which the tree's nodes point
/// into by offset. Written through its pointer, so decoding a pair costs no array bookkeeping per byte.
final class WebhookByteArena {
    private(set) var base: UnsafeMutablePointer<UInt8>
    /// The bytes written so far.
    var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `extra` more bytes after ``count``.
    @inline(__always)
    func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Appends `length` bytes from `source`.
    func append(_ source: UnsafePointer<UInt8>, count length: Int) {
        reserve(length)
        (base + count).update(from: source, count: length)
        count += length
    }

    /// The bytes at `start..<start + length`.
    @inline(__always)
    func bytes(_ start: Int, _ length: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + start, count: length)
    }

    /// The bytes at `start..<start + length` as a string; they were validated as UTF-8 when written.
    func string(_ start: Int, _ length: Int) -> String {
        String(decoding: bytes(start, length), as: UTF8.self)
    }
}

/// Room for the offsets of one key's brackets, reused from key to key.
final class WebhookOffsetBuffer {
    private(set) var base: UnsafeMutablePointer<Int>
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `count` offsets; what was there is not kept.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        base.deallocate()
        capacity = max(count, capacity * 2)
        base = .allocate(capacity: capacity)
    }
}

/// The parts of one key (the name, then each bracket segment) as ranges of the decoded key, and the node each led
/// to. A key has at most `maxDepth + 1` parts, so the room is set once per body.
final class WebhookKeyParts {
    /// Where each part starts in the key; -1 for `[]`.
    let starts: UnsafeMutablePointer<Int>
    /// Where each part ends in the key.
    let ends: UnsafeMutablePointer<Int>
    /// The node reached after each part.
    let nodes: UnsafeMutablePointer<Int>
    var count = 0
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        starts = .allocate(capacity: self.capacity)
        ends = .allocate(capacity: self.capacity)
        nodes = .allocate(capacity: self.capacity)
    }

    deinit {
        starts.deallocate()
        ends.deallocate()
        nodes.deallocate()
    }

    /// Adds a part; the caller has checked the depth, so there is always room.
    @inline(__always)
    func append(_ start: Int, _ end: Int) {
        starts[count] = start
        ends[count] = end
        count += 1
    }
}

/// A decoded PHP-style form body (`section[action][0][field]=value&…`) as a tree of byte-keyed maps with byte leaves.
/// Nodes are stored flat in one array and point into one byte arena, so that building the tree makes no string and
/// no allocation per key segment: strings are made only for the fields the item decoder reads as text.
///
/// Repeated keys follow PHP's rule: the last assignment wins, and a leaf and a map at the same path replace each
/// other. Real Kommo bodies never repeat a key; the rule only makes odd input deterministic.
struct WebhookFormTree {
    /// One node: a leaf (`leafCount >= 0`, no children) or a map (`leafCount < 0`). Only the root starts empty.
    struct Node {
        /// The node's own key, `keyCount` bytes of the arena from `keyStart`.
        var keyStart = 0
        var keyCount = 0
        /// The value of a leaf, `leafCount` bytes of the arena from `leafStart`; `leafCount` is -1 for a map.
        var leafStart = 0
        var leafCount = -1
        /// The children in creation order, as a list through ``nextSibling``; -1 ends it.
        var firstChild = -1
        var lastChild = -1
        var nextSibling = -1
        var childCount = 0
        /// The index an empty segment (`[]`) appends at: one past the largest numeric key seen.
        var nextAppendIndex = 0
        /// The value of this node's own key when it is numeric with at most 18 significant digits, else -1: items
        /// are sorted on it without reading the key again.
        var keyIndex = -1

        var isLeaf: Bool { leafCount >= 0 }
    }

    /// The first time a top-level key (`action == nil`) or a `key[action]` pair was created, in body order.
    struct Appearance {
        var entity: String
        var action: String?
    }

    /// How many children a map holds before they are indexed by a dictionary: most maps have a handful, found by
    /// comparing bytes; past this a dictionary finds them, so that a map of many siblings costs no more per key.
    static let indexedChildren = 32

    static let root = 0
    /// The decoded bytes every node points into.
    let text: WebhookByteArena
    private(set) var nodes: [Node] = [Node()]
    /// The dictionaries of the maps with more than ``indexedChildren`` children, by the map's node.
    private var indexes: [Int: [String: Int]] = [:]
    private(set) var appearances: [Appearance] = []
    /// How many `section[action][index]` maps were created outside `account`: a lower bound on the number of items,
    /// kept while scanning so that a body with too many items is refused before any of them is sorted or decoded.
    private(set) var itemCount = 0

    init(capacity: Int) {
        text = WebhookByteArena(capacity: capacity)
        nodes.reserveCapacity(max(16, capacity / 24))
    }

    /// Assigns the value at `valueStart..<valueStart + valueCount` of the arena at the key path `parts`, whose
    /// first `shared` parts (the name is part 0) were already walked to `start`; a part without a start is PHP's
    /// `[]` (append). The node reached after each of the others is stored in `parts`. `name` is the key's name.
    mutating func insert(
        name: String, from start: Int, shared: Int, key: UnsafeBufferPointer<UInt8>, parts: WebhookKeyParts,
        valueStart: Int, valueCount: Int
    ) {
        var current = start
        for depth in shared..<parts.count {
            let partStart = parts.starts[depth]
            let found: Int?
            let keyStart = text.count, keyCount: Int
            if partStart >= 0 {
                let bytes = UnsafeBufferPointer(rebasing: key[partStart..<parts.ends[depth]])
                found = child(current, bytes: bytes)
                keyCount = bytes.count
                if found == nil, let address = bytes.baseAddress, keyCount > 0 {
                    text.append(address, count: keyCount)
                }
            } else {
                // PHP's `[]`: the digits of the next index, written into the arena, then looked up like any key.
                keyCount = Self.writeDigits(nodes[current].nextAppendIndex, into: text)
                found = child(current, bytes: text.bytes(keyStart, keyCount))
                if found != nil { text.count = keyStart }
            }
            if let found {
                current = found
            } else {
                nodes[current].leafCount = -1
                let index = nodes.count
                var node = Node()
                node.keyStart = keyStart
                node.keyCount = keyCount
                if let number = Self.sortIndex(text.bytes(keyStart, keyCount)) {
                    node.keyIndex = number
                    // PHP's `[]` appends after the largest index of up to 18 digits, leading zeros included.
                    if keyCount <= 18, number >= nodes[current].nextAppendIndex {
                        nodes[current].nextAppendIndex = number + 1
                    }
                }
                nodes.append(node)
                addChild(index, to: current)
                if depth == 0 {
                    appearances.append(Appearance(entity: text.string(keyStart, keyCount), action: nil))
                } else if depth == 1 {
                    appearances.append(Appearance(entity: name, action: text.string(keyStart, keyCount)))
                } else if depth == 2, name != "account" {
                    itemCount += 1
                }
                current = index
            }
            parts.nodes[depth] = current
        }
        nodes[current].leafStart = valueStart
        nodes[current].leafCount = valueCount
        if nodes[current].childCount > 0 {
            nodes[current].firstChild = -1
            nodes[current].lastChild = -1
            nodes[current].childCount = 0
            indexes[current] = nil
        }
    }

    private mutating func addChild(_ child: Int, to parent: Int) {
        let last = nodes[parent].lastChild
        if last >= 0 {
            nodes[last].nextSibling = child
        } else {
            nodes[parent].firstChild = child
        }
        nodes[parent].lastChild = child
        nodes[parent].childCount += 1
        let count = nodes[parent].childCount
        if count > Self.indexedChildren + 1 {
            indexes[parent, default: [:]][key(child)] = child
        } else if count == Self.indexedChildren + 1 {
            var index: [String: Int] = [:]
            index.reserveCapacity(count * 2)
            var entry = nodes[parent].firstChild
            while entry >= 0 {
                index[key(entry)] = entry
                entry = nodes[entry].nextSibling
            }
            indexes[parent] = index
        }
    }

    /// Writes the decimal digits of a non-negative `value` at the end of `arena`; returns how many.
    private static func writeDigits(_ value: Int, into arena: WebhookByteArena) -> Int {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = value
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(0x30 + remaining % 10)
                remaining /= 10
            } while remaining > 0
            let length = buffer.count - index
            arena.append(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self) + index, count: length)
            return length
        }
    }

    // MARK: Reading

    /// The node at the key made of `bytes` under `node`, if `node` is a map that has it.
    func child(_ node: Int, bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        if nodes[node].childCount > Self.indexedChildren, let index = indexes[node] {
            return index[String(decoding: bytes, as: UTF8.self)]
        }
        let length = bytes.count
        var entry = nodes[node].firstChild
        while entry >= 0 {
            let candidate = nodes[entry]
            if candidate.keyCount == length,
               length == 0 || memcmp(text.base + candidate.keyStart, bytes.baseAddress!, length) == 0 {
                return entry
            }
            entry = candidate.nextSibling
        }
        return nil
    }

    /// The node at `key` under `node`, if `node` is a map that has it.
    func child(_ node: Int, _ key: String) -> Int? {
        var key = key
        return key.withUTF8 { child(node, bytes: $0) }
    }

    /// The key of `node`.
    func key(_ node: Int) -> String { text.string(nodes[node].keyStart, nodes[node].keyCount) }

    /// Whether the key of `node` is the bytes of `key`.
    func key(_ node: Int, equals key: UnsafeBufferPointer<UInt8>) -> Bool {
        let candidate = nodes[node]
        return candidate.keyCount == key.count
            && (key.isEmpty || memcmp(text.base + candidate.keyStart, key.baseAddress!, key.count) == 0)
    }

    /// Whether `node` is a leaf.
    func isLeaf(_ node: Int) -> Bool { nodes[node].isLeaf }

    /// The value of `node` as bytes, if it is a leaf.
    func leafBytes(_ node: Int) -> UnsafeBufferPointer<UInt8>? {
        let leaf = nodes[node]
        return leaf.isLeaf ? text.bytes(leaf.leafStart, leaf.leafCount) : nil
    }

    /// The value of `node`, if it is a leaf.
    func leaf(_ node: Int) -> String? {
        let leaf = nodes[node]
        return leaf.isLeaf ? text.string(leaf.leafStart, leaf.leafCount) : nil
    }

    /// The value of the leaf at `key` under `node`, if there is one.
    func leaf(_ node: Int, _ key: String) -> String? { child(node, key).flatMap { leaf($0) } }

    /// The children of a map in the order they first appeared in the body, read off their list as they are
    /// iterated.
    func children(_ node: Int) -> Children { Children(nodes: nodes, first: nodes[node].firstChild) }

    /// The children of one map, in creation order.
    struct Children: Sequence, IteratorProtocol {
        let nodes: [Node]
        var first: Int

        mutating func next() -> Int? {
            guard first >= 0 else { return nil }
            defer { first = nodes[first].nextSibling }
            return first
        }
    }

    /// The children of a map in index order: numeric keys ascending by value, then other keys in code-point order.
    ///
    /// Each key is examined once: keys of up to 18 significant digits are ordered by the value stored at
    /// insertion, the rest by a byte comparison, so sorting costs O(n log n) comparisons that read each key's bytes
    /// at most to where it differs from its neighbour. Children that came in index order, as Kommo sends them, are
    /// returned as they are.
    func orderedChildren(_ node: Int) -> [Int] {
        var children: [Int] = []
        children.reserveCapacity(nodes[node].childCount)
        children.append(contentsOf: self.children(node))
        var inOrder = true
        var previous = -1
        for child in children {
            let index = nodes[child].keyIndex
            if index <= previous {
                inOrder = false
                break
            }
            previous = index
        }
        if inOrder { return children }
        var small: [Int] = []
        var large: [SortKey] = []
        for child in children {
            if nodes[child].keyIndex >= 0 {
                small.append(child)
            } else {
                large.append(SortKey(node: child, tree: self))
            }
        }
        small.sort { lhs, rhs in
            let left = nodes[lhs].keyIndex, right = nodes[rhs].keyIndex
            return left != right ? left < right : keyBytes(lhs).lexicographicallyPrecedes(keyBytes(rhs))
        }
        guard !large.isEmpty else { return small }
        let text = text
        large.sort { $0.precedes($1, in: text) }
        return small + large.map(\.node)
    }

    private func keyBytes(_ node: Int) -> UnsafeBufferPointer<UInt8> {
        text.bytes(nodes[node].keyStart, nodes[node].keyCount)
    }

    /// A key with more than 18 significant digits, or not numeric, with what its place depends on computed once:
    /// numeric keys by value (significant digits: first their count, then their bytes), ties and the rest by their
    /// UTF-8 bytes, numeric before non-numeric.
    private struct SortKey {
        var node: Int
        var start: Int
        var count: Int
        /// Whether the key is all digits.
        var isNumeric: Bool
        /// Where the digits after the leading zeros start (numeric keys only), and how many there are.
        var significantStart: Int
        var significantCount: Int

        init(node: Int, tree: WebhookFormTree) {
            self.node = node
            start = tree.nodes[node].keyStart
            count = tree.nodes[node].keyCount
            let bytes = tree.text.bytes(start, count)
            isNumeric = WebhookFormTree.isNumeric(bytes)
            var zeros = 0
            if isNumeric { while zeros < count, bytes[zeros] == 0x30 { zeros += 1 } }
            significantStart = start + zeros
            significantCount = isNumeric ? count - zeros : 0
        }

        func precedes(_ other: SortKey, in text: WebhookByteArena) -> Bool {
            if isNumeric != other.isNumeric { return isNumeric }
            if isNumeric, significantCount != other.significantCount {
                return significantCount < other.significantCount
            }
            // Equal lengths of significant digits: their byte order is their numeric order, and the whole keys'
            // byte order breaks ties between equal values ("01" before "1").
            if isNumeric, significantCount > 0 {
                let order = memcmp(text.base + significantStart, text.base + other.significantStart, significantCount)
                if order != 0 { return order < 0 }
            }
            return text.bytes(start, count).lexicographicallyPrecedes(text.bytes(other.start, other.count))
        }
    }

    /// The subtree at `node` as JSON: leaves are strings, maps are objects keyed as in the body.
    func json(_ node: Int) -> JSONValue {
        if let leaf = leaf(node) { return .string(leaf) }
        var members: [String: JSONValue] = [:]
        members.reserveCapacity(nodes[node].childCount)
        var entry = nodes[node].firstChild
        while entry >= 0 {
            members[key(entry)] = json(entry)
            entry = nodes[entry].nextSibling
        }
        return .object(members)
    }

    // MARK: Index keys

    /// Whether `bytes` are a non-empty run of ASCII digits.
    static func isNumeric(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        for byte in bytes where byte < 0x30 || byte > 0x39 { return false }
        return true
    }

    /// The numeric value of `bytes` when they are a run of digits with at most 18 after the leading zeros.
    static func sortIndex(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        var significant = 0
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            if significant > 0 || byte != 0x30 {
                significant += 1
                if significant > 18 {
                    // Keep checking that the rest are digits: the key is numeric, only too long to index.
                    continue
                }
                value = value &* 10 &+ Int(byte - 0x30)
            }
        }
        return significant <= 18 ? value : nil
    }
}

/// Turns raw body bytes into a ``WebhookFormTree`` following the Kommo reference: split on `&`, split each pair on
/// its first `=`, turn `+` into a space, then percent-decode as UTF-8, then split the key into its bracket path.
///
/// Work is one pass over the bytes plus one lookup per key segment not shared with the previous key; every buffer
/// is reused and values are decoded straight into the tree's arena.
enum WebhookFormDecoder {
    private static let ampersand = UInt8(ascii: "&")
    private static let equals = UInt8(ascii: "=")
    private static let plus = UInt8(ascii: "+")
    private static let percent = UInt8(ascii: "%")
    private static let space = UInt8(ascii: " ")
    static let open = UInt8(ascii: "[")
    static let close = UInt8(ascii: "]")

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
        let count = bytes.count
        var tree = WebhookFormTree(capacity: count + count / 2)
        var previous = KeyPath(capacity: 256, maxDepth: maxDepth), current = KeyPath(capacity: 256, maxDepth: maxDepth)
        var pairs = 0
        var start = 0
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
            // The key is decoded straight into the path that splits it, the value into the tree's arena.
            current.key.count = 0
            var brackets = BracketRecorder(current, capacity: keyEnd - start, keyStart: start)
            // The raw bytes this key shares with the previous one, up to the end of a bracket, decode as they did
            // then: their decoded bytes and brackets are copied, and only the rest is decoded.
            let decodeFrom = brackets.reuse(previous, sharing: commonPrefix(bytes, start..<keyEnd, previous.raw),
                                            into: current.key)
            let keyIsASCII = try percentDecode(bytes, decodeFrom..<keyEnd, into: current.key, observer: &brackets)
            current.bracketCount = brackets.count
            current.reusedBrackets = decodeFrom == start ? 0 : brackets.reused
            current.raw = start..<keyEnd
            let valueStart = tree.text.count
            var values = IgnoringBrackets()
            let valueIsASCII = try percentDecode(bytes, (separator < 0 ? end : separator + 1)..<end, into: tree.text,
                                                 observer: &values)
            let valueCount = tree.text.count - valueStart
            if !valueIsASCII, !isValidUTF8(tree.text.bytes(valueStart, valueCount)) {
                throw KommoWebhookError(code: .invalidUTF8, byteOffset: start,
                                        detail: "a value is not valid UTF-8 after percent-decoding")
            }
            let shared = try splitKey(after: previous, into: &current, maxDepth: maxDepth, validate: !keyIsASCII,
                                      offset: start)
            current.parts.nodes.update(from: previous.parts.nodes, count: shared)
            tree.insert(name: current.name, from: shared == 0 ? WebhookFormTree.root : previous.parts.nodes[shared - 1],
                        shared: shared, key: current.key.bytes(0, current.key.count), parts: current.parts,
                        valueStart: valueStart, valueCount: valueCount)
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

    /// What is told of each decoded byte: nothing for a value; for a key, where its brackets are.
    protocol DecodedByteObserver {
        /// `byte` was written at `offset` of the output, decoded from the body's bytes up to `rawEnd`.
        mutating func decoded(_ byte: UInt8, at offset: Int, rawEnd: Int)
    }

    /// A value's bytes: nothing to record.
    struct IgnoringBrackets: DecodedByteObserver {
        /// Never read: it keeps the type from being zero-sized. Swift passes a zero-sized value `inout` at one
        /// address shared by every caller (the type's metadata), so two threads decoding at once look to the
        /// thread sanitizer like two writes of one variable, though nothing is written.
        private var unused: UInt8 = 0
        @inline(__always) mutating func decoded(_ byte: UInt8, at offset: Int, rawEnd: Int) {}
    }

    /// A key's bytes: the offset of every `[` and `]` in the decoded key, which is all that
    /// ``splitKey(after:into:maxDepth:validate:offset:)`` needs to read, and where each ends in the raw key, which
    /// is how far the next key may reuse this one.
    struct BracketRecorder: DecodedByteObserver {
        let offsets: UnsafeMutablePointer<Int>
        let rawEnds: UnsafeMutablePointer<Int>
        let keyStart: Int
        /// Where the bytes being decoded go in the key: after what was reused.
        var base = 0
        var count = 0
        /// How many of the brackets were copied from the previous key.
        var reused = 0

        /// Records into the buffers of `path`, with room for a key of `capacity` raw bytes from `keyStart`.
        init(_ path: borrowing KeyPath, capacity: Int, keyStart: Int) {
            path.brackets.reserve(capacity)
            path.rawEnds.reserve(capacity)
            offsets = path.brackets.base
            rawEnds = path.rawEnds.base
            self.keyStart = keyStart
        }

        /// Copies into `key` the decoded bytes and brackets of `previous` up to its last bracket that ends within
        /// the first `sharing` raw bytes, which both keys have in common. Returns where decoding goes on in the body.
        mutating func reuse(_ previous: borrowing KeyPath, sharing: Int, into key: WebhookByteArena) -> Int {
            var last = previous.bracketCount - 1
            while last >= 0, previous.rawEnds.base[last] > sharing { last -= 1 }
            guard last >= 0 else { return keyStart }
            count = last + 1
            reused = count
            offsets.update(from: previous.brackets.base, count: count)
            rawEnds.update(from: previous.rawEnds.base, count: count)
            base = offsets[last] + 1
            key.append(previous.key.base, count: base)
            return keyStart + rawEnds[last]
        }

        @inline(__always) mutating func decoded(_ byte: UInt8, at offset: Int, rawEnd: Int) {
            if byte == WebhookFormDecoder.open || byte == WebhookFormDecoder.close {
                offsets[count] = base + offset
                rawEnds[count] = rawEnd - keyStart
                count += 1
            }
        }
    }

    /// How many bytes `range` of `bytes` has in common at its start with `other`, compared eight at a time.
    private static func commonPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ other: Range<Int>) -> Int {
        let length = min(range.count, other.count)
        guard length > 0, let base = bytes.baseAddress else { return 0 }
        let left = UnsafeRawPointer(base + range.lowerBound), right = UnsafeRawPointer(base + other.lowerBound)
        var index = 0
        while index + 8 <= length {
            let difference = left.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                ^ right.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if difference != 0 { return index + UInt64(littleEndian: difference).trailingZeroBitCount / 8 }
            index += 8
        }
        while index < length, base[range.lowerBound + index] == base[other.lowerBound + index] { index += 1 }
        return index
    }

    /// Appends the decoded bytes of `range` to `output`: `+` is a space, `%XX` is one byte; each decoded byte is
    /// shown to `observer`. Returns whether every decoded byte is ASCII.
    private static func percentDecode<Observer: DecodedByteObserver>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into output: WebhookByteArena,
        observer: inout Observer
    ) throws(KommoWebhookError) -> Bool {
        guard !range.isEmpty, let source = bytes.baseAddress else { return true }
        output.reserve(range.count)
        let first = output.base + output.count
        var target = first
        var seen: UInt8 = 0  // every byte written, or-ed: its high bit says whether one was not ASCII
        var index = range.lowerBound
        let end = range.upperBound
        while index < end {
            let byte = source[index]
            if byte == percent {
                guard index + 2 < end, let high = hexValue(source[index + 1]), let low = hexValue(source[index + 2])
                else {
                    throw KommoWebhookError(code: .invalidPercentEncoding, byteOffset: index,
                                            detail: "'%' is not followed by two hexadecimal digits")
                }
                let decoded = high << 4 | low
                target.pointee = decoded
                seen |= decoded
                observer.decoded(decoded, at: target - first, rawEnd: index + 3)
                index += 3
            } else {
                let decoded = byte == plus ? space : byte
                target.pointee = decoded
                seen |= decoded
                observer.decoded(decoded, at: target - first, rawEnd: index + 1)
                index += 1
            }
            target += 1
        }
        output.count += target - first
        return seen < 0x80
    }

    /// The index of the first `byte` in `bytes[from..<to]`, or `to` (`memchr`).
    private static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int {
        guard from < to, let base = bytes.baseAddress,
              let found = memchr(base + from, Int32(byte), to - from) else { return to }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// Whether `bytes` are well-formed UTF-8 (the Unicode Standard's table 3-7: no overlong forms, no surrogates,
    /// nothing past U+10FFFF).
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        @inline(__always) func continuation(_ at: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            at < count && bytes[at] >= low && bytes[at] <= high
        }
        while index < count {
            let lead = bytes[index]
            switch lead {
            case 0x00...0x7F:
                index += 1
            case 0xC2...0xDF:
                guard continuation(index + 1) else { return false }
                index += 2
            case 0xE0:
                guard continuation(index + 1, 0xA0), continuation(index + 2) else { return false }
                index += 3
            case 0xE1...0xEC, 0xEE...0xEF:
                guard continuation(index + 1), continuation(index + 2) else { return false }
                index += 3
            case 0xED:
                guard continuation(index + 1, 0x80, 0x9F), continuation(index + 2) else { return false }
                index += 3
            case 0xF0:
                guard continuation(index + 1, 0x90), continuation(index + 2), continuation(index + 3) else {
                    return false
                }
                index += 4
            case 0xF1...0xF3:
                guard continuation(index + 1), continuation(index + 2), continuation(index + 3) else { return false }
                index += 4
            case 0xF4:
                guard continuation(index + 1, 0x80, 0x8F), continuation(index + 2), continuation(index + 3) else {
                    return false
                }
                index += 4
            default:
                return false
            }
        }
        return true
    }

    /// The parts of the previous key and the nodes they led to. Consecutive keys of a Kommo body share most of
    /// their path (`leads[status][0][…]`), so a part equal, byte for byte, to the previous key's part at the same
    /// place (and every part before it) reuses its node: no dictionary is searched and no list walked for it.
    struct KeyPath {
        /// The decoded key.
        var key: WebhookByteArena
        /// The offsets in ``key`` of its `[` and `]`, in order: the first ``bracketCount`` of this buffer.
        var brackets: WebhookOffsetBuffer
        /// Where each bracket ends in the raw key (the byte after it, or after its `%5B`/`%5D`).
        var rawEnds: WebhookOffsetBuffer
        var bracketCount = 0
        /// How many of the brackets, from the first, were copied from the previous key with the bytes before them:
        /// the parts they close are the previous key's.
        var reusedBrackets = 0
        /// The raw key in the body.
        var raw = 0..<0
        /// The name (part 0) and each bracket segment, as ranges of ``key``, and the node each led to.
        var parts: WebhookKeyParts
        /// The key's name.
        var name = ""

        init(capacity: Int, maxDepth: Int) {
            key = WebhookByteArena(capacity: capacity)
            brackets = WebhookOffsetBuffer(capacity: capacity)
            rawEnds = WebhookOffsetBuffer(capacity: capacity)
            parts = WebhookKeyParts(capacity: maxDepth + 1)
        }

        /// Whether part `index` of this key is `range` of `bytes`.
        func has(part index: Int, equalTo range: Range<Int>, of bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            guard index < parts.count else { return false }
            let start = parts.starts[index]
            guard start >= 0, parts.ends[index] - start == range.count else { return false }
            return range.isEmpty || memcmp(key.base + start, bytes.baseAddress! + range.lowerBound, range.count) == 0
        }
    }

    /// Splits the decoded key in `path.key` into its name and bracket segments, checking the shape and depth, into
    /// `path` (its parts and name; its nodes are cleared). Returns how many leading parts equal those of
    /// `previous`. When `validate` is set (the key has a byte that is not ASCII), each part not shared is validated
    /// as UTF-8 on its own, which is equivalent to validating the key: brackets are ASCII, so they never split a
    /// valid multi-byte sequence. A shared part was validated with the previous key.
    private static func splitKey(
        after previous: KeyPath, into path: inout KeyPath, maxDepth: Int, validate: Bool, offset: Int
    ) throws(KommoWebhookError) -> Int {
        path.parts.count = 0
        let key = path.key.bytes(0, path.key.count)
        let brackets = UnsafeBufferPointer(start: path.brackets.base, count: path.bracketCount)
        let count = key.count
        // The key is read through the offsets of its brackets only: what lies between them is never scanned.
        var next = 0  // the next bracket in `brackets`
        var index = brackets.first ?? count  // where the name ends
        if next < brackets.count, key[index] == close { throw malformed(key, offset, "a ']' without a matching '['") }
        if index == 0 { throw malformed(key, offset, "the key has no name before its brackets") }
        let reused = path.reusedBrackets
        var shared = 0
        if reused > 0 || previous.has(part: 0, equalTo: 0..<index, of: key) {
            path.name = previous.name
            shared = 1
        } else {
            let name = UnsafeBufferPointer(rebasing: key[0..<index])
            if validate { try check(name, offset) }
            path.name = String(decoding: name, as: UTF8.self)
        }
        path.parts.append(0, index)
        while index < count {
            // `index` is just past the name or a `]`: a `[` must open the next segment there.
            guard next < brackets.count, brackets[next] == index, key[index] == open else {
                throw malformed(key, offset, "text after a closing ']'")
            }
            next += 1
            guard next < brackets.count else { throw malformed(key, offset, "a '[' without a matching ']'") }
            let end = brackets[next]
            if key[end] == open { throw malformed(key, offset, "a '[' inside brackets") }
            next += 1
            if path.parts.count > maxDepth {
                throw KommoWebhookError(code: .tooDeep, path: printable(key), byteOffset: offset,
                                        detail: "a key nests deeper than \(maxDepth) bracket levels")
            }
            let range = (index + 1)..<end
            if range.isEmpty {
                path.parts.append(-1, -1)
            } else {
                // A part closed by a copied bracket is the previous key's, byte for byte.
                if shared == path.parts.count, next <= reused || previous.has(part: shared, equalTo: range, of: key) {
                    shared += 1
                } else if validate {
                    try check(UnsafeBufferPointer(rebasing: key[range]), offset)
                }
                path.parts.append(range.lowerBound, range.upperBound)
            }
            index = end + 1
        }
        return shared
    }

    private static func check(_ part: UnsafeBufferPointer<UInt8>, _ offset: Int) throws(KommoWebhookError) {
        guard isValidUTF8(part) else {
            throw KommoWebhookError(code: .invalidUTF8, byteOffset: offset,
                                    detail: "a key is not valid UTF-8 after percent-decoding")
        }
    }

    private static func malformed(_ key: UnsafeBufferPointer<UInt8>, _ offset: Int, _ detail: String) -> KommoWebhookError {
        KommoWebhookError(code: .malformedKey, path: printable(key), byteOffset: offset, detail: detail)
    }

    /// The key for an error message (invalid UTF-8 shown as U+FFFD; the error shortens it further).
    private static func printable(_ key: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: key.prefix(400)), as: UTF8.self)
    }
}
