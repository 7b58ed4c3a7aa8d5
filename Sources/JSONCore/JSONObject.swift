/// A JSON object whose members are kept in the order ``JSONWriter`` writes them: sorted by the UTF-8 bytes of their
/// keys, each key once.
///
/// The object fields of a Segment message (`properties`, `traits`, `context`, `integrations`) are `JSONObject`s, so
/// that a message is built without hashing a key and written without sorting one: the members are put in order when
/// the object is made (a literal written in key order costs one comparison a member) and stay in order as members are
/// set. Build one from a literal (`["plan": "pro", "seats": 5]`), from a `[String: JSONValue]` with
/// ``init(_:)-(Dictionary<String,JSONValue>)``, or member by member with the key subscript; read it as a collection
/// of `(key, value)` pairs in key order, or by key. ``JSONValue/object(_:)-swift.enum.case`` holds one too.
public struct JSONObject: Sendable {
    /// The members, sorted by key, keys unique. Plain pairs, the element type of a dictionary literal, so that a
    /// literal's own array becomes the storage and is sorted in place.
    @usableFromInline var members: [(String, JSONValue)]

    /// An empty object.
    @inlinable
    public init() { members = [] }

    /// The members of `dictionary`.
    public init(_ dictionary: [String: JSONValue]) {
        members = []
        members.reserveCapacity(dictionary.count)
        JSONWriter.forEachSorted(dictionary) { key, value in members.append((key, value)) }
    }

    /// The members of `pairs`; a repeated key keeps its last value.
    public init<Pairs: Sequence>(_ pairs: Pairs) where Pairs.Element == (String, JSONValue) {
        self.init(sorting: Array(pairs))
    }

    /// The members of `pairs`; a repeated key keeps its last value. The array becomes the object's storage, sorted
    /// in place: gather members in an array and hand it over (`JSONObject(consume pairs)`) to build an object
    /// without a copy.
    public init(_ pairs: consuming [(String, JSONValue)]) {
        self.init(sorting: consume pairs)
    }

    /// The members of `pairs` in key order, a repeated key keeping its last value: `pairs` itself, sorted in place.
    ///
    /// Pairs already in key order (a literal written so) cost one comparison each. Otherwise an insertion sort
    /// (objects are small) swaps the pairs, each key's first eight bytes held beside it as one integer, so that most
    /// pairs of keys are ordered by one integer comparison. Stable, so the last of equal keys comes last.
    init(sorting pairs: consuming [(String, JSONValue)]) {
        members = consume pairs
        let count = members.count
        guard count > 1 else { return }
        var ordered = true
        var index = 1
        while ordered && index < count {
            ordered = JSONWriter.precedes(members[index - 1].0, members[index].0)
            index += 1
        }
        if ordered { return }
        let repeated: Bool
        if count > 32 {
            // Large objects: a library sort, made stable by the original positions.
            members = members.enumerated().sorted {
                $0.element.0 == $1.element.0 ? $0.offset < $1.offset : JSONWriter.precedes($0.element.0, $1.element.0)
            }.map(\.element)
            repeated = zip(members, members.dropFirst()).contains { $0.0 == $1.0 }
        } else {
            repeated = sortSmall()
        }
        guard repeated else { return }
        var unique: [(String, JSONValue)] = []
        unique.reserveCapacity(count)
        for pair in members {
            if let last = unique.last, last.0 == pair.0 {
                unique[unique.count - 1].1 = pair.1
            } else {
                unique.append(pair)
            }
        }
        members = unique
    }

    /// Sorts ``members`` in place (`JSONWriter.sortByKey`); whether two keys are equal.
    private mutating func sortSmall() -> Bool {
        let count = members.count
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { prefixes in
            members.withUnsafeMutableBufferPointer { pairs in JSONWriter.sortByKey(pairs, prefixes: prefixes) { $0.0 } }
        }
    }

    /// The members as a dictionary (for APIs that take one).
    public var dictionary: [String: JSONValue] {
        var dictionary = [String: JSONValue](minimumCapacity: members.count)
        for (key, value) in members { dictionary[key] = value }
        return dictionary
    }

    /// The keys, in order.
    public var keys: [String] { members.map(\.0) }

    /// The values, in the order of their keys.
    public var values: [JSONValue] { members.map(\.1) }

    /// The value of `key`; setting `nil` removes the member.
    public subscript(key: String) -> JSONValue? {
        get {
            let (index, found) = find(key)
            // Not a ternary: its `nil` would be read as JSONValue's nil literal, `.null`.
            guard found else { return nil }
            return members[index].1
        }
        set {
            let (index, found) = find(key)
            switch (found, newValue) {
            case (true, let value?): members[index].1 = value
            case (true, nil): members.remove(at: index)
            case (false, let value?): members.insert((key, value), at: index)
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
        var merged: [(String, JSONValue)] = []
        merged.reserveCapacity(members.count + other.members.count)
        var mine = 0, theirs = 0
        while mine < members.count && theirs < other.members.count {
            let a = members[mine], b = other.members[theirs]
            if a.0 == b.0 {
                merged.append((a.0, try combine(a.1, b.1)))
                mine += 1
                theirs += 1
            } else if JSONWriter.precedes(a.0, b.0) {
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
            let order = JSONWriter.compare(members[middle].0, key)
            if order == 0 { return (middle, true) }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }
}

extension JSONObject: Hashable {
    /// Whether both have the same members (in the same order, since both are sorted).
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// Hashes the members in order.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(members.count)
        for (key, value) in members {
            hasher.combine(key)
            hasher.combine(value)
        }
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
        return (member.0, member.1)
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
        for (key, value) in members { try container.encode(value, forKey: MemberKey(stringValue: key)) }
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

extension JSONWriter {
    /// Writes an object; its members are in order already. Every object is written here, a dictionary's too.
    public mutating func write(_ object: JSONObject) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in object.members {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            write(key)
            bytes.append(UInt8(ascii: ":"))
            write(value)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}
