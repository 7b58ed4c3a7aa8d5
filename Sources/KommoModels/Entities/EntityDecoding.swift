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
struct EntityLossyElement<Element: Decodable>: Decodable {
    var value: Element?
    init(from decoder: any Decoder) throws {
        value = try? Element(from: decoder)
    }
}

// Kommo's documentation itself shows garbage values in places; these readers accept the shapes seen in practice
// (numbers as strings, booleans as 0/1) and turn anything else into `nil` instead of failing the whole entity.
extension KeyedDecodingContainer {
    /// The raw JSON value under `key`; `nil` when absent or null.
    func entityJSON(_ key: Key) -> JSONValue? {
        guard let value = try? decodeIfPresent(JSONValue.self, forKey: key), value != .null else { return nil }
        return value
    }

    /// An integer written as a number or a numeric string.
    func entityInt(_ key: Key) -> Int? {
        entityJSON(key).flatMap(JSONValue.entityIntValue)
    }

    /// An entity id (or a reference to one) written as a number or a numeric string.
    func entityID(_ key: Key) -> Int64? {
        entityJSON(key).flatMap(JSONValue.entityIDValue)
    }

    /// A string; numbers are accepted and written in decimal.
    func entityString(_ key: Key) -> String? {
        switch entityJSON(key) {
        case .string(let s)?: s
        case .int(let i)?: String(i)
        case .double(let d)?: String(d)
        default: nil
        }
    }

    /// A boolean written as `true`/`false`, `1`/`0` or their string forms.
    func entityBool(_ key: Key) -> Bool? {
        switch entityJSON(key) {
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
    func entityDate(_ key: Key) -> Date? {
        switch entityJSON(key) {
        case .int(let i)?: Date(timeIntervalSince1970: TimeInterval(i))
        case .double(let d)? where d.isFinite: Date(timeIntervalSince1970: d)
        case .string(let s)?: Double(s.trimmingWhiteSpace(newlines: false)).map(Date.init(timeIntervalSince1970:))
        default: nil
        }
    }

    /// A decimal number written as a number or a numeric string.
    func entityDecimal(_ key: Key) -> Decimal? {
        switch entityJSON(key) {
        case .int(let i)?: Decimal(i)
        case .double(let d)? where d.isFinite: Decimal(string: String(d), locale: Locale(identifier: "en_US_POSIX"))
        case .string(let s)?:
            Decimal(string: s.trimmingWhiteSpace(newlines: false), locale: Locale(identifier: "en_US_POSIX"))
        default: nil
        }
    }

    /// A value of any decodable type, or `nil` when absent, null or of another shape.
    func entityValue<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(T.self, forKey: key)) ?? nil
    }

    /// The elements of an array that decode; absent, null or non-array values give an empty array.
    func entityArray<T: Decodable>(_ type: T.Type, _ key: Key) -> [T] {
        guard let items = (try? decodeIfPresent([EntityLossyElement<T>].self, forKey: key)) ?? nil else { return [] }
        return items.compactMap(\.value)
    }

    /// The `id` of an entity, which must be present: an entity without one cannot be referred to.
    func requiredEntityID(_ key: Key) throws -> Int64 {
        guard let id = entityID(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "an entity needs an integer id"))
        }
        return id
    }
}

extension KeyedEncodingContainer {
    /// Writes a date as Unix seconds, or nothing when `nil`.
    mutating func encodeUnixSeconds(_ date: Date?, forKey key: Key) throws {
        guard let date else { return }
        try encode(Int64(date.timeIntervalSince1970.rounded(.down)), forKey: key)
    }
}

extension JSONValue {
    /// An integer from a whole number or a numeric string.
    static func entityIntValue(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let i): Int(exactly: i)
        case .double(let d): d.isFinite && d.rounded() == d ? Int(exactly: d) : nil
        case .string(let s): Int(s.trimmingWhiteSpace(newlines: false))
        default: nil
        }
    }

    /// An entity id from a whole number or a numeric string.
    static func entityIDValue(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let i): i
        case .double(let d): d.isFinite && d.rounded() == d ? Int64(exactly: d) : nil
        case .string(let s): Int64(s.trimmingWhiteSpace(newlines: false))
        default: nil
        }
    }
}

/// The Unix epoch, used where Kommo omits a date that is normally always present.
let entityMissingDate = Date(timeIntervalSince1970: 0)
