import Foundation
import JSONCore

/// The type of a Kommo custom field, such as `multitext` or `select`: an open set, so a type Kommo adds tomorrow is
/// kept as data instead of failing the entity that carries it.
public struct CustomFieldType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral {
    /// The type name as Kommo sends it, for example `"multitext"`.
    public let rawValue: String
    /// Creates a type from its name.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Creates a type from a string literal.
    public init(stringLiteral value: String) { rawValue = value }

    /// One line of text.
    public static let text: CustomFieldType = "text"
    /// A number; Kommo sends its value as a string.
    public static let numeric: CustomFieldType = "numeric"
    /// A checkbox; the value is a boolean.
    public static let checkbox: CustomFieldType = "checkbox"
    /// One choice from a list (`enum_id` identifies it).
    public static let select: CustomFieldType = "select"
    /// Several choices from a list.
    public static let multiselect: CustomFieldType = "multiselect"
    /// Several typed values (phones, emails) each with an enum code such as `WORK`.
    public static let multitext: CustomFieldType = "multitext"
    /// A date; the value is Unix seconds.
    public static let date: CustomFieldType = "date"
    /// A date and time; the value is Unix seconds.
    public static let dateTime: CustomFieldType = "date_time"
    /// A birthday; the value is Unix seconds.
    public static let birthday: CustomFieldType = "birthday"
    /// A URL.
    public static let url: CustomFieldType = "url"
    /// Multi-line text.
    public static let textarea: CustomFieldType = "textarea"
    /// One choice shown as radio buttons.
    public static let radiobutton: CustomFieldType = "radiobutton"
    /// A street address as one string.
    public static let streetAddress: CustomFieldType = "streetaddress"
    /// A structured address; the value is an object.
    public static let smartAddress: CustomFieldType = "smart_address"
    /// A company's legal details; the value is an object.
    public static let legalEntity: CustomFieldType = "legal_entity"
    /// A price.
    public static let price: CustomFieldType = "price"
    /// A monetary amount; the value is an object.
    public static let monetary: CustomFieldType = "monetary"
    /// A tracking field (UTM parameters, click ids).
    public static let trackingData: CustomFieldType = "tracking_data"

    /// The type name.
    public var description: String { rawValue }

    /// Decodes any string; a missing or non-string type becomes an empty name rather than an error.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        rawValue = (try? container.decode(String.self)) ?? ""
    }

    /// Encodes the type name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// One custom field of a lead, contact or company, with its values (`custom_fields_values[]` in the API).
///
/// `fieldCode` is `nil` for fields an account defined itself; match those by ``fieldID`` (names can be renamed or
/// translated). Values keep their JSON shape in ``Value/value`` because Kommo's value shapes depend on the type.
public struct CustomFieldValue: Codable, Sendable, Hashable {
    /// One value of a custom field.
    public struct Value: Codable, Sendable, Hashable {
        /// The value as sent: a string for text, numeric (as a string), select and URL fields; a boolean for
        /// checkboxes; Unix seconds for dates; an object for structured types.
        public var value: JSONValue
        /// The id of the chosen option, on enumerated types.
        public var enumID: Int64?
        /// The code of the chosen option, such as `WORK` or `MOB`, on enumerated types (`enum_code`, or the
        /// legacy `enum` when it holds a code).
        public var enumCode: String?

        /// Creates a value.
        public init(value: JSONValue, enumID: Int64? = nil, enumCode: String? = nil) {
            self.value = value
            self.enumID = enumID
            self.enumCode = enumCode
        }

        enum CodingKeys: String, CodingKey {
            case value
            case enumID = "enum_id"
            case enumCode = "enum_code"
            case legacyEnum = "enum"
        }

        /// Decodes a value leniently: any JSON value, `enum_code` or the legacy `enum`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            value = c.entityJSON(.value) ?? .null
            enumID = c.entityID(.enumID)
            enumCode = c.entityString(.enumCode)
            switch c.entityJSON(.legacyEnum) {
            case .string(let code)? where Int64(code) == nil:
                if enumCode == nil { enumCode = code }
            case let other?:
                if enumID == nil { enumID = JSONValue.entityIDValue(other) }
            case nil:
                break
            }
        }

