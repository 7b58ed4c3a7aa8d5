import Foundation
import JSONCore
import Testing

@Suite("JSON objects kept in key order", .timeLimit(.minutes(1)))
struct JSONObjectTests {
    /// Keys that share long prefixes, end inside another key's prefix, hold NUL bytes or are not ASCII: the cases
    /// where an eight-byte prefix cannot decide the order alone.
    static let awkwardKeys = [
        "deal_id", "deal_name", "deal", "deal_id_2", "from_stage", "from_stage_id", "a", "", "a\u{0}", "a\u{0}b",
        "pipeline_id", "pipeline", "pipeline_id_extra", "é", "é2", "Z", "z", "😀", "properties.x", "propertiesx",
    ]

    static func byBytes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    @Test("a literal's members come out sorted by UTF-8 bytes, a repeated key keeping its last value")
    func literal() {
        let object: JSONObject = ["b": 1, "a": 2, "b": 3, "é": "x", "B": true]
        #expect(object.keys == ["B", "a", "b", "é"])
        #expect(object["b"] == 3)
        #expect(object.description == #"{"B":true,"a":2,"b":3,"é":"x"}"#)
        let inOrder: JSONObject = ["a": 1, "b": 2]
        #expect(inOrder == ["b": 2, "a": 1])
        #expect(JSONObject().isEmpty && ([:] as JSONObject).count == 0)
    }

    @Test("keys with shared prefixes, NUL bytes and non-ASCII sort as their bytes do, from any input order")
    func awkwardOrders() {
        let expected = Self.awkwardKeys.sorted(by: Self.byBytes)
        let count = Self.awkwardKeys.count
        // Every stride coprime to the count, from every start, forwards and backwards: 160 orders.
        for stride in [1, 3, 7, 9, 11, 13, 17, 19] { for start in 0..<count { for backwards in [false, true] {
            var keys = (0..<count).map { Self.awkwardKeys[(start + $0 * stride) % count] }
            if backwards { keys.reverse() }
            let pairs = keys.enumerated().map { ($0.element, JSONValue.int(Int64($0.offset))) }
            let object = JSONObject(pairs)
            #expect(object.keys == expected)
            #expect(object.dictionary == Dictionary(uniqueKeysWithValues: pairs))
            #expect(JSONObject(object.dictionary) == object)
            // The writer's dictionary path orders the same keys the same way.
            var fromDictionary = JSONWriter(), fromObject = JSONWriter()
            fromDictionary.write(object.dictionary)
            fromObject.write(object)
            #expect(fromObject.bytes == fromDictionary.bytes)
        } } }
    }

    @Test("objects past 32 members sort the same way, a repeated key keeping its last value")
    func large() {
        for size in [33, 100, 300] {
            // Keys in descending order, each one twice with its second value last.
            let keys = (0..<size).map { "key\((size - $0) * 7919 % 1000)-\($0 % 3)" }
            let pairs = keys.map { ($0, JSONValue.int(1)) } + keys.reversed().map { ($0, JSONValue.string($0)) }
            let object = JSONObject(pairs)
            var model: [String: JSONValue] = [:]
            for (key, value) in pairs { model[key] = value }
            #expect(object.dictionary == model)
            #expect(object.keys == model.keys.sorted(by: Self.byBytes))
        }
    }

    @Test("setting, replacing and removing members agrees with a dictionary over 3,000 pseudo-random operations")
    func subscriptModel() {
        var object = JSONObject()
        var model: [String: JSONValue] = [:]
        var state: UInt64 = 42
        for step in 0..<3_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407  // a 64-bit LCG
            let key = Self.awkwardKeys[Int((state >> 33) % UInt64(Self.awkwardKeys.count))]
            let value: JSONValue? = (state >> 20) % 4 == 0 ? nil : .int(Int64(step))
            object[key] = value
            model[key] = value
            #expect(object[key] == model[key])
        }
        #expect(object.dictionary == model)
        #expect(object.keys == model.keys.sorted(by: Self.byBytes))
        #expect(object.map(\.value) == object.keys.map { model[$0]! })
    }

    @Test("merge agrees with Dictionary.merge, whichever side wins")
    func merging() {
        let mine: JSONObject = ["a": 1, "c": 3, "e": 5, "deal_id": 7]
        let theirs: JSONObject = ["b": 20, "c": 30, "deal_id_2": 70, "z": 90]
        for keepMine in [true, false] {
            let merged = mine.merging(theirs) { keepMine ? $0 : $1 }
            let expected = mine.dictionary.merging(theirs.dictionary) { keepMine ? $0 : $1 }
            #expect(merged.dictionary == expected)
            #expect(merged.keys == expected.keys.sorted(by: Self.byBytes))
        }
        var empty = JSONObject()
        empty.merge(theirs) { $1 }
        #expect(empty == theirs)
        #expect(mine.merging([:]) { $1 } == mine)
    }

    @Test("round-trips through Codable; as a JSON value it is the same object")
    func codable() throws {
        let object: JSONObject = ["price": 4800, "rate": 0.25, "tags": ["a", "б"], "none": nil, "nested": ["y": 1]]
        let back = try JSONDecoder().decode(JSONObject.self, from: JSONEncoder().encode(object))
        #expect(back == object)
        #expect(JSONValue.object(object) == .object(object.dictionary))
        #expect(JSONValue.object(object).description == object.description)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(JSONObject.self, from: Data("[1]".utf8)) }
    }
}
