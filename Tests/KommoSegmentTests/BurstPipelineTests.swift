import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing

/// `KommoSegmentPipeline.process(maxConcurrency:next:report:)`: many webhooks processed together.
@Suite("Pipeline: a burst processed together", .timeLimit(.minutes(1)))
struct BurstPipelineTests {
    /// Processes `names` (sample webhooks) together; returns the reports by position.
    static func burst(_ names: [String], in world: World, maxConcurrency: Int = 64) async throws -> [WebhookReport] {
        var bodies = try names.map { WebhookBody(body: try Fixtures.kommo($0), contentType: form, requestTarget: target) }
        .makeIterator()
        var reports: [Int: WebhookReport] = [:]
        await world.pipeline.process(maxConcurrency: maxConcurrency, next: { bodies.next() }, report: { position, report in
            #expect(reports.updateValue(report, forKey: position) == nil, "position \(position) reported twice")
        })
        #expect(reports.keys.sorted() == Array(0..<names.count))
        return (0..<names.count).compactMap { reports[$0] }
    }

    @Test("every sample together: Kommo read once per kind, one Segment request, messages in the order of the bodies")
    func samples() async throws {
        // A window far longer than the test: the rounds go as soon as every webhook has asked, so the count does
        // not depend on how busy the machine is.
        var configuration = KommoSegmentPipeline.Configuration()
        configuration.fetchGatherWindow = .seconds(20)
        let world = try World(files: try Fixtures.kommoAPIFiles(), configuration: configuration)
        let names = Fixtures.sampleWebhookNames
        let reports = try await Self.burst(names, in: world)
        try await world.stop()
        // Leads, contacts, companies, pipelines, users, account: each kind once.
        let requests = await world.kommoRequests
        #expect(requests <= 6, "Kommo requests: \(world.kommo.requests.map(\.url.absoluteString))")
        #expect(world.segment.requests == 1)
        // Queued in the order of the bodies, whatever order the processing finished in.
        let reported = reports.flatMap { $0.events.filter { $0.outcome == .delivered }.flatMap(\.messages) }
        #expect(world.segment.messages.map(\.messageID) == reported.map(\.messageID))
        #expect(!reported.isEmpty)
    }

    @Test("the bodies in the opposite order give the same messages")
    func orderDoesNotMatter() async throws {
        let names = Fixtures.sampleWebhookNames
        let forward = try World(files: try Fixtures.kommoAPIFiles())
        _ = try await Self.burst(names, in: forward)
        try await forward.stop()
        let backward = try World(files: try Fixtures.kommoAPIFiles())
        _ = try await Self.burst(names.reversed(), in: backward)
        try await backward.stop()
        let byID = { (messages: [SegmentMessage]) in Dictionary(messages.map { ($0.messageID ?? "", $0) }) { a, _ in a } }
        #expect(byID(forward.segment.messages) == byID(backward.segment.messages))
        #expect(forward.segment.messages.count == backward.segment.messages.count)
    }

    @Test("the same change twice in one burst is processed once; the second copy is a duplicate, not a failure")
    func sameChangeTwice() async throws {
        let world = try World(files: try Fixtures.kommoAPIFiles())
        let won = "webhook-lead-status-won.txt"
        let reports = try await Self.burst([won, won, won], in: world)
        try await world.stop()
        let outcomes = reports.flatMap { $0.events.map(\.outcome) }
        #expect(outcomes.filter { $0 == .delivered }.count == 1)
        #expect(outcomes.filter { $0 == .duplicate }.count == 2)
        #expect(world.segment.messages.count == 3)
    }

    @Test("with maxConcurrency 1 the bodies go one after another, each flushed on its own")
    func oneAtATime() async throws {
        let world = try World(files: try Fixtures.kommoAPIFiles())
        let names = ["webhook-lead-status-won.txt", "webhook-lead-status-lost.txt"]
        _ = try await Self.burst(names, in: world, maxConcurrency: 1)
        try await world.stop()
        #expect(world.segment.requests == 2)
    }
}