        /// Encodes the value in the API's shape.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(value, forKey: .value)
            try c.encodeIfPresent(enumID, forKey: .enumID)
            try c.encodeIfPresent(enumCode, forKey: .enumCode)
        }

        /// The value as text: a string, or a number written in decimal; `nil` for other shapes.
        public var text: String? {
            switch value {
            case .string(let s): s
            case .int(let i): String(i)
            case .double(let d): String(d)
            default: nil
            }
        }

        /// The value as a date, when it is Unix seconds (a number or a numeric string).
        public var date: Date? {
            switch value {
            case .int(let i): Date(timeIntervalSince1970: TimeInterval(i))
            case .double(let d) where d.isFinite: Date(timeIntervalSince1970: d)
            case .string(let s): Double(s).map(Date.init(timeIntervalSince1970:))
            default: nil
            }
        }

        /// The value as a boolean: a JSON boolean, or `"1"`/`"0"` as sent by webhooks.
        public var bool: Bool? {
            switch value {
            case .bool(let b): b
            case .int(let i): i != 0
            case .string("1"), .string("true"): true
            case .string("0"), .string("false"), .string(""): false
            default: nil
            }
        }
    }

    /// The field's id, stable for the account.
    public var fieldID: Int64
    /// The field's display name (may be renamed or localized).
    public var fieldName: String
    /// The built-in code (`PHONE`, `EMAIL`, `UTM_SOURCE`...), `nil` for user-defined fields.
    public var fieldCode: String?
    /// The field's type.
    public var fieldType: CustomFieldType
    /// The values, in the order Kommo sent them.
    public var values: [Value]

    /// Creates a field value.
    public init(fieldID: Int64, fieldName: String, fieldCode: String? = nil, fieldType: CustomFieldType,
                values: [Value]) {
        self.fieldID = fieldID
        self.fieldName = fieldName
        self.fieldCode = fieldCode
        self.fieldType = fieldType
        self.values = values
    }

    enum CodingKeys: String, CodingKey {
        case fieldID = "field_id"
        case fieldName = "field_name"
        case fieldCode = "field_code"
        case fieldType = "field_type"
        case values
    }

    /// Decodes a field; only `field_id` is required, values that cannot be read are skipped.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fieldID = try c.requiredEntityID(.fieldID)
        fieldName = c.entityString(.fieldName) ?? ""
        fieldCode = c.entityString(.fieldCode)
        fieldType = CustomFieldType(rawValue: c.entityString(.fieldType) ?? "")
        values = c.entityArray(Value.self, .values)
    }

    /// Encodes the field in the API's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fieldID, forKey: .fieldID)
        try c.encode(fieldName, forKey: .fieldName)
        try c.encode(fieldCode, forKey: .fieldCode)
        try c.encode(fieldType, forKey: .fieldType)
        try c.encode(values, forKey: .values)
    }

    /// The first value's text (see ``Value/text``), the common case for single-valued fields.
    public var firstText: String? { values.first?.text }
}

/// An entity that carries `custom_fields_values`: leads, contacts and companies.
public protocol CustomFieldsCarrier {
    /// The entity's custom fields (empty when Kommo sent `null`).
    var customFieldsValues: [CustomFieldValue] { get }
}

extension CustomFieldsCarrier {
    /// The field with this id, if the entity has a value for it.
    public func customField(id: Int64) -> CustomFieldValue? {
        customFieldsValues.first { $0.fieldID == id }
    }

    /// The first field with this built-in code (compared without regard to case), such as `"UTM_SOURCE"`.
    public func customField(code: String) -> CustomFieldValue? {
        customFieldsValues.first { $0.fieldCode?.caseInsensitiveCompare(code) == .orderedSame }
    }

    /// The e-mail addresses in the `EMAIL` field(s): `WORK` values first, then the others in Kommo's order;
    /// trimmed, empty strings skipped.
    ///
    /// When no field has the code `EMAIL`, a `multitext` field whose name mentions "mail" is used instead.
    public var emails: [String] {
        Self.workFirst(emailFields)
    }

    /// The phone numbers in the `PHONE` field(s): `WORK` values first, then the others in Kommo's order;
    /// trimmed, empty strings skipped.
    public var phones: [String] {
        Self.workFirst(customFieldsValues.filter { $0.fieldCode?.equalsIgnoringASCIICase("PHONE") == true })
    }

    /// The first e-mail address of ``emails``, lowercased: the address to identify a person by.
    public var primaryEmail: String? {
        // The first of `emails`; the rest of the list is never built.
        var first: String?
        Self.forEachWorkFirst(emailFields) { text in
            first = text
            return false
        }
        return first?.lowercasedIfNeeded()
    }

    /// The `EMAIL` fields, else the `multitext` fields whose name mentions "mail".
    private var emailFields: [CustomFieldValue] {
        let fields = customFieldsValues.filter { $0.fieldCode?.equalsIgnoringASCIICase("EMAIL") == true }
        guard fields.isEmpty else { return fields }
        return customFieldsValues.filter {
            $0.fieldType == .multitext && $0.fieldName.range(of: "mail", options: .caseInsensitive) != nil
        }
    }

    private static func isWork(_ value: CustomFieldValue.Value) -> Bool {
        value.enumCode?.equalsIgnoringASCIICase("WORK") == true
    }

    /// The value's text trimmed, unless that leaves nothing.
    private static func usableText(_ value: CustomFieldValue.Value) -> String? {
        guard let text = value.text?.trimmingWhiteSpace(), !text.isEmpty else { return nil }
        return text
    }

    private static func workFirst(_ fields: [CustomFieldValue]) -> [String] {
        var texts: [String] = []
        forEachWorkFirst(fields) { text in
            texts.append(text)
            return true
        }
        return texts
    }

    /// Hands `body` the usable texts of the fields' values, `WORK` values first, then the others, each group in
    /// Kommo's order, until `body` returns `false`.
    private static func forEachWorkFirst(_ fields: [CustomFieldValue], _ body: (String) -> Bool) {
        for work in [true, false] {
            for field in fields {
                for value in field.values where isWork(value) == work {
                    if let text = usableText(value), !body(text) { return }
                }
            }
        }
    }
}
