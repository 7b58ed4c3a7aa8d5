import EventMapping
import Foundation
import JSONCore
import Testing

@Suite("Mapping configuration", .timeLimit(.minutes(1)))
struct MappingConfigurationTests {
    static func load(_ json: String) throws -> MappingConfiguration {
        try MappingConfiguration.load(from: Data(json.utf8))
    }

    @Test("init() and an empty document give the documented defaults")
    func defaults() throws {
        let configuration = MappingConfiguration()
        #expect(configuration.wonStatusIDs == [142])
        #expect(configuration.lostStatusIDs == [143])
        #expect(configuration.currency == nil)
        #expect(configuration.customFields == MappingConfiguration.CustomFieldIDs())
        #expect(configuration.customFields.plan == nil && configuration.customFields.source == nil)
        #expect(configuration.leadFields.isEmpty && configuration.contactFields.isEmpty
            && configuration.companyFields.isEmpty)
        #expect(configuration.eventNames == [
            .stageChanged: "Stage Changed", .dealWon: "Deal Won", .dealLost: "Deal Lost",
            .ownerChanged: "Owner Changed", .dealCreated: "Deal Created", .dealDeleted: "Deal Deleted",
            .dealRestored: "Deal Restored", .contactUpdated: "Contact Updated",
        ])
        #expect(configuration.disabledEvents == [.dealDeleted])
        #expect(configuration.wonTraits == ["customer": true])
        #expect(configuration.lostTraits == ["customer": false, "churned": true, "plan": nil])
        #expect(configuration.identity.userID == .email)
        #expect(configuration.identity.fallback == .skip)
        #expect(configuration.sendGroup)
        #expect(configuration.integrations == nil)

        #expect(try Self.load("{}") == configuration)
        #expect(try Self.load(" { } \n") == configuration)
    }

    @Test("event lookups honour disabledEvents and the won and lost ids")
    func lookups() {
        let configuration = MappingConfiguration()
        #expect(configuration.eventName(for: .dealWon) == "Deal Won")
        #expect(configuration.eventName(for: .dealDeleted) == nil)
        #expect(configuration.eventName(for: MappingConfiguration.EventKey(rawValue: "future")) == nil)
        #expect(configuration.isWon(statusID: 142) && !configuration.isWon(statusID: 143))
        #expect(configuration.isLost(statusID: 143) && !configuration.isLost(statusID: 142))
        #expect(MappingConfiguration.EventKey.known.map(\.rawValue) == [
            "stageChanged", "dealWon", "dealLost", "ownerChanged", "dealCreated", "dealDeleted", "dealRestored",
            "contactUpdated",
        ])
    }

    @Test("every key is read, maps and event names merge over the defaults, traits replace them")
    func everyKey() throws {
        let configuration = try Self.load(Documents.everyKey)
        #expect(configuration.wonStatusIDs == [142, 61_000_009])
        #expect(configuration.lostStatusIDs == [143, 61_000_010])
        #expect(configuration.currency == "EUR")
        #expect(configuration.customFields == .init(plan: 1_100_010, company: 1_100_011, lossReason: 1_100_012,
                                                    source: 1_100_013))
        #expect(configuration.leadFields == [1_100_001: "budgetRange", 1_100_002: "utmSource"])
        #expect(configuration.contactFields == [1_200_001: "jobTitle"])
        #expect(configuration.companyFields == [1_300_001: "industry", 1_300_002: "employees"])
        // Merged key by key: two names replaced, the other six kept.
        var names = MappingConfiguration.defaultEventNames
        names[.dealWon] = "Order Completed"
        names[.stageChanged] = "Deal Stage Changed"
        #expect(configuration.eventNames == names)
        // Replaced, not merged: dealDeleted is enabled again.
        #expect(configuration.disabledEvents == [.contactUpdated, .ownerChanged])
        #expect(configuration.eventName(for: .dealDeleted) == "Deal Deleted")
        // Traits replace the defaults: no "churned" or "plan" left in lostTraits.
        #expect(configuration.wonTraits == ["customer": true, "lifecycle": "customer"])
        #expect(configuration.lostTraits == ["lifecycle": "lost"])
        #expect(configuration.identity == .init(userID: .contactID, fallback: .contactID))
        #expect(configuration.sendGroup == false)
        #expect(configuration.integrations == ["All": true, "Mixpanel": false, "Amplitude": ["session_id": 1]])
    }

    @Test("null means the default for currency, custom fields and integrations")
    func nulls() throws {
        let configuration = try Self.load("""
            {"currency": null, "customFields": {"plan": null, "source": 7}, "integrations": null}
            """)
        #expect(configuration.currency == nil)
        #expect(configuration.customFields == .init(source: 7))
        #expect(configuration.integrations == nil)
    }

    @Test("identity keys default one by one; empty lists and objects are allowed")
    func partials() throws {
        let configuration = try Self.load("""
            {"identity": {"fallback": "contactId"}, "disabledEvents": [], "wonTraits": {}, "wonStatusIds": [],
             "leadFields": {}}
            """)
        #expect(configuration.identity == .init(userID: .email, fallback: .contactID))
        #expect(configuration.disabledEvents.isEmpty)
        #expect(configuration.wonTraits.isEmpty)
        #expect(configuration.wonStatusIDs.isEmpty)
        #expect(configuration.lostStatusIDs == [143])
        #expect(configuration.eventName(for: .dealDeleted) == "Deal Deleted")
    }

    @Test("a status id may move from won to lost when both lists are given")
    func swappedStatusIDs() throws {
        let configuration = try Self.load(#"{"wonStatusIds": [143], "lostStatusIds": [142]}"#)
        #expect(configuration.isWon(statusID: 143) && configuration.isLost(statusID: 142))
    }

    @Test("encodes back to JSON that loads to an equal value", arguments: ["{}", Documents.everyKey])
    func roundTrip(document: String) throws {
        let configuration = try Self.load(document)
        let encoded = try JSONEncoder().encode(configuration)
        #expect(try MappingConfiguration.load(from: encoded) == configuration)
        #expect(try JSONDecoder().decode(MappingConfiguration.self, from: encoded) == configuration)
        #expect(try MappingConfiguration.load(from: configuration.jsonValue) == configuration)
    }

    @Test("the default configuration's JSON is the documented one")
    func defaultJSON() {
        #expect(MappingConfiguration().jsonValue.description == #"{"companyFields":{},"contactFields":{},"#
            + #""customFields":{},"disabledEvents":["dealDeleted"],"eventNames":{"contactUpdated":"Contact Updated","#
            + #""dealCreated":"Deal Created","dealDeleted":"Deal Deleted","dealLost":"Deal Lost","#
            + #""dealRestored":"Deal Restored","dealWon":"Deal Won","ownerChanged":"Owner Changed","#
            + #""stageChanged":"Stage Changed"},"identity":{"fallback":"skip","userId":"email"},"leadFields":{},"#
            + #""lostStatusIds":[143],"lostTraits":{"churned":true,"customer":false,"plan":null},"sendGroup":true,"#
            + #""wonStatusIds":[142],"wonTraits":{"customer":true}}"#)
    }

    @Test("the example file in Documentation/ loads")
    func exampleFile() throws {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Documentation/mapping-configuration.example.json")
        let configuration = try MappingConfiguration.load(from: Data(contentsOf: url))
        #expect(configuration != MappingConfiguration())
        #expect(configuration.currency == "USD")
        #expect(configuration.eventName(for: .dealWon) == "Deal Won")
        #expect(!configuration.leadFields.isEmpty)
    }

    @Test("decoding inside a larger Codable document keeps the strict rules and prefixes the key path")
    func nestedDecoding() throws {
        struct Settings: Decodable {
            var mapping: MappingConfiguration
        }
        let good = try JSONDecoder().decode(Settings.self, from: Data(#"{"mapping": {"sendGroup": false}}"#.utf8))
        #expect(good.mapping.sendGroup == false)
        let error = try #require(throws: MappingConfigurationError.self) {
            try JSONDecoder().decode(Settings.self, from: Data(#"{"mapping": {"eventName": {}}}"#.utf8))
        }
        #expect(error.code == .unknownKey)
        #expect(error.keyPath == "mapping.eventName")
        #expect(error.message == #"unknown key "eventName" at mapping.eventName; did you mean "eventNames"?"#)
    }

    // MARK: Errors

    @Test("every bad document is refused with its code, key path and message", arguments: Documents.bad)
    func refused(bad: Documents.Bad) throws {
        let error = try #require(throws: MappingConfigurationError.self) {
            try Self.load(bad.document)
        }
        #expect(error.code == bad.code)
        #expect(error.keyPath == bad.keyPath)
        if bad.code == .invalidJSON {
            #expect(error.message.hasPrefix(bad.message))
        } else {
            #expect(error.message == bad.message)
        }
        #expect(error.description == "invalid mapping configuration: " + error.message)
        // The message names the key path it reports.
        if !bad.keyPath.isEmpty {
            #expect(error.message.contains(bad.keyPath))
        }
    }

    @Test("unknown keys are refused before any value is read, the first in sorted order", arguments: [
        (#"{"currency": "usd", "webhooks": true}"#, "webhooks"),
        (#"{"zeta": 1, "alpha": 1, "currency": 5}"#, "alpha"),
        (#"{"identity": {"userId": "mail", "mode": 1}}"#, "identity.mode"),
        (#"{"customFields": {"plan": 0, "stage": 1}}"#, "customFields.stage"),
    ])
    func unknownKeysFirst(document: String, keyPath: String) throws {
        let error = try #require(throws: MappingConfigurationError.self) { try Self.load(document) }
        #expect(error.code == .unknownKey)
        #expect(error.keyPath == keyPath)
    }

    @Test("the allowed keys of a nested object are listed in documentation order")
    func nestedAllowedKeys() throws {
        let identity = try #require(throws: MappingConfigurationError.self) {
            try Self.load(#"{"identity": {"mode": 1}}"#)
        }
        #expect(identity.message == #"unknown key "mode" at identity.mode; allowed keys are "userId", "fallback""#)
        let fields = try #require(throws: MappingConfigurationError.self) {
            try Self.load(#"{"customFields": {"stage": 1}}"#)
        }
        #expect(fields.message == #"unknown key "stage" at customFields.stage; allowed keys are "plan", "#
            + #""company", "lossReason", "source""#)
    }

    @Test("keys are read in documentation order, so the first bad one in that order is reported", arguments: [
        (#"{"currency": 1, "wonStatusIds": 1}"#, "wonStatusIds"),
        (#"{"wonTraits": [1], "lostTraits": [1]}"#, "wonTraits"),
        (#"{"eventNames": 1, "disabledEvents": 1}"#, "eventNames"),
        (#"{"integrations": 1, "sendGroup": 1}"#, "sendGroup"),
        (#"{"companyFields": 1, "contactFields": 1, "leadFields": 1}"#, "leadFields"),
        (#"{"identity": 1, "lostTraits": 1}"#, "lostTraits"),
        (#"{"customFields": {"plan": 0, "company": 0}}"#, "customFields.plan"),
        (#"{"identity": {"userId": 1, "fallback": 1}}"#, "identity.userId"),
    ])
    func readingOrder(document: String, keyPath: String) throws {
        let error = try #require(throws: MappingConfigurationError.self) { try Self.load(document) }
        #expect(error.keyPath == keyPath)
    }

    @Test("both status lists are read before the won/lost check, which comes before the other keys", arguments: [
        (#"{"lostStatusIds": [142], "currency": "usd"}"#, MappingConfigurationError.Code.conflictingStatusIDs,
         "lostStatusIds[0]"),
        (#"{"wonStatusIds": [143], "lostStatusIds": [0]}"#, .nonPositiveID, "lostStatusIds[0]"),
        (#"{"wonStatusIds": [143], "lostStatusIds": "143"}"#, .wrongType, "lostStatusIds"),
        (#"{"wonStatusIds": [143, 7], "lostStatusIds": [144, 7]}"#, .conflictingStatusIDs, "lostStatusIds[1]"),
        (#"{"wonStatusIds": [143], "lostStatusIds": [144]}"#, nil, ""),
    ] as [(String, MappingConfigurationError.Code?, String)])
    func statusIDCheckOrder(document: String, code: MappingConfigurationError.Code?, keyPath: String) throws {
        guard let code else {
            let configuration = try Self.load(document)
            #expect(configuration.wonStatusIDs == [143] && configuration.lostStatusIDs == [144])
            return
        }
        let error = try #require(throws: MappingConfigurationError.self) { try Self.load(document) }
        #expect(error.code == code)
        #expect(error.keyPath == keyPath)
    }

    @Test("null is refused where it does not mean the default")
    func nullRefused() throws {
        let fields = try #require(throws: MappingConfigurationError.self) {
            try Self.load(#"{"customFields": null}"#)
        }
        #expect(fields.message == "customFields: expected an object, found null")
        let identity = try #require(throws: MappingConfigurationError.self) {
            try Self.load(#"{"identity": {"userId": null}}"#)
        }
        #expect(identity.code == .wrongType)
        #expect(identity.message == #"identity.userId: expected "email" or "contactId", found null"#)
        let sendGroup = try #require(throws: MappingConfigurationError.self) {
            try Self.load(#"{"sendGroup": null}"#)
        }
        #expect(sendGroup.message == "sendGroup: expected true or false, found null")
    }

    @Test("an empty integrations object is kept, not turned into none")
    func emptyIntegrations() throws {
        let configuration = try Self.load(#"{"integrations": {}, "sendGroup": true}"#)
        #expect(configuration.integrations == [:])
        #expect(configuration.sendGroup)
        #expect(configuration.jsonValue.description.contains(#""integrations":{}"#))
    }

    @Test("a nested configuration that is not an object names its own key path")
    func nestedWrongType() throws {
        struct Settings: Decodable {
            var mapping: MappingConfiguration
        }
        let error = try #require(throws: MappingConfigurationError.self) {
            try JSONDecoder().decode(Settings.self, from: Data(#"{"mapping": []}"#.utf8))
        }
        #expect(error.code == .wrongType)
        #expect(error.keyPath == "mapping")
        #expect(error.message == "mapping: expected a JSON object, found an array")
    }

    @Test("every key is written back under its own name")
    func everyKeyJSON() throws {
        let configuration = try Self.load(Documents.everyKey)
        #expect(configuration.jsonValue.description == #"{"companyFields":{"1300001":"industry","#
            + #""1300002":"employees"},"contactFields":{"1200001":"jobTitle"},"currency":"EUR","#
            + #""customFields":{"company":1100011,"lossReason":1100012,"plan":1100010,"source":1100013},"#
            + #""disabledEvents":["ownerChanged","contactUpdated"],"eventNames":{"contactUpdated":"Contact Updated","#
            + #""dealCreated":"Deal Created","dealDeleted":"Deal Deleted","dealLost":"Deal Lost","#
            + #""dealRestored":"Deal Restored","dealWon":"Order Completed","ownerChanged":"Owner Changed","#
            + #""stageChanged":"Deal Stage Changed"},"identity":{"fallback":"contactId","userId":"contactId"},"#
            + #""integrations":{"All":true,"Amplitude":{"session_id":1},"Mixpanel":false},"#
            + #""leadFields":{"1100001":"budgetRange","1100002":"utmSource"},"lostStatusIds":[143,61000010],"#
            + #""lostTraits":{"lifecycle":"lost"},"sendGroup":false,"wonStatusIds":[142,61000009],"#
            + #""wonTraits":{"customer":true,"lifecycle":"customer"}}"#)
    }

    @Test("long values are shortened in messages")
    func shortened() throws {
        let long = String(repeating: "x", count: 500)
        let error = try #require(throws: MappingConfigurationError.self) {
            try Self.load(#"{"currency": "\#(long)"}"#)
        }
        #expect(error.message.count < 250)
        #expect(error.message.contains("xxx..."))
    }

    @Test("error codes are an open set with readable names")
    func codes() {
        #expect(MappingConfigurationError.Code.unknownKey.description == "unknownKey")
        #expect(MappingConfigurationError.Code(rawValue: "somethingNew").rawValue == "somethingNew")
    }
}

/// The documents the tests above load.
enum Documents {
    static let everyKey = """
    {
      "wonStatusIds": [142, 61000009],
      "lostStatusIds": [143, 61000010],
      "currency": "EUR",
      "customFields": {"plan": 1100010, "company": 1100011, "lossReason": 1100012, "source": 1100013},
      "leadFields": {"1100001": "budgetRange", "1100002": "utmSource"},
      "contactFields": {"1200001": "jobTitle"},
      "companyFields": {"1300001": "industry", "1300002": "employees"},
      "eventNames": {"dealWon": "Order Completed", "stageChanged": "Deal Stage Changed"},
      "disabledEvents": ["contactUpdated", "ownerChanged"],
      "wonTraits": {"customer": true, "lifecycle": "customer"},
      "lostTraits": {"lifecycle": "lost"},
      "identity": {"userId": "contactId", "fallback": "contactId"},
      "sendGroup": false,
      "integrations": {"All": true, "Mixpanel": false, "Amplitude": {"session_id": 1}}
    }
    """

    struct Bad: Sendable, CustomStringConvertible {
        var document: String
        var code: MappingConfigurationError.Code
        var keyPath: String
        var message: String
        var description: String { document }
    }

    static let bad: [Bad] = [
        Bad(document: "", code: .invalidJSON, keyPath: "", message: "the document is not valid JSON"),
        Bad(document: "{\"sendGroup\": tru}", code: .invalidJSON, keyPath: "", message: "the document is not valid JSON"),
        Bad(document: "[]", code: .wrongType, keyPath: "",
            message: "the document: expected a JSON object, found an array"),
        Bad(document: #"{"eventName": {}}"#, code: .unknownKey, keyPath: "eventName",
            message: #"unknown key "eventName" at the top level; did you mean "eventNames"?"#),
        Bad(document: #"{"wonStatusIDs": [142]}"#, code: .unknownKey, keyPath: "wonStatusIDs",
            message: #"unknown key "wonStatusIDs" at the top level; did you mean "wonStatusIds"?"#),
        Bad(document: #"{"webhooks": true}"#, code: .unknownKey, keyPath: "webhooks",
            message: #"unknown key "webhooks" at the top level; allowed keys are "wonStatusIds", "lostStatusIds", "#
                + #""currency", "customFields", "leadFields", "contactFields", "companyFields", "eventNames", "#
                + #""disabledEvents", "wonTraits", "lostTraits", "identity", "sendGroup", "integrations""#),
        Bad(document: #"{"identity": {"userID": "email"}}"#, code: .unknownKey, keyPath: "identity.userID",
            message: #"unknown key "userID" at identity.userID; did you mean "userId"?"#),
        Bad(document: #"{"customFields": {"lossreason": 5}}"#, code: .unknownKey, keyPath: "customFields.lossreason",
            message: #"unknown key "lossreason" at customFields.lossreason; did you mean "lossReason"?"#),
        Bad(document: #"{"wonStatusIds": 142}"#, code: .wrongType, keyPath: "wonStatusIds",
            message: "wonStatusIds: expected an array of Kommo status ids, found an integer (142)"),
        Bad(document: #"{"wonStatusIds": [142, "61000009"]}"#, code: .wrongType, keyPath: "wonStatusIds[1]",
            message: #"wonStatusIds[1]: expected a status id (an integer), found the string "61000009"; "#
                + "write the number without quotes"),
        Bad(document: #"{"lostStatusIds": [143, 1.5]}"#, code: .wrongType, keyPath: "lostStatusIds[1]",
            message: "lostStatusIds[1]: expected a status id (a positive integer), found a number (1.5)"),
        Bad(document: #"{"lostStatusIds": [0]}"#, code: .nonPositiveID, keyPath: "lostStatusIds[0]",
            message: "lostStatusIds[0]: 0 is not a valid status id; Kommo ids are positive integers"),
        Bad(document: #"{"wonStatusIds": [142, -7]}"#, code: .nonPositiveID, keyPath: "wonStatusIds[1]",
            message: "wonStatusIds[1]: -7 is not a valid status id; Kommo ids are positive integers"),
        Bad(document: #"{"wonStatusIds": [142, 142]}"#, code: .duplicateValue, keyPath: "wonStatusIds[1]",
            message: "wonStatusIds[1]: status id 142 is listed twice; list it once"),
        Bad(document: #"{"wonStatusIds": [142, 555], "lostStatusIds": [143, 555]}"#, code: .conflictingStatusIDs,
            keyPath: "lostStatusIds[1]",
            message: "lostStatusIds[1]: status id 555 is also in wonStatusIds; a stage cannot be both won and "
                + "lost, so remove it from one list"),
        Bad(document: #"{"lostStatusIds": [142]}"#, code: .conflictingStatusIDs, keyPath: "lostStatusIds[0]",
            message: "lostStatusIds[0]: status id 142 is also in wonStatusIds (which defaults to [142]); a stage "
                + "cannot be both won and lost, so remove it from one list"),
        Bad(document: #"{"wonStatusIds": [142, 143]}"#, code: .conflictingStatusIDs, keyPath: "wonStatusIds[1]",
            message: "wonStatusIds[1]: status id 143 is also in lostStatusIds (which defaults to [143]); a stage "
                + "cannot be both won and lost, so remove it from one list"),
        Bad(document: #"{"currency": "usd"}"#, code: .invalidCurrency, keyPath: "currency",
            message: #"currency: "usd" is not an ISO 4217 currency code; use three uppercase letters such as "#
                + #""USD", or null for the Kommo account's currency"#),
        Bad(document: #"{"currency": "EURO"}"#, code: .invalidCurrency, keyPath: "currency",
            message: #"currency: "EURO" is not an ISO 4217 currency code; use three uppercase letters such as "#
                + #""USD", or null for the Kommo account's currency"#),
        Bad(document: #"{"currency": 840}"#, code: .wrongType, keyPath: "currency",
            message: "currency: expected a three-letter currency code or null, found an integer (840)"),
        Bad(document: #"{"customFields": []}"#, code: .wrongType, keyPath: "customFields",
            message: "customFields: expected an object, found an array"),
        Bad(document: #"{"customFields": {"plan": "1100010"}}"#, code: .wrongType, keyPath: "customFields.plan",
            message: #"customFields.plan: expected a custom field id (an integer), found the string "1100010"; "#
                + "write the number without quotes"),
        Bad(document: #"{"customFields": {"source": 0}}"#, code: .nonPositiveID, keyPath: "customFields.source",
            message: "customFields.source: 0 is not a valid custom field id; Kommo ids are positive integers"),
        Bad(document: #"{"leadFields": {"abc": "budget"}}"#, code: .invalidFieldID, keyPath: "leadFields.abc",
            message: #"leadFields.abc: the key "abc" is not a Kommo custom field id; use the field's id, a "#
                + #"positive integer such as "1100001", as the key"#),
        Bad(document: #"{"contactFields": {"0": "x"}}"#, code: .invalidFieldID, keyPath: #"contactFields["0"]"#,
            message: #"contactFields["0"]: the key "0" is not a Kommo custom field id; use the field's id, a "#
                + #"positive integer such as "1100001", as the key"#),
        Bad(document: #"{"companyFields": {"-5": "x"}}"#, code: .invalidFieldID, keyPath: #"companyFields["-5"]"#,
            message: #"companyFields["-5"]: the key "-5" is not a Kommo custom field id; use the field's id, a "#
                + #"positive integer such as "1100001", as the key"#),
        Bad(document: #"{"leadFields": {"99999999999999999999": "x"}}"#, code: .invalidFieldID,
            keyPath: #"leadFields["99999999999999999999"]"#,
            message: #"leadFields["99999999999999999999"]: the key "99999999999999999999" is not a Kommo custom "#
                + #"field id; use the field's id, a positive integer such as "1100001", as the key"#),
        Bad(document: #"{"leadFields": {"1100001": ""}}"#, code: .emptyValue, keyPath: #"leadFields["1100001"]"#,
            message: #"leadFields["1100001"]: the property name is empty; give it a name or remove the field"#),
        Bad(document: #"{"contactFields": {"1200001": "  "}}"#, code: .emptyValue,
            keyPath: #"contactFields["1200001"]"#,
            message: #"contactFields["1200001"]: the trait name is empty; give it a name or remove the field"#),
        Bad(document: #"{"companyFields": {"1300001": 5}}"#, code: .wrongType, keyPath: #"companyFields["1300001"]"#,
            message: #"companyFields["1300001"]: expected a trait name (a string), found an integer (5)"#),
        Bad(document: #"{"leadFields": ["budget"]}"#, code: .wrongType, keyPath: "leadFields",
            message: "leadFields: expected an object from custom field ids to property names, found an array"),
        Bad(document: #"{"eventNames": {"dealWon": ""}}"#, code: .emptyValue, keyPath: "eventNames.dealWon",
            message: #"eventNames.dealWon: the event name is empty; give the event a name, or list "dealWon" in "#
                + "disabledEvents to send nothing for it"),
        Bad(document: #"{"eventNames": {"dealWin": "Won"}}"#, code: .unknownEventKey, keyPath: "eventNames.dealWin",
            message: #"eventNames.dealWin: unknown event "dealWin" in eventNames; did you mean "dealWon"?"#),
        Bad(document: #"{"eventNames": {"noteAdded": "Note"}}"#, code: .unknownEventKey,
            keyPath: "eventNames.noteAdded",
            message: #"eventNames.noteAdded: unknown event "noteAdded" in eventNames; known events are "#
                + #""stageChanged", "dealWon", "dealLost", "ownerChanged", "dealCreated", "dealDeleted", "#
                + #""dealRestored", "contactUpdated""#),
        Bad(document: #"{"eventNames": {"dealWon": null}}"#, code: .wrongType, keyPath: "eventNames.dealWon",
            message: "eventNames.dealWon: expected an event name (a string), found null"),
        Bad(document: #"{"eventNames": "Deal Won"}"#, code: .wrongType, keyPath: "eventNames",
            message: #"eventNames: expected an object from event keys to event names, found a string ("Deal Won")"#),
        Bad(document: #"{"disabledEvents": ["dealDeleted", "contactUpdate"]}"#, code: .unknownEventKey,
            keyPath: "disabledEvents[1]",
            message: #"disabledEvents[1]: unknown event "contactUpdate" in disabledEvents; did you mean "#
                + #""contactUpdated"?"#),
        Bad(document: #"{"disabledEvents": ["dealLost", "dealLost"]}"#, code: .duplicateValue,
            keyPath: "disabledEvents[1]", message: #"disabledEvents[1]: "dealLost" is listed twice; list it once"#),
        Bad(document: #"{"disabledEvents": [true]}"#, code: .wrongType, keyPath: "disabledEvents[0]",
            message: #"disabledEvents[0]: expected an event key (a string such as "dealDeleted"), found a "#
                + "boolean (true)"),
        Bad(document: #"{"disabledEvents": "dealDeleted"}"#, code: .wrongType, keyPath: "disabledEvents",
            message: #"disabledEvents: expected an array of event keys, found a string ("dealDeleted")"#),
        Bad(document: #"{"wonTraits": [1]}"#, code: .wrongType, keyPath: "wonTraits",
            message: "wonTraits: expected an object of trait names and values, found an array"),
        Bad(document: #"{"lostTraits": null}"#, code: .wrongType, keyPath: "lostTraits",
            message: "lostTraits: expected an object of trait names and values, found null"),
        Bad(document: #"{"lostTraits": {"": true}}"#, code: .emptyValue, keyPath: #"lostTraits[""]"#,
            message: #"lostTraits[""]: a trait name is empty; name the trait"#),
        Bad(document: #"{"identity": "email"}"#, code: .wrongType, keyPath: "identity",
            message: #"identity: expected an object, found a string ("email")"#),
        Bad(document: #"{"identity": {"userId": "mail"}}"#, code: .invalidValue, keyPath: "identity.userId",
            message: #"identity.userId: "mail" is not allowed; use "email" or "contactId" (did you mean "email"?)"#),
        Bad(document: #"{"identity": {"fallback": "anonymous"}}"#, code: .invalidValue, keyPath: "identity.fallback",
            message: #"identity.fallback: "anonymous" is not allowed; use "skip" or "contactId""#),
        Bad(document: #"{"identity": {"fallback": 1}}"#, code: .wrongType, keyPath: "identity.fallback",
            message: #"identity.fallback: expected "skip" or "contactId", found an integer (1)"#),
        Bad(document: #"{"sendGroup": "yes"}"#, code: .wrongType, keyPath: "sendGroup",
            message: #"sendGroup: expected true or false, found a string ("yes")"#),
        Bad(document: #"{"sendGroup": 1}"#, code: .wrongType, keyPath: "sendGroup",
            message: "sendGroup: expected true or false, found an integer (1)"),
        Bad(document: #"{"integrations": true}"#, code: .wrongType, keyPath: "integrations",
            message: "integrations: expected an object of Segment destination names, or null, found a boolean (true)"),
        Bad(document: #"{"integrations": {"Mixpanel": "off"}}"#, code: .wrongType, keyPath: "integrations.Mixpanel",
            message: #"integrations.Mixpanel: expected true, false or an object of destination settings, found a "#
                + #"string ("off")"#),
        Bad(document: #"{"integrations": {" ": true}}"#, code: .emptyValue, keyPath: #"integrations[" "]"#,
            message: #"integrations[" "]: a destination name is empty; use Segment's destination name, or "All""#),
        Bad(document: #"{"integrations": {"Google Analytics": 1}}"#, code: .wrongType,
            keyPath: #"integrations["Google Analytics"]"#,
            message: #"integrations["Google Analytics"]: expected true, false or an object of destination "#
                + "settings, found an integer (1)"),
    ]
}
