import JSONCore

/// One key of a configuration object: its JSON name, how its value is read into the object being built (`Draft`)
/// and how it is written back from a finished value (`Value`).
///
/// The tables in ``ConfigurationKeys`` are the only place a key's name is written: the reader takes the allowed
/// keys, the reading order, the key paths of its errors and the names in its messages from them, and
/// ``MappingConfiguration/jsonValue`` writes the keys they list.
struct ConfigurationKey<Draft, Value>: Sendable {
    typealias Failure = MappingConfigurationError
    typealias Read = @Sendable (ConfigurationReader, JSONValue, ConfigurationKeyPath, inout Draft) throws(Failure)
        -> Void
    typealias Check = @Sendable (ConfigurationReader, Draft) throws(Failure) -> Void
    typealias Write = @Sendable (Value) -> JSONValue?

    /// The key as written in JSON.
    let name: String
    /// Reads the key's value, found at the given path, into the draft; called only when the document has the key.
    let read: Read
    /// A rule across keys, checked right after this key is read, whether or not the document has it.
    let check: Check?
    /// The key's value in `Value` as JSON, or `nil` to leave the key out.
    let write: Write

    init(_ name: String, read: @escaping Read, check: Check? = nil, write: @escaping Write) {
        self.name = name
        self.read = read
        self.check = check
        self.write = write
    }
}

/// What reading the top level of a document builds: the configuration, and the status id lists as the document
/// gives them (in order; `nil` when left out) for the check that no stage is both won and lost.
struct ConfigurationDraft {
    var configuration = MappingConfiguration()
    var wonStatusIDs: [Int64]?
    var lostStatusIDs: [Int64]?
}

/// The keys of a configuration document, each object's in documentation order: the order they are read in (so the
/// first problem in that order is the one reported) and listed in "allowed keys are" messages.
enum ConfigurationKeys {
    typealias Failure = MappingConfigurationError
    typealias TopLevelKey = ConfigurationKey<ConfigurationDraft, MappingConfiguration>
    typealias CustomFieldIDs = MappingConfiguration.CustomFieldIDs
    typealias Identity = MappingConfiguration.Identity
    typealias CustomFieldKey = ConfigurationKey<CustomFieldIDs, CustomFieldIDs>
    typealias IdentityKey = ConfigurationKey<Identity, Identity>

