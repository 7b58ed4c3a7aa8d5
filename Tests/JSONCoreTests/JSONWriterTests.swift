import Foundation
import JSONCore
import Testing

@Suite("JSON writer", .timeLimit(.minutes(1)))
struct JSONWriterTests {
    @Test("integers stay integers and floating-point numbers keep a fraction")
    func numbers() {
        #expect(JSONValue.int(4800).description == "4800")
        #expect(JSONValue.int(-9_223_372_036_854_775_808).description == "-9223372036854775808")
        #expect(JSONValue.double(4800).description == "4800.0")
        #expect(JSONValue.double(19.99).description == "19.99")
        #expect(JSONValue.double(.nan).description == "null")
        #expect(JSONValue(Decimal(string: "4800")!) == .int(4800))
        #expect(JSONValue(Decimal(string: "4800.50")!) == .double(4800.5))
    }

    @Test("objects are written with sorted keys, the same bytes every time")
    func sortedKeys() {
        let value: JSONValue = ["b": 1, "a": ["z": true, "y": nil], "é": "x", "B": [1, 2.5, "s"]]
        #expect(value.description == #"{"B":[1,2.5,"s"],"a":{"y":null,"z":true},"b":1,"é":"x"}"#)
    }

    @Test("escaping matches JSONSerialization on hard strings", arguments: [
        "Ольга Петрова", "emoji 😀👍🏽 and 🇷🇺", "quote \" backslash \\ slash /", "tab\tnew\nline\rcr",
        "\u{0}\u{1}\u{8}\u{C}\u{1F}\u{7F}", "«Ромашка» — ООО", "", "a&b%c=d+e",
    ])
    func escaping(text: String) throws {
        var writer = JSONWriter()
        writer.write(JSONValue.array([.string(text)]))
        let ours = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String]
        #expect(ours == [text])
        let theirs = try JSONSerialization.data(withJSONObject: [text])
        let back = try JSONSerialization.jsonObject(with: theirs) as? [String]
        #expect(ours == back)
        #expect(!writer.bytes.contains { $0 < 0x20 })
    }

    @Test("round-trips through Codable with integers and doubles kept apart")
    func codableRoundTrip() throws {
        let value: JSONValue = ["price": 4800, "rate": 0.25, "tags": ["a", "б"], "ok": false, "none": nil]
        let data = try JSONEncoder().encode(value)
        let back = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(back == value)
        var writer = JSONWriter()
        writer.write(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(writer.bytes)) == value)
    }
}

@Suite("ISO-8601 timestamps", .timeLimit(.minutes(1)))
struct ISO8601TimestampTests {
    @Test("UTC with milliseconds and Z", arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_795_000_000.0, "2026-11-18T11:06:40.000Z"),
        (1_796_033_702.123, "2026-11-30T10:15:02.123Z"),
        (951_782_400.5, "2000-02-29T00:00:00.500Z"),
        (-1.0, "1969-12-31T23:59:59.000Z"),
    ])
    func format(seconds: Double, expected: String) {
        #expect(ISO8601Timestamp.string(from: Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test("agrees with ISO8601DateFormatter across many dates")
    func agreesWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var seconds = -2_000_000_000.0
        while seconds < 4_000_000_000 {
            let date = Date(timeIntervalSince1970: seconds.rounded())
            #expect(ISO8601Timestamp.string(from: date) == formatter.string(from: date))
            seconds += 7_777_777.0
        }
    }
}

@Suite("JSON writer: escaping at every position", .timeLimit(.minutes(1)))
struct JSONWriterEscapingPositionTests {
    @Test("a special character anywhere in strings of every length round-trips", arguments: [
        "\"", "\\", "\n", "\u{0}", "\u{1F}", "é", "😀", "\u{7F}", " ",
    ])
    func everyPosition(special: String) throws {
        for length in 0..<34 {
            for position in 0...length {
                var text = String(repeating: "a", count: length)
                text.insert(contentsOf: special, at: text.index(text.startIndex, offsetBy: position))
                var writer = JSONWriter()
                writer.write(JSONValue.array([.string(text)]))
                let decoded = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String]
                #expect(decoded == [text], "length \(length), position \(position)")
                #expect(!writer.bytes.contains { $0 < 0x20 })
            }
        }
    }
}

@Suite("JSON writer: key order", .timeLimit(.minutes(1)))
struct JSONWriterKeyOrderTests {
    @Test("objects of every size up to 40 members come out sorted by UTF-8 bytes")
    func everySize() throws {
        for size in 0...40 {
            var members: [String: JSONValue] = [:]
            for i in 0..<size { members["k\((i * 7919) % 1000)é\(i)"] = .int(Int64(i)) }
            var writer = JSONWriter()
            writer.write(members)
            var order: [String] = []
            JSONWriter.forEachSorted(members) { key, _ in order.append(key) }
            #expect(order == members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            let decoded = try JSONDecoder().decode([String: JSONValue].self, from: Data(writer.bytes))
            #expect(decoded == members)
        }
    }
}
