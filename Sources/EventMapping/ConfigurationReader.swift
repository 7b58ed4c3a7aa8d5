import Foundation
import JSONCore

/// Walks a decoded JSON document and builds a ``MappingConfiguration``, refusing anything the documentation does
/// not allow with a ``MappingConfigurationError`` that names the key path.
///
/// The keys of each object, and the order they are read in, come from ``ConfigurationKeys``; the functions here read
/// and check one value each.
struct ConfigurationReader {
    let root: ConfigurationKeyPath

    typealias Failure = MappingConfigurationError
    private typealias Text = ConfigurationText

    func read(_ document: JSONValue) throws(Failure) -> MappingConfiguration {
        var draft = ConfigurationDraft()
        try readObject(document, at: root, keys: ConfigurationKeys.topLevel, expecting: "a JSON object", into: &draft)
        return draft.configuration
    }

    /// Refuses unknown keys of the object `value`, then reads its keys in the order of `keys`.
    func readObject<Draft, Value>(_ value: JSONValue, at path: ConfigurationKeyPath,
                                  keys: [ConfigurationKey<Draft, Value>], expecting: String,
                                  into draft: inout Draft) throws(Failure) {
        let members = try object(value, at: path, allowed: keys.map(\.name), expecting: expecting)
        for key in keys {
            if let member = members[key.name] {
                try key.read(self, member, path.appending(key.name), &draft)
            }
            try key.check?(self, draft)
        }
    }

    // MARK: Sections

    /// Refuses a status id that is both won and lost, counting the defaults of a list that the document leaves out.
    /// `won` and `lost` are the names of the two lists.
    func checkStatusIDs(_ draft: ConfigurationDraft, won: String, lost: String) throws(Failure) {
        // Report the conflict on the list the document gave (the lost list when it gave both).
        let checked: (list: [Int64], key: String, others: Set<Int64>, other: String, otherDefault: String?)
        if let lostList = draft.lostStatusIDs {
            checked = (lostList, lost, draft.configuration.wonStatusIDs, won,
                       draft.wonStatusIDs == nil ? "[142]" : nil)
        } else if let wonList = draft.wonStatusIDs {
            checked = (wonList, won, draft.configuration.lostStatusIDs, lost, "[143]")
        } else {
            return
        }
        for (index, id) in checked.list.enumerated() where checked.others.contains(id) {
            let path = root.appending(checked.key).appending(index: index).rendered
            var message = "\(path): status id \(id) is also in \(checked.other)"
            if let otherDefault = checked.otherDefault {
                message += " (which defaults to \(otherDefault))"
            }
            message += "; a stage cannot be both won and lost, so remove it from one list"
            throw Failure(code: .conflictingStatusIDs, keyPath: path, message: message)
        }
    }

    func statusIDs(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure)
        -> (list: [Int64], set: Set<Int64>) {
        guard case .array(let elements) = value else {
            throw wrongType(at: path, expected: "an array of Kommo status ids", found: value)
        }
        var list: [Int64] = []
        var seen: Set<Int64> = []
        for (index, element) in elements.enumerated() {
            let elementPath = path.appending(index: index)
            let id = try positiveID(element, at: elementPath, noun: "status id")
            guard seen.insert(id).inserted else {
                throw Failure(code: .duplicateValue, keyPath: elementPath.rendered,
                              message: "\(elementPath.rendered): status id \(id) is listed twice; list it once")
            }
            list.append(id)
        }
        return (list, seen)
    }

    func currency(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure) -> String? {
        switch value {
        case .null:
            return nil
        case .string(let code):
            let isCode = code.utf8.count == 3 && code.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
            guard isCode else {
                throw Failure(code: .invalidCurrency, keyPath: path.rendered,
                              message: "\(path.rendered): \(Text.quoted(code)) is not an ISO 4217 currency code; "
                                  + "use three uppercase letters such as \"USD\", or null for the Kommo account's "
                                  + "currency")
            }
            return code
        default:
            throw wrongType(at: path, expected: "a three-letter currency code or null", found: value)
        }
    }

    func customFields(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure)
        -> MappingConfiguration.CustomFieldIDs {
        var ids = MappingConfiguration.CustomFieldIDs()
        try readObject(value, at: path, keys: ConfigurationKeys.customFields, expecting: "an object", into: &ids)
        return ids
    }

    /// A custom field id, or `nil` for `null`.
    func customFieldID(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure) -> Int64? {
        guard value != .null else { return nil }
        return try positiveID(value, at: path, noun: "custom field id")
    }

