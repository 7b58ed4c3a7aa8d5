// The ```swift blocks of Documentation/Testing.md, compiled and run, numbered in the guide's order. Block 1 (a
// `Package.swift` fragment, marked `manifest`) is checked against the manifest instead. GuideSnippetTests checks that
// each block appears here verbatim: edit both together.

import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing

// Block 2, "The Kommo side".
@Test func fetchesALostDeal() async throws {
    let fake = try KommoAPIFake()                       // account 31234567 "acme", token "fixture-token"
    let leads = try await fake.client.leads(ids: [24000031, 24000099])
    #expect(leads.map(\.id) == [24000031])              // 24000099 is deleted: no file, 204
    #expect(leads[0].lossReason?.name == "Chose a competitor")
    #expect(fake.transport.requestCount(path: "/api/v4/leads") == 1)
}

// Block 4, "The whole pipeline".
@Test func deliversAWonDeal() async throws {
    let kommo = try KommoAPIFake()
    let segment = InMemorySegmentClient()
    let account = KommoSegmentAccount(accountID: KommoAPIFake.accountID, kommo: kommo.client, segment: segment,
                                      secret: WebhookSecret("test-secret"))
    let pipeline = try KommoSegmentPipeline(accounts: [account])
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await pipeline.run() }
        let report = await pipeline.process(body: try Fixtures.webhook("lead-status-won"),
                                            contentType: KommoWebhookBuilder.contentType,
                                            requestTarget: "/kommo/webhook?secret=test-secret")
        #expect(report.events.map(\.outcome) == [.delivered])
        _ = await pipeline.shutdown()             // run() returns
        try await group.waitForAll()
    }
    #expect(segment.messages.map(\.type) == [.identify, .track, .group])
}

@Suite("Testing.md snippets")
struct TestingSnippets {
    /// Block 3, "The Segment side".
    @Test("Testing.md: the queue delivers to the in-memory client through two scripted 503s")
    func snippet3() async throws {
        let sink = InMemorySegmentClient(failures: [.init(attempts: 2, status: 503)])
        let queue = SegmentQueue(client: sink, clock: ImmediateClock())   // retry waits and the interval take no time
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await queue.run() }
            let ticket = try await queue.enqueue(.track("Deal Won", userID: "olivia.bennett@example.com"))
            #expect(try await ticket.outcome() == .delivered)
            _ = await queue.shutdown()                    // run() returns
            try await group.waitForAll()
        }
        #expect(sink.messages.map(\.event) == ["Deal Won"])
        #expect(sink.retryCounts == [0, 1, 2])            // two scripted 503s, then accepted
    }

    /// Block 5, "Webhook bodies".
    @Test("Testing.md: the builder's body parses into the two items added")
    func snippet5() throws {
        var hook = KommoWebhookBuilder()                        // account block first; .last is possible too
        hook.add(.leads, .status, .lead(id: 24000017, statusID: 142, oldStatusID: 61000005, pipelineID: 7654321,
                                        customFields: [.text(id: 1100001, name: "Budget range", "10k-25k",
                                                             enumID: 5500012)],
                                        updatedAt: 1768912200))
        hook.add(.contacts, .update, .company(id: 36000005, name: "Northwind Traders LLC", linkedLeadIDs: [24000017]))
        let webhook = try KommoWebhookParser().parse(body: hook.body, contentType: KommoWebhookBuilder.contentType)
        #expect(webhook.events.count == 2)
    }
}
