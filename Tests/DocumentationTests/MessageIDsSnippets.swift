// The ```swift blocks of Documentation/MessageIDs.md, compiled and run: the ids are those the guide shows.
// GuideSnippetTests checks that each block appears here verbatim: edit both together.

import EventMapping
import Testing

@Suite("MessageIDs.md snippets")
struct MessageIDsSnippets {
    /// "1. A deal won: the track call".
    @Test("MessageIDs.md: the id of a deal won's track call")
    func snippet1() {
        let recipe = MessageIDRecipe()
        let id = recipe.messageID(accountID: 31234567, entity: .lead, entityID: 24000017,
                                  change: .stageChanged(fromStatus: 61000005, fromPipeline: 7654321,
                                                        toStatus: 142, toPipeline: 7654321),
                                  eventTime: 1768912200, call: .track)
        #expect(id == "36d8ead2-3196-59ab-a32c-069727103614")
    }

    /// "3. An owner change", with the recipe of the first example.
    @Test("MessageIDs.md: the id of an owner change's track call")
    func snippet2() {
        let recipe = MessageIDRecipe()
        let id = recipe.messageID(accountID: 31234567, entity: .lead, entityID: 24000017,
                                  change: .ownerChanged(from: 9000001, to: 9000002),
                                  eventTime: 1768480500, call: .track)
        #expect(id == "3257b162-7798-5711-a20c-1231f41a7a1f")
    }
}