    func fieldMap(_ value: JSONValue, at path: ConfigurationKeyPath, noun: String) throws(Failure)
        -> [Int64: String] {
        guard case .object(let members) = value else {
            throw wrongType(at: path, expected: "an object from custom field ids to \(noun) names", found: value)
        }
        var map: [Int64: String] = [:]
        for key in members.keys.sorted() {
            let memberPath = path.appending(key)
            guard let id = Self.fieldID(key) else {
                throw Failure(code: .invalidFieldID, keyPath: memberPath.rendered,
                              message: "\(memberPath.rendered): the key \(Text.quoted(key)) is not a Kommo custom "
                                  + "field id; use the field's id, a positive integer such as \"1100001\", as the key")
            }
            map[id] = try name(members[key] ?? .null, at: memberPath, expected: "a \(noun) name (a string)",
                               ifEmpty: "the \(noun) name is empty; give it a name or remove the field")
        }
        return map
    }

    /// The event names of `value`; `disabled` is the key that lists the events to send nothing for.
    func eventNames(_ value: JSONValue, at path: ConfigurationKeyPath, disabled: String) throws(Failure)
        -> [MappingConfiguration.EventKey: String] {
        guard case .object(let members) = value else {
            throw wrongType(at: path, expected: "an object from event keys to event names", found: value)
        }
        var names: [MappingConfiguration.EventKey: String] = [:]
        for key in members.keys.sorted() {
            let memberPath = path.appending(key)
            let event = MappingConfiguration.EventKey(rawValue: key)
            guard MappingConfiguration.EventKey.known.contains(event) else {
                throw unknownEvent(key, at: memberPath, in: path)
            }
            names[event] = try name(members[key] ?? .null, at: memberPath, expected: "an event name (a string)",
                                    ifEmpty: "the event name is empty; give the event a name, or list "
                                        + "\(Text.quoted(key)) in \(disabled) to send nothing for it")
        }
        return names
    }

    func disabledEvents(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure)
        -> Set<MappingConfiguration.EventKey> {
        guard case .array(let elements) = value else {
            throw wrongType(at: path, expected: "an array of event keys", found: value)
        }
        var events: Set<MappingConfiguration.EventKey> = []
        for (index, element) in elements.enumerated() {
            let elementPath = path.appending(index: index)
            guard case .string(let key) = element else {
                throw wrongType(at: elementPath, expected: "an event key (a string such as \"dealDeleted\")",
                                found: element)
            }
            let event = MappingConfiguration.EventKey(rawValue: key)
            guard MappingConfiguration.EventKey.known.contains(event) else {
                throw unknownEvent(key, at: elementPath, in: path)
            }
            guard events.insert(event).inserted else {
                throw Failure(code: .duplicateValue, keyPath: elementPath.rendered,
                              message: "\(elementPath.rendered): \(Text.quoted(key)) is listed twice; list it once")
            }
        }
        return events
    }

    func traits(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure) -> JSONObject {
        guard case .object(let members) = value else {
            throw wrongType(at: path, expected: "an object of trait names and values", found: value)
        }
        for key in members.keys.sorted() where Self.isBlank(key) {
            let memberPath = path.appending(key)
            throw Failure(code: .emptyValue, keyPath: memberPath.rendered,
                          message: "\(memberPath.rendered): a trait name is empty; name the trait")
        }
        return members
    }

    func identity(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure)
        -> MappingConfiguration.Identity {
        var identity = MappingConfiguration.Identity()
        try readObject(value, at: path, keys: ConfigurationKeys.identity, expecting: "an object", into: &identity)
        return identity
    }

    func flag(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure) -> Bool {
        guard case .bool(let flag) = value else {
            throw wrongType(at: path, expected: "true or false", found: value)
        }
        return flag
    }

    func integrations(_ value: JSONValue, at path: ConfigurationKeyPath) throws(Failure)
        -> JSONObject? {
        switch value {
        case .null:
            return nil
        case .object(let members):
            for key in members.keys.sorted() {
                let memberPath = path.appending(key)
                guard !Self.isBlank(key) else {
                    throw Failure(code: .emptyValue, keyPath: memberPath.rendered,
                                  message: "\(memberPath.rendered): a destination name is empty; use Segment's "
                                      + "destination name, or \"All\"")
                }
                switch members[key] ?? .null {
                case .bool, .object:
                    continue
                case let other:
                    throw wrongType(at: memberPath, expected: "true, false or an object of destination settings",
                                    found: other)
                }
            }
            return members
        default:
            throw wrongType(at: path, expected: "an object of Segment destination names, or null", found: value)
        }
    }

