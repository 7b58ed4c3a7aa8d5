import Foundation
import JSONCore
import KommoModels

/// How a Kommo custom field value (API shape, `custom_fields_values`) becomes a Segment property or trait value.
public enum CustomFieldJSON {
    /// The field's value as JSON, by field type:
    ///
    /// - `text`, `textarea`, `url`, `select`, `radiobutton`, `multitext`, `streetaddress`, `tracking_data`: the
    ///   first value's text (for a select, the chosen option's text), a string;
    /// - `multiselect`: every chosen option's text, an array of strings;
    /// - `numeric`, `price`: a number (Kommo sends numerics as strings), an integer when whole; a value that is not
    ///   a plain decimal stays a string;
    /// - `checkbox`: a boolean;
    /// - `date`, `date_time`, `birthday`: an ISO-8601 UTC string (`2026-02-01T00:00:00.000Z`);
    /// - anything else (`smart_address`, `legal_entity`, `monetary`, types Kommo adds later): the value as Kommo
    ///   sent it, or an array of them when there are several.
    ///
    /// A field without values is `null`.
    public static func value(of field: CustomFieldValue) -> JSONValue {
        let values = field.values
        guard let first = values.first else { return .null }
        switch field.fieldType {
        case .text, .textarea, .url, .select, .radiobutton, .multitext, .streetAddress, .trackingData:
            return first.text.map(JSONValue.string) ?? first.value
        case .multiselect:
            return .array(values.map { $0.text.map(JSONValue.string) ?? $0.value })
        case .numeric, .price:
            return number(first.value)
        case .checkbox:
            return first.bool.map(JSONValue.bool) ?? first.value
        case .date, .dateTime, .birthday:
            return first.date.map { .string(ISO8601Timestamp.string(from: $0)) } ?? first.value
        default:
            return values.count == 1 ? first.value : .array(values.map(\.value))
        }
    }

    static func number(_ value: JSONValue) -> JSONValue {
        switch value {
        case .int, .double:
            return value
        case .string(let raw):
            let text = raw.trimmingWhiteSpace(newlines: false)
            guard isPlainDecimal(text), let decimal = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
            else { return value }
            return JSONValue(decimal)
        default:
            return value
        }
    }

    /// `-?digits(.digits)?`: what `Decimal(string:)` must read entirely, never a prefix.
    static func isPlainDecimal(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        var digits = 0
        var seenDot = false
        var digitsAfterDot = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                if seenDot { digitsAfterDot += 1 }
            case UInt8(ascii: ".") where !seenDot:
                seenDot = true
            default:
                return false
            }
        }
        return digits > 0 && digits <= 38 && (!seenDot || digitsAfterDot > 0)
    }
}
