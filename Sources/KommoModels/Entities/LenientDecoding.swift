import Foundation
import JSONCore

/// A coding key built from any string, for nested containers whose keys are chosen at run time.
struct EntityCodingKey: CodingKey, Hashable {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Decodes an element if it can and remembers `nil` otherwise, so one malformed item never fails its array.
struct LossyElement<Element: Decodable>: Decodable {
    var value: Element?
    init(from decoder: any Decoder) throws {
        value = try? Element(from: decoder)
    }
}

// Kommo's documentation itself shows garbage values in places; these readers accept the shapes seen in practice
// (numbers as strings, booleans as 0/1) and turn anything else into `nil` instead of failing the whole entity.
extension KeyedDecodingContainer {
    /// The raw JSON value under `key`; `nil` when absent or null.
    func lenientJSON(_ key: Key) -> JSONValue? {
        guard let value = try? decodeIfPresent(JSONValue.self, forKey: key), value != .null else { return nil }
        return value
    }

    /// An integer written as a number or a numeric string.
    func lenientInt(_ key: Key) -> Int? {
        lenientJSON(key).flatMap(JSONValue.kommoInt)
    }

    /// A string; numbers are accepted and written in decimal.
    func lenientString(_ key: Key) -> String? {
        switch lenientJSON(key) {
        case .string(let s)?: s
        case .int(let i)?: String(i)
        case .double(let d)?: String(d)
        default: nil
        }
    }

    /// A boolean written as `true`/`false`, `1`/`0` or their string forms.
    func lenientBool(_ key: Key) -> Bool? {
        switch lenientJSON(key) {
        case .bool(let b)?: b
        case .int(let i)?: i != 0
        case .string(let s)?:
            switch s.lowercased() {
            case "1", "true", "y", "yes": true
            case "0", "false", "n", "no", "": false
            default: nil
            }
        default: nil
        }
    }

    /// A date from Unix seconds (number or numeric string).
    func lenientDate(_ key: Key) -> Date? {
        switch lenientJSON(key) {
        case .int(let i)?: Date(timeIntervalSince1970: TimeInterval(i))
        case .double(let d)? where d.isFinite: Date(timeIntervalSince1970: d)
        case .string(let s)?: Double(s.trimmingCharacters(in: .whitespaces)).map(Date.init(timeIntervalSince1970:))
        default: nil
        }
    }

    /// A decimal number written as a number or a numeric string.
    func lenientDecimal(_ key: Key) -> Decimal? {
        switch lenientJSON(key) {
        case .int(let i)?: Decimal(i)
        case .double(let d)? where d.isFinite: Decimal(string: String(d), locale: Locale(identifier: "en_US_POSIX"))
        case .string(let s)?:
            Decimal(string: s.trimmingCharacters(in: .whitespaces), locale: Locale(identifier: "en_US_POSIX"))
        default: nil
        }
    }

    /// A value of any decodable type, or `nil` when absent, null or of another shape.
    func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(T.self, forKey: key)) ?? nil
    }

    /// The elements of an array that decode; absent, null or non-array values give an empty array.
    func lossyArray<T: Decodable>(_ type: T.Type, _ key: Key) -> [T] {
        guard let items = (try? decodeIfPresent([LossyElement<T>].self, forKey: key)) ?? nil else { return [] }
        return items.compactMap(\.value)
    }

    /// The `id` of an entity, which must be present: an entity without one cannot be referred to.
    func requiredID(_ key: Key) throws -> Int {
        guard let id = lenientInt(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "an entity needs an integer id"))
        }
        return id
    }
}

extension KeyedEncodingContainer {
    /// Writes a date as Unix seconds, or nothing when `nil`.
    mutating func encodeUnix(_ date: Date?, forKey key: Key) throws {
        guard let date else { return }
        try encode(Int64(date.timeIntervalSince1970.rounded(.down)), forKey: key)
    }
}

extension JSONValue {
    /// An integer from a whole number or a numeric string.
    static func kommoInt(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let i): Int(exactly: i)
        case .double(let d): d.isFinite && d.rounded() == d ? Int(exactly: d) : nil
        case .string(let s): Int(s.trimmingCharacters(in: .whitespaces))
        default: nil
        }
    }
}

/// The Unix epoch, used where Kommo omits a date that is normally always present.
let kommoMissingDate = Date(timeIntervalSince1970: 0)
