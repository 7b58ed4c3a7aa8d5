import Foundation
import KommoModels
import Testing

@Suite("Kommo webhook detection helpers", .timeLimit(.minutes(1)))
struct WebhookDetectionTests {
    struct StageCase: Sendable, CustomTestStringConvertible {
        var old: Int64?
        var oldPipeline: Int64?
        var new: Int64?
        var newPipeline: Int64?
        var isChange: Bool
        var testDescription: String {
            "\(old.map(String.init) ?? "-")/\(oldPipeline.map(String.init) ?? "-") → "
                + "\(new.map(String.init) ?? "-")/\(newPipeline.map(String.init) ?? "-")"
        }
    }

    @Test("isStageChange", arguments: [
        StageCase(old: 61_000_003, oldPipeline: nil, new: 61_000_004, newPipeline: 7_654_321, isChange: true),
        StageCase(old: 61_000_004, oldPipeline: nil, new: 61_000_004, newPipeline: 7_654_321, isChange: false),
        StageCase(old: nil, oldPipeline: nil, new: 61_000_004, newPipeline: 7_654_321, isChange: false),
        StageCase(old: nil, oldPipeline: 7_654_321, new: 142, newPipeline: 7_654_400, isChange: false),
        StageCase(old: 142, oldPipeline: 7_654_321, new: 142, newPipeline: 7_654_400, isChange: true),
        StageCase(old: 142, oldPipeline: 7_654_321, new: 142, newPipeline: 7_654_321, isChange: false),
        StageCase(old: 61_000_003, oldPipeline: 7_654_321, new: 61_000_004, newPipeline: 7_654_321, isChange: true),
        StageCase(old: 61_000_102, oldPipeline: 7_654_400, new: 61_000_102, newPipeline: nil, isChange: false),
        StageCase(old: 61_000_005, oldPipeline: nil, new: nil, newPipeline: 7_654_321, isChange: false),
        StageCase(old: 143, oldPipeline: nil, new: 143, newPipeline: nil, isChange: false),
    ])
    func stageChange(row: StageCase) {
        let lead = LeadEvent(action: .status, id: 1, statusID: row.new, pipelineID: row.newPipeline,
                             oldStatusID: row.old, oldPipelineID: row.oldPipeline)
        #expect(lead.isStageChange == row.isChange)
    }

    @Test("isWon and isLost with Kommo's defaults and custom sets", arguments: [
        (Int64?(142), Set<Int64>([142]), Set<Int64>([143]), true, false),
        (143, [142], [143], false, true),
        (61_000_004, [142], [143], false, false),
        (nil, [142], [143], false, false),
        (61_000_009, [142, 61_000_009], [143], true, false),
        (142, [61_000_009], [143, 61_000_010], false, false),
        (61_000_010, [142], [143, 61_000_010], false, true),
        (142, [], [], false, false),
    ] as [(Int64?, Set<Int64>, Set<Int64>, Bool, Bool)])
    func wonAndLost(status: Int64?, won: Set<Int64>, lost: Set<Int64>, isWon: Bool, isLost: Bool) {
        let lead = LeadEvent(action: .status, id: 1, statusID: status, pipelineID: 7_654_321)
        #expect(lead.isWon(wonStatusIDs: won) == isWon)
        #expect(lead.isLost(lostStatusIDs: lost) == isLost)
    }

    @Test("the default won and lost stages are 142 and 143", arguments: [
        (Int64(142), true, false), (143, false, true), (144, false, false), (0, false, false),
    ])
    func defaultStages(status: Int64, isWon: Bool, isLost: Bool) {
        let lead = LeadEvent(action: .update, id: 1, statusID: status)
        #expect(lead.isWon() == isWon)
        #expect(lead.isLost() == isLost)
    }

    @Test("isOwnerChange on leads, contacts and companies", arguments: [
        (Int64?(9_000_001), Int64?(9_000_002), true),
        (9_000_001, 9_000_001, false),
        (nil, 9_000_002, false),
        (9_000_001, nil, false),
        (nil, nil, false),
        (0, 9_000_002, true),
    ] as [(Int64?, Int64?, Bool)])
    func ownerChange(old: Int64?, new: Int64?, isChange: Bool) {
        let lead = LeadEvent(action: .responsible, id: 1, responsibleUserID: new, oldResponsibleUserID: old)
        #expect(lead.isOwnerChange == isChange)
        for type in [KommoWebhookEntityType.contact, .company] {
            let entity = EntityEvent(entityType: type, action: .update, id: 1, responsibleUserID: new,
                                     oldResponsibleUserID: old)
            #expect(entity.isOwnerChange == isChange)
        }
    }

    @Test("eventTime prefers updated_at, then last_modified", arguments: [
        (Int64?(1_768_650_000), Int64?(1_768_649_000), Int64?(1_768_650_000)),
        (nil, 1_768_649_000, 1_768_649_000),
        (1_768_650_000, nil, 1_768_650_000),
        (nil, nil, nil),
    ] as [(Int64?, Int64?, Int64?)])
    func eventTime(updatedAt: Int64?, lastModified: Int64?, expected: Int64?) {
        let lead = LeadEvent(action: .update, id: 1, lastModified: lastModified.map(webhookDate), updatedAt: updatedAt.map(webhookDate))
        #expect(lead.eventTime == expected.map(webhookDate))
        let entity = EntityEvent(entityType: .contact, action: .update, id: 1, lastModified: lastModified.map(webhookDate),
                                 updatedAt: updatedAt.map(webhookDate))
        #expect(entity.eventTime == expected.map(webhookDate))
    }

    @Test("open vocabularies compare by raw value and print it")
    func vocabularies() {
        #expect(KommoWebhookAction(rawValue: "status") == .status)
        #expect([KommoWebhookAction.add, .update, .delete, .restore, .status, .responsible, .note].map(\.rawValue)
            == ["add", "update", "delete", "restore", "status", "responsible", "note"])
        #expect(KommoWebhookAction(rawValue: "mail_in").description == "mail_in")
        #expect(KommoWebhookEntityType(rawValue: "company") == .company)
        #expect(KommoWebhookSection(rawValue: "task") == .task)
        #expect(KommoWebhookError.Code.tooDeep.description == "tooDeep")
    }
}