    /// The top level. The keys that messages about other keys name are declared by themselves, below.
    static let topLevel: [TopLevelKey] = [
        wonStatusIDs,
        lostStatusIDs,
        TopLevelKey("currency", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.currency = try reader.currency(value, at: path)
        }, write: { $0.currency.map(JSONValue.string) }),
        TopLevelKey("customFields", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.customFields = try reader.customFields(value, at: path)
        }, write: { json(of: $0.customFields, keys: customFields) }),
        TopLevelKey("leadFields", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.leadFields.merge(try reader.fieldMap(value, at: path, noun: "property"),
                                                 uniquingKeysWith: { _, given in given })
        }, write: { fieldMapJSON($0.leadFields) }),
        TopLevelKey("contactFields", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.contactFields.merge(try reader.fieldMap(value, at: path, noun: "trait"),
                                                    uniquingKeysWith: { _, given in given })
        }, write: { fieldMapJSON($0.contactFields) }),
        TopLevelKey("companyFields", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.companyFields.merge(try reader.fieldMap(value, at: path, noun: "trait"),
                                                    uniquingKeysWith: { _, given in given })
        }, write: { fieldMapJSON($0.companyFields) }),
        TopLevelKey("eventNames", read: { reader, value, path, draft throws(Failure) in
            let names = try reader.eventNames(value, at: path, disabled: disabledEvents.name)
            draft.configuration.eventNames.merge(names, uniquingKeysWith: { _, given in given })
        }, write: { configuration in
            .object(Dictionary(uniqueKeysWithValues: configuration.eventNames.map { event, name in
                (event.rawValue, .string(name))
            }))
        }),
        disabledEvents,
        TopLevelKey("wonTraits", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.wonTraits = try reader.traits(value, at: path)
        }, write: { .object($0.wonTraits) }),
        TopLevelKey("lostTraits", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.lostTraits = try reader.traits(value, at: path)
        }, write: { .object($0.lostTraits) }),
        TopLevelKey("identity", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.identity = try reader.identity(value, at: path)
        }, write: { json(of: $0.identity, keys: identity) }),
        TopLevelKey("sendGroup", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.sendGroup = try reader.flag(value, at: path)
        }, write: { .bool($0.sendGroup) }),
        TopLevelKey("integrations", read: { reader, value, path, draft throws(Failure) in
            draft.configuration.integrations = try reader.integrations(value, at: path)
        }, write: { $0.integrations.map { .object($0) } }),
    ]

    /// `wonStatusIds`; with ``lostStatusIDs``, no status id may be both won and lost.
    static let wonStatusIDs: TopLevelKey = TopLevelKey(
        "wonStatusIds",
        read: { reader, value, path, draft throws(Failure) in
            let ids = try reader.statusIDs(value, at: path)
            draft.wonStatusIDs = ids.list
            draft.configuration.wonStatusIDs = ids.set
        },
        write: { .array($0.wonStatusIDs.sorted().map(JSONValue.int)) })

    /// `lostStatusIds`, which checks both lists once it is read.
    static let lostStatusIDs: TopLevelKey = TopLevelKey(
        "lostStatusIds",
        read: { reader, value, path, draft throws(Failure) in
            let ids = try reader.statusIDs(value, at: path)
            draft.lostStatusIDs = ids.list
            draft.configuration.lostStatusIDs = ids.set
        },
        check: { reader, draft throws(Failure) in
            try reader.checkStatusIDs(draft, won: wonStatusIDs.name, lost: lostStatusIDs.name)
        },
        write: { .array($0.lostStatusIDs.sorted().map(JSONValue.int)) })

    /// `disabledEvents`, which the message for an empty event name suggests.
    static let disabledEvents: TopLevelKey = TopLevelKey(
        "disabledEvents",
        read: { reader, value, path, draft throws(Failure) in
            draft.configuration.disabledEvents = try reader.disabledEvents(value, at: path)
        },
        write: { .array($0.disabledEvents.sorted().map { .string($0.rawValue) }) })

    /// The keys of `customFields`; `null` leaves a field unset.
    static let customFields: [CustomFieldKey] = [
        CustomFieldKey("plan", read: { reader, value, path, ids throws(Failure) in
            ids.plan = try reader.customFieldID(value, at: path)
        }, write: { $0.plan.map(JSONValue.int) }),
        CustomFieldKey("company", read: { reader, value, path, ids throws(Failure) in
            ids.company = try reader.customFieldID(value, at: path)
        }, write: { $0.company.map(JSONValue.int) }),
        CustomFieldKey("lossReason", read: { reader, value, path, ids throws(Failure) in
            ids.lossReason = try reader.customFieldID(value, at: path)
        }, write: { $0.lossReason.map(JSONValue.int) }),
        CustomFieldKey("source", read: { reader, value, path, ids throws(Failure) in
            ids.source = try reader.customFieldID(value, at: path)
        }, write: { $0.source.map(JSONValue.int) }),
    ]

    /// The keys of `identity`.
    static let identity: [IdentityKey] = [
        IdentityKey("userId", read: { reader, value, path, identity throws(Failure) in
            let raw = try reader.choice(value, at: path,
                                        allowed: Identity.UserID.known.map(\.rawValue))
            identity.userID = Identity.UserID(rawValue: raw)
        }, write: { .string($0.userID.rawValue) }),
        IdentityKey("fallback", read: { reader, value, path, identity throws(Failure) in
            let raw = try reader.choice(value, at: path,
                                        allowed: Identity.Fallback.known.map(\.rawValue))
            identity.fallback = Identity.Fallback(rawValue: raw)
        }, write: { .string($0.fallback.rawValue) }),
    ]

    /// `value` as a JSON object of `keys`, leaving out those whose ``ConfigurationKey/write`` gives `nil`.
    static func json<Draft, Value>(of value: Value, keys: [ConfigurationKey<Draft, Value>]) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for key in keys {
            if let member = key.write(value) { object[key.name] = member }
        }
        return .object(object)
    }

    private static func fieldMapJSON(_ map: [Int64: String]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: map.map { (String($0.key), .string($0.value)) }))
    }
}
