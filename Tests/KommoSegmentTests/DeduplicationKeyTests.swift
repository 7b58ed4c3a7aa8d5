import EventMapping
import Foundation
import KommoSegment
import Testing

@Suite("Deduplication keys", .timeLimit(.minutes(1)))
struct DeduplicationKeyTests {
    @Test("a stage change's key has the documented form")
    func documentedForm() {
        let key = DeduplicationKey(accountID: 31_234_567, entity: "lead", entityID: 24_000_017,
                                   change: "stage:7654321:61000005>7654321:142", eventTime: 1_768_912_200)
        #expect(key.rawValue
            == "kommo-segment:v1:event:31234567:lead:24000017:stage:7654321:61000005>7654321:142:1768912200")
        #expect(key.description == key.rawValue)
        #expect(key.rawValue.hasPrefix(DeduplicationKey.prefix))
    }

    @Test("the key from message id components equals the key from strings")
    func fromRecipeValues() {
        let change = MessageIDRecipe.Change.ownerChanged(from: 9_000_001, to: 9_000_002)
        let fromRecipe = DeduplicationKey(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: change,
                                          eventTime: 1_768_480_500)
        let fromStrings = DeduplicationKey(accountID: 31_234_567, entity: "lead", entityID: 24_000_017,
                                           change: "owner:9000001>9000002", eventTime: 1_768_480_500)
        #expect(fromRecipe == fromStrings)
        #expect(fromRecipe.rawValue == "kommo-segment:v1:event:31234567:lead:24000017:owner:9000001>9000002:1768480500")
    }

    @Test("spaces, percent signs, separators and non-ASCII are escaped",
          arguments: [
              (entity: "lead", change: "a b", expected: "kommo-segment:v1:event:1:lead:2:a%20b:3"),
              (entity: "lead", change: "50%", expected: "kommo-segment:v1:event:1:lead:2:50%25:3"),
              (entity: "lead", change: "x|y\n", expected: "kommo-segment:v1:event:1:lead:2:x%7Cy%0A:3"),
              (entity: "lead", change: "é", expected: "kommo-segment:v1:event:1:lead:2:%C3%A9:3"),
              (entity: "lead", change: "", expected: "kommo-segment:v1:event:1:lead:2::3"),
              (entity: "a:b", change: "add", expected: "kommo-segment:v1:event:1:a%3Ab:2:add:3"),
              (entity: "", change: "add", expected: "kommo-segment:v1:event:1:~:2:add:3"),
          ])
    func escaping(entity: String, change: String, expected: String) throws {
        let key = DeduplicationKey(accountID: 1, entity: entity, entityID: 2, change: change, eventTime: 3)
        #expect(key.rawValue == expected)
        // Every built key is also a valid raw value.
        #expect(try #require(DeduplicationKey(rawValue: key.rawValue)) == key)
    }

    @Test("different components give different keys")
    func injective() {
        let keys: [DeduplicationKey] = [
            DeduplicationKey(accountID: 1, entity: "lead", entityID: 2, change: "add", eventTime: 3),
            DeduplicationKey(accountID: 1, entity: "lead", entityID: 2, change: "add", eventTime: 4),
            DeduplicationKey(accountID: 1, entity: "lead", entityID: 3, change: "add", eventTime: 3),
            DeduplicationKey(accountID: 1, entity: "contact", entityID: 2, change: "add", eventTime: 3),
            DeduplicationKey(accountID: 2, entity: "lead", entityID: 2, change: "add", eventTime: 3),
            DeduplicationKey(accountID: 1, entity: "lead", entityID: 2, change: "update", eventTime: 3),
            DeduplicationKey(accountID: 1, entity: "lead", entityID: 2, change: "add:2", eventTime: 3),
            DeduplicationKey(accountID: 1, entity: "lead:2", entityID: 2, change: "add", eventTime: 3),
        ]
        #expect(Set(keys.map(\.rawValue)).count == keys.count)
    }

    @Test("raw values are accepted only when Redis-safe",
          arguments: [
              ("kommo-segment:v1:event:1:lead:2:add:3", true),
              ("my-own-scheme:42", true),
              ("", false),
              ("has space", false),
              ("tab\there", false),
              ("caf\u{E9}", false),
              (String(repeating: "a", count: 1024), true),
              (String(repeating: "a", count: 1025), false),
          ])
    func rawValues(raw: String, isValid: Bool) {
        #expect((DeduplicationKey(rawValue: raw) != nil) == isValid)
    }

    @Test("entity keys have the documented form")
    func entityKeys() {
        let lead = DeduplicationEntityKey(accountID: 31_234_567, leadID: 24_000_017)
        #expect(lead.rawValue == "kommo-segment:v1:newest:31234567:lead:24000017")
        #expect(lead.description == lead.rawValue)
        #expect(lead == DeduplicationEntityKey(accountID: 31_234_567, entity: "lead", entityID: 24_000_017))
        #expect(DeduplicationEntityKey(accountID: 1, entity: "a b", entityID: 2).rawValue
            == "kommo-segment:v1:newest:1:a%20b:2")
    }
}

@Suite("Deduplication errors", .timeLimit(.minutes(1)))
struct DeduplicationErrorTests {
    @Test("the description names the operation, the key, the cause and what to do",
          arguments: [
              (DeduplicationError.Code.unavailable, "unavailable"),
              (.timedOut, "did not answer in time"),
              (.unexpectedReply, "unexpected reply"),
              (.invalidArgument, "invalid argument"),
              (DeduplicationError.Code(rawValue: "custom"), "custom"),
          ])
    func descriptions(code: DeduplicationError.Code, phrase: String) {
        let error = DeduplicationError(code: code, operation: "claim", key: "kommo-segment:v1:event:1:lead:2:add:3",
                                       detail: "connection refused")
        #expect(error.description.hasPrefix("Deduplication store: claim failed for kommo-segment:v1:event:1:lead:2:add:3: "))
        #expect(error.description.contains(phrase))
        #expect(error.description.contains("connection refused"))
        #expect(error.description.contains("rely on message ids"))
        #expect(error.code.description == code.rawValue)
    }
}