    // MARK: Values

    private func object(_ value: JSONValue, at path: ConfigurationKeyPath, allowed: [String],
                        expecting: String) throws(Failure) -> JSONObject {
        guard case .object(let members) = value else {
            throw wrongType(at: path, expected: expecting, found: value)
        }
        for key in members.keys.sorted() where !allowed.contains(key) {
            let keyPath = path.appending(key).rendered
            let place = path.components.isEmpty ? "at the top level" : "at \(keyPath)"
            var message = "unknown key \(Text.quoted(key)) \(place)"
            if let suggestion = Text.suggestion(for: key, among: allowed) {
                message += "; did you mean \(Text.quoted(suggestion))?"
            } else {
                message += "; allowed keys are " + allowed.map(Text.quoted).joined(separator: ", ")
            }
            throw Failure(code: .unknownKey, keyPath: keyPath, message: message)
        }
        return members
    }

    private func positiveID(_ value: JSONValue, at path: ConfigurationKeyPath, noun: String) throws(Failure) -> Int64 {
        // `intValue` also accepts a floating-point number with an exact integer value (`142.0`).
        guard let number = value.intValue else {
            if case .string(let text) = value, Int64(text) != nil {
                throw Failure(code: .wrongType, keyPath: path.rendered,
                              message: "\(path.rendered): expected a \(noun) (an integer), found the string "
                                  + "\(Text.quoted(text)); write the number without quotes")
            }
            throw wrongType(at: path, expected: "a \(noun) (a positive integer)", found: value)
        }
        guard number > 0 else {
            throw Failure(code: .nonPositiveID, keyPath: path.rendered,
                          message: "\(path.rendered): \(number) is not a valid \(noun); Kommo ids are positive "
                              + "integers")
        }
        return number
    }

    func choice(_ value: JSONValue, at path: ConfigurationKeyPath, allowed: [String]) throws(Failure)
        -> String {
        let expected = allowed.map(Text.quoted).joined(separator: " or ")
        guard case .string(let raw) = value else {
            throw wrongType(at: path, expected: expected, found: value)
        }
        guard allowed.contains(raw) else {
            var message = "\(path.rendered): \(Text.quoted(raw)) is not allowed; use \(expected)"
            if let suggestion = Text.suggestion(for: raw, among: allowed) {
                message += " (did you mean \(Text.quoted(suggestion))?)"
            }
            throw Failure(code: .invalidValue, keyPath: path.rendered, message: message)
        }
        return raw
    }

    // MARK: Errors

    /// A non-blank string: an event name, or the trait or property name of a mapped custom field.
    private func name(_ value: JSONValue, at path: ConfigurationKeyPath, expected: String,
                      ifEmpty advice: String) throws(Failure) -> String {
        guard case .string(let name) = value else { throw wrongType(at: path, expected: expected, found: value) }
        guard !Self.isBlank(name) else {
            throw Failure(code: .emptyValue, keyPath: path.rendered, message: "\(path.rendered): \(advice)")
        }
        return name
    }

    private func wrongType(at path: ConfigurationKeyPath, expected: String, found: JSONValue) -> Failure {
        let prefix = path.components.isEmpty ? "the document" : path.rendered
        return Failure(code: .wrongType, keyPath: path.rendered,
                       message: "\(prefix): expected \(expected), found \(Text.describe(found))")
    }

    private func unknownEvent(_ key: String, at path: ConfigurationKeyPath, in container: ConfigurationKeyPath)
        -> Failure {
        let known = MappingConfiguration.EventKey.known.map(\.rawValue)
        var message = "\(path.rendered): unknown event \(Text.quoted(key)) in \(container.rendered)"
        if let suggestion = Text.suggestion(for: key, among: known) {
            message += "; did you mean \(Text.quoted(suggestion))?"
        } else {
            message += "; known events are " + known.map(Text.quoted).joined(separator: ", ")
        }
        return Failure(code: .unknownEventKey, keyPath: path.rendered, message: message)
    }

    // MARK: Rules

    /// A custom field id written as a JSON key: digits only, no leading zero, within `Int64`.
    static func fieldID(_ key: String) -> Int64? {
        guard let first = key.utf8.first, first != UInt8(ascii: "0"),
              key.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int64(key)
    }

    static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.properties.isWhitespace }
    }
}
