import EventMapping
import Foundation
import Testing

@Suite("Message id recipe", .timeLimit(.minutes(1)))
struct MessageIDRecipeTests {
    let recipe = MessageIDRecipe()
    let won = MessageIDRecipe.Change.stageChanged(fromStatus: 61_000_005, fromPipeline: 7_654_321, toStatus: 142,
                                                  toPipeline: 7_654_321)

    /// The three worked examples of Documentation/MessageIDs.md; expected UUIDs cross-checked with Python's
    /// `uuid.uuid5(UUID("330dbac6-0a78-4c51-9dd4-02c3e8282ca0"), name)`.
    @Test("worked example 1: a won stage change, the track call")
    func workedExampleWonTrack() {
        let name = recipe.canonicalName(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: won,
                                        eventTime: 1_768_912_200, call: .track)
        #expect(name == "kommo-segment/v1|account=31234567|entity=lead|id=24000017"
            + "|change=stage:7654321:61000005>7654321:142|at=1768912200|call=track")
        #expect(recipe.messageID(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: won,
                                 eventTime: 1_768_912_200, call: .track) == "36d8ead2-3196-59ab-a32c-069727103614")
    }

    @Test("worked example 2: the identify call of the same event")
    func workedExampleWonIdentify() {
        let name = recipe.canonicalName(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: won,
                                        eventTime: 1_768_912_200, call: .identify)
        #expect(name == "kommo-segment/v1|account=31234567|entity=lead|id=24000017"
            + "|change=stage:7654321:61000005>7654321:142|at=1768912200|call=identify")
        #expect(recipe.messageID(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: won,
                                 eventTime: 1_768_912_200, call: .identify) == "288d8840-c5cc-5c86-b60c-7eeabf37c0bc")
    }

    @Test("worked example 4: a backfill of a won lead, its identify call")
    func workedExampleBackfill() {
        let change = MessageIDRecipe.Change.backfill(status: 142, pipeline: 7_654_321)
        let name = recipe.canonicalName(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: change,
                                        eventTime: 1_768_912_200, call: .identify)
        #expect(name == "kommo-segment/v1|account=31234567|entity=lead|id=24000017"
            + "|change=backfill:7654321:142|at=1768912200|call=identify")
        #expect(recipe.messageID(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: change,
                                 eventTime: 1_768_912_200, call: .identify) == "5b950f45-2a63-5454-8ef6-71ba01745cf2")
    }

    @Test("worked example 3: an owner change")
    func workedExampleOwnerChange() {
        let change = MessageIDRecipe.Change.ownerChanged(from: 9_000_001, to: 9_000_002)
        let name = recipe.canonicalName(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: change,
                                        eventTime: 1_768_480_500, call: .track)
        #expect(name == "kommo-segment/v1|account=31234567|entity=lead|id=24000017"
            + "|change=owner:9000001>9000002|at=1768480500|call=track")
        #expect(recipe.messageID(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: change,
                                 eventTime: 1_768_480_500, call: .track) == "3257b162-7798-5711-a20c-1231f41a7a1f")
    }

    @Test("more hard-coded ids: an unknown old pipeline, a contact update")
    func moreHardCoded() {
        let unknownPipeline = MessageIDRecipe.Change.stageChanged(fromStatus: 61_000_005, fromPipeline: nil,
                                                                  toStatus: 142, toPipeline: 7_654_321)
        #expect(unknownPipeline.canonicalValue == "stage:~:61000005>7654321:142")
        #expect(recipe.messageID(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: unknownPipeline,
                                 eventTime: 1_768_912_200, call: .track) == "b01ab4d4-ea25-50f4-8f80-7634d2f5b8de")
        #expect(recipe.canonicalName(accountID: 31_234_567, entity: .contact, entityID: 58211, change: .updated,
                                     eventTime: 1_768_912_200, call: .identify)
            == "kommo-segment/v1|account=31234567|entity=contact|id=58211|change=update|at=1768912200|call=identify")
        #expect(recipe.messageID(accountID: 31_234_567, entity: .contact, entityID: 58211, change: .updated,
                                 eventTime: 1_768_912_200, call: .identify) == "7882be6f-8c33-5abe-9d64-c928b3bbac89")
    }

    @Test("the project namespace is the documented constant")
    func namespace() {
        #expect(MessageIDRecipe.projectNamespace.uuidString.lowercased() == "330dbac6-0a78-4c51-9dd4-02c3e8282ca0")
        #expect(recipe.namespace == MessageIDRecipe.projectNamespace)
        #expect(MessageIDRecipe.formatVersion == "kommo-segment/v1")
    }

    @Test("the same input gives the same id, every time and from every recipe value")
    func stability() {
        let ids = (0..<5).map { _ in
            MessageIDRecipe().messageID(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: won,
                                        eventTime: 1_768_912_200, call: .track)
        }
        #expect(Set(ids).count == 1)
        #expect(ids[0].count == 36)
        let uuid = recipe.messageUUID(accountID: 31_234_567, entity: .lead, entityID: 24_000_017, change: won,
                                      eventTime: 1_768_912_200, call: .track)
        #expect(uuid.string == ids[0])
    }

    struct Input: Sendable, CustomStringConvertible {
        var label: String
        var accountID: Int64 = 31_234_567
        var entity: MessageIDRecipe.Entity = .lead
        var entityID: Int64 = 24_000_017
        var change = MessageIDRecipe.Change.stageChanged(fromStatus: 61_000_005, fromPipeline: 7_654_321,
                                                         toStatus: 142, toPipeline: 7_654_321)
        var eventTime: Int64 = 1_768_912_200
        var call: MessageIDRecipe.Call = .track
        var description: String { label }
    }

    static let variants: [Input] = [
        Input(label: "base"),
        Input(label: "another account", accountID: 31_234_568),
        Input(label: "a contact", entity: .contact),
        Input(label: "a company", entity: .company),
        Input(label: "another lead", entityID: 24_000_018),
        Input(label: "lost instead of won", change: .stageChanged(fromStatus: 61_000_005, fromPipeline: 7_654_321,
                                                                   toStatus: 143, toPipeline: 7_654_321)),
        Input(label: "another old stage", change: .stageChanged(fromStatus: 61_000_004, fromPipeline: 7_654_321,
                                                                 toStatus: 142, toPipeline: 7_654_321)),
        Input(label: "another old pipeline", change: .stageChanged(fromStatus: 61_000_005, fromPipeline: 7_654_322,
                                                                    toStatus: 142, toPipeline: 7_654_321)),
        Input(label: "another new pipeline", change: .stageChanged(fromStatus: 61_000_005, fromPipeline: 7_654_321,
                                                                    toStatus: 142, toPipeline: 7_654_322)),
        Input(label: "old pipeline unknown", change: .stageChanged(fromStatus: 61_000_005, fromPipeline: nil,
                                                                    toStatus: 142, toPipeline: 7_654_321)),
        Input(label: "old stage unknown", change: .stageChanged(fromStatus: nil, fromPipeline: 7_654_321,
                                                                 toStatus: 142, toPipeline: 7_654_321)),
        Input(label: "reverse transition", change: .stageChanged(fromStatus: 142, fromPipeline: 7_654_321,
                                                                  toStatus: 61_000_005, toPipeline: 7_654_321)),
        Input(label: "owner change", change: .ownerChanged(from: 9_000_001, to: 9_000_002)),
        Input(label: "owner change back", change: .ownerChanged(from: 9_000_002, to: 9_000_001)),
        Input(label: "owner change, old owner unknown", change: .ownerChanged(from: nil, to: 9_000_002)),
        Input(label: "added", change: .added),
        Input(label: "restored", change: .restored),
        Input(label: "deleted", change: .deleted),
        Input(label: "updated", change: .updated),
        Input(label: "one second later", eventTime: 1_768_912_201),
        Input(label: "identify", call: .identify),
        Input(label: "group", call: .group),
    ]

    @Test("every differing fact gives a different canonical name and id")
    func differences() {
        let names = Self.variants.map { input in
            recipe.canonicalName(accountID: input.accountID, entity: input.entity, entityID: input.entityID,
                                 change: input.change, eventTime: input.eventTime, call: input.call)
        }
        let ids = Self.variants.map { input in
            recipe.messageID(accountID: input.accountID, entity: input.entity, entityID: input.entityID,
                             change: input.change, eventTime: input.eventTime, call: input.call)
        }
        #expect(Set(names).count == Self.variants.count)
        #expect(Set(ids).count == Self.variants.count)
    }

    @Test("another namespace gives other ids from the same canonical name")
    func otherNamespace() {
        let other = MessageIDRecipe(namespace: NameBasedUUID.urlNamespace)
        let mine = recipe.messageID(accountID: 1, entity: .lead, entityID: 2, change: .added, eventTime: 3,
                                    call: .track)
        let theirs = other.messageID(accountID: 1, entity: .lead, entityID: 2, change: .added, eventTime: 3,
                                     call: .track)
        #expect(mine != theirs)
        #expect(recipe.canonicalName(accountID: 1, entity: .lead, entityID: 2, change: .added, eventTime: 3,
                                     call: .track)
            == other.canonicalName(accountID: 1, entity: .lead, entityID: 2, change: .added, eventTime: 3,
                                   call: .track))
    }

    @Test("open tokens are escaped so no value can forge a separator", arguments: [
        ("lead|id=1", "lead%7Cid%3D1"),
        ("", "~"),
        ("~", "%7E"),
        ("сделка", "%D1%81%D0%B4%D0%B5%D0%BB%D0%BA%D0%B0"),
        ("custom_entity-2.x", "custom_entity-2.x"),
    ])
    func escaping(raw: String, expected: String) {
        let name = recipe.canonicalName(accountID: 1, entity: MessageIDRecipe.Entity(rawValue: raw), entityID: 2,
                                        change: .added, eventTime: 3, call: MessageIDRecipe.Call(rawValue: raw))
        #expect(name == "kommo-segment/v1|account=1|entity=\(expected)|id=2|change=add|at=3|call=\(expected)")
    }

    @Test("section changes and the entity and call names")
    func vocabulary() {
        #expect([MessageIDRecipe.Change.added, .restored, .deleted, .updated].map(\.canonicalValue)
            == ["add", "restore", "delete", "update"])
        #expect([MessageIDRecipe.Entity.lead, .contact, .company].map(\.rawValue) == ["lead", "contact", "company"])
        #expect([MessageIDRecipe.Call.identify, .track, .group].map(\.description) == ["identify", "track", "group"])
        #expect(MessageIDRecipe.Change.ownerChanged(from: nil, to: 5).description == "owner:~>5")
        #expect(MessageIDRecipe.Change.stageChanged(fromStatus: -1, fromPipeline: 0, toStatus: 1, toPipeline: 2)
            .canonicalValue == "stage:0:-1>2:1")
    }
}
