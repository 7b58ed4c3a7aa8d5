/// A JSON object whose members are kept in the order ``JSONWriter`` writes them: sorted by the UTF-8 bytes of their
/// keys, each key once.
///
/// The object fields of a Segment message (`properties`, `traits`, `context`, `integrations`) are `JSONObject`s, so
/// that a message is built without hashing a key and written without sorting one: the members are put in order when
/// the object is made (a literal written in key order costs one comparison a member) and stay in order as members are
/// set. Build one from a literal (`["plan": "pro", "seats": 5]`), from a `[String: JSONValue]` with
/// ``init(_:)-(Dictionary<String,JSONValue>)``, or member by member with the key subscript; read it as a collection
/// of `(key, value)` pairs in key order, or by key. Nested objects are ``JSONValue/object(_:)`` dictionaries.
public struct JSONObject: Sendable, Hashable {
    @usableFromInline
    struct Member: Sendable, Hashable {
        @usableFromInline var key: String
        @usableFromInline var value: JSONValue

        @inlinable init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The members, sorted by key, keys unique.
    @usableFromInline var members: [Member]

    /// An empty object.
    @inlinable
    public init() { members = [] }

    /// The members of `dictionary`.
    public init(_ dictionary: [String: JSONValue]) {
        members = []
        members.reserveCapacity(dictionary.count)
        JSONWriter.forEachSorted(dictionary) { key, value in members.append(Member(key: key, value: value)) }
    }

    /// The members of `pairs`; a repeated key keeps its last value.
    public init<Pairs: Sequence>(_ pairs: Pairs) where Pairs.Element == (String, JSONValue) {
        self.init(sorting: Array(pairs))
    }

    /// The members of `pairs` in key order, a repeated key keeping its last value, in one array allocation.
    ///
    /// Pairs already in key order (a literal written so) cost one comparison each. Otherwise positions are sorted
    /// on the stack, each tagged with its key's first eight bytes, so that most pairs of keys are ordered by one
    /// integer comparison (insertion sort: objects are small). Stable, so the last of equal keys comes last.
    init(sorting pairs: [(String, JSONValue)]) {
        let count = pairs.count
        var ordered = true
        var index = 1
        while ordered && index < count {
            ordered = JSONWriter.precedes(pairs[index - 1].0, pairs[index].0)
            index += 1
        }
        if ordered {
            members = pairs.map { Member(key: $0.0, value: $0.1) }
            return
        }
        members = withUnsafeTemporaryAllocation(of: (prefix: UInt64, index: Int).self, capacity: count) { order in
            for index in 0..<count {
                let key = pairs[index].0
                let prefix = JSONWriter.sortPrefix(key)
                var slot = index
                while slot > 0 {
                    let previous = order[slot - 1]
                    guard prefix < previous.prefix
                        || (prefix == previous.prefix && JSONWriter.precedes(key, pairs[previous.index].0))
                    else { break }
                    order[slot] = previous
                    slot -= 1
                }
                order[slot] = (prefix, index)
            }
            var result: [Member] = []
            result.reserveCapacity(count)
            for slot in 0..<count {
                let pair = pairs[order[slot].index]
                if let last = result.last, last.key == pair.0 {
                    result[result.count - 1].value = pair.1
                } else {
                    result.append(Member(key: pair.0, value: pair.1))
                }
            }
            return result
        }
    }

    /// The members as a dictionary (for APIs that take one).
    public var dictionary: [String: JSONValue] {
        var dictionary = [String: JSONValue](minimumCapacity: members.count)
        for member in members { dictionary[member.key] = member.value }
        return dictionary
    }

    /// The keys, in order.
    public var keys: [String] { members.map(\.key) }

    /// The values, in the order of their keys.
    public var values: [JSONValue] { members.map(\.value) }

    /// The value of `key`; setting `nil` removes the member.
    public subscript(key: String) -> JSONValue? {
        get {
            let (index, found) = find(key)
            // Not a ternary: its `nil` would be read as JSONValue's nil literal, `.null`.
            guard found else { return nil }
            return members[index].value
        }
        set {
            let (index, found) = find(key)
            switch (found, newValue) {
            case (true, let value?): members[index].value = value
            case (true, nil): members.remove(at: index)
            case (false, let value?): members.insert(Member(key: key, value: value), at: index)
            case (false, nil): break
            }
        }
    }

    /// Adds the members of `other`; for a key in both, `combine` gets this object's value and `other`'s and returns
    /// the one to keep (as `Dictionary.merge(_:uniquingKeysWith:)`).
    public mutating func merge(_ other: JSONObject,
                               uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue) rethrows {
        guard !other.members.isEmpty else { return }
        guard !members.isEmpty else {
            members = other.members
            return
        }
        // Both are sorted: one pass over the two, as in a merge sort.
        var merged: [Member] = []
        merged.reserveCapacity(members.count + other.members.count)
        var mine = 0, theirs = 0
        while mine < members.count && theirs < other.members.count {
            let a = members[mine], b = other.members[theirs]
            if a.key == b.key {
                merged.append(Member(key: a.key, value: try combine(a.value, b.value)))
                mine += 1
                theirs += 1
            } else if JSONWriter.precedes(a.key, b.key) {
                merged.append(a)
                mine += 1
            } else {
                merged.append(b)
                theirs += 1
            }
        }
        merged.append(contentsOf: members[mine...])
        merged.append(contentsOf: other.members[theirs...])
        members = merged
    }

    /// The object with `other`'s members added; see ``merge(_:uniquingKeysWith:)``.
    public func merging(_ other: JSONObject,
                        uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        var copy = self
        try copy.merge(other, uniquingKeysWith: combine)
        return copy
    }

    /// Where `key` is, or where it would go.
    private func find(_ key: String) -> (index: Int, found: Bool) {
        var low = 0, high = members.count
        while low < high {
            let middle = (low + high) / 2
            let candidate = members[middle].key
            if candidate == key { return (middle, true) }
            if JSONWriter.precedes(candidate, key) { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }
}

extension JSONObject: RandomAccessCollection {
    /// A member: its key and value.
    public typealias Element = (key: String, value: JSONValue)

    /// The position of the first member.
    @inlinable public var startIndex: Int { 0 }
    /// The position after the last member.
    @inlinable public var endIndex: Int { members.count }

    /// The member at `position`, in key order.
    @inlinable
    public subscript(position: Int) -> Element {
        let member = members[position]
        return (member.key, member.value)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// Keys are strings.
    public typealias Key = String
    /// Values are JSON values.
    public typealias Value = JSONValue

    /// A dictionary literal; a repeated key keeps its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(sorting: elements)
    }
}

extension JSONObject: Codable {
    private struct MemberKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes a JSON object.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode([String: JSONValue].self))
    }

    /// Encodes the members in key order.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: MemberKey.self)
        for member in members { try container.encode(member.value, forKey: MemberKey(stringValue: member.key)) }
    }
}

extension JSONObject: CustomStringConvertible {
    /// The object as compact JSON.
    public var description: String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.string
    }
}

extension JSONValue {
    /// The object value of `members`.
    public init(_ members: JSONObject) {
        self = .object(members.dictionary)
    }
}

extension JSONWriter {
    /// Writes an object; its members are in order already.
    public mutating func write(_ object: JSONObject) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for member in object.members {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            write(member.key)
            bytes.append(UInt8(ascii: ":"))
            write(member.value)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}
