import Foundation
import HTTPCore
import KommoSegment
import KommoSegmentTesting
import Testing

/// Events of Kommo's log as `events.json` fixture files, for the catch-up tests.
enum EventLog {
    static let account: Int64 = 31_234_567
    /// 2026-01-01T00:00:00Z and 2026-02-01T00:00:00Z: the bundled events are all in January 2026.
    static let january = CatchUpRequest(accountID: account, since: Date(timeIntervalSince1970: 1_767_225_600),
                                        until: Date(timeIntervalSince1970: 1_769_904_000))

    /// A `lead_status_changed` event in the log's shape.
    static func stage(_ id: String, lead: Int64, from: Int64, to: Int64, pipeline: Int64 = 7_654_321,
                      at time: Int64) -> [String: Any] {
        [
            "id": id, "type": "lead_status_changed", "entity_id": lead, "entity_type": "lead", "created_by": 9_000_001,
            "created_at": time, "account_id": account,
            "value_before": [["lead_status": ["id": from, "pipeline_id": pipeline]]],
            "value_after": [["lead_status": ["id": to, "pipeline_id": pipeline]]],
            "_embedded": ["entity": ["id": lead]],
        ]
    }

    /// The bundled fixture files with `events.json` replaced by `events` (kept as bundled when `nil`).
    static func files(events: [[String: Any]]? = nil) throws -> [String: Data] {
        var files = try Fixtures.kommoAPIFiles()
        if let events {
            files["events.json"] = try JSONSerialization.data(withJSONObject: ["_embedded": ["events": events]])
        }
        return files
    }

    /// The ids of the events the bundled webhook samples also report (the same lead, transition and time).
    static let mirroredByWebhooks: Set<String> = [
        "01jh0000000000000000000002", "01jh0000000000000000000005", "01jh0000000000000000000007",
        "01jh0000000000000000000009", "01jh0000000000000000000010", "01jh0000000000000000000011",
        "01jh0000000000000000000013", "01jh0000000000000000000016",
    ]

    /// The webhook samples that report the mirrored events.
    static let webhookSamples = [
        "webhook-lead-status-middle-stage.txt", "webhook-lead-responsible-changed.txt", "webhook-lead-add.txt",
        "webhook-lead-status-batch.txt", "webhook-lead-status-lost.txt", "webhook-lead-status-won.txt",
    ]
}

/// Catch-up from Kommo's events log through the real pipeline, over the bundled fixtures.
@Suite("Catch-up", .timeLimit(.minutes(1)))
struct CatchUpTests {
    @Test("events the webhooks missed are delivered, oldest first, with the ids a webhook would have given them")
    func missedEventsAreDelivered() async throws {
        let world = try World(files: EventLog.files())
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(report.pages == 1)
        #expect(report.failed == 0)
        #expect(report.recovered == 10)
        #expect(report.skipped == 5)
        #expect(report.isComplete)
        let times = report.events.map(\.event.createdAt)
        #expect(times == times.sorted())
        // The Deal Won of Documentation/MessageIDs.md, example 1: the webhook path's id.
        let ids = world.segment.messages.compactMap(\.messageID)
        #expect(ids.contains("36d8ead2-3196-59ab-a32c-069727103614"))
        #expect(Set(ids).count == ids.count)
        // A stage "change" to the same stage is a sync artefact, skipped as with webhooks.
        let artefact = try #require(report.events.first { $0.event.id == "01jh0000000000000000000003" })
        guard case .skipped(let reasons) = artefact.outcome else {
            Issue.record("the artefact was \(artefact.outcome)")
            return
        }
        #expect(reasons.map(\.code) == [.notAStageChange])
        let statistics = await world.pipeline.statistics
        #expect(statistics.catchUpRuns == 1)
        #expect(statistics.catchUpRecovered == 10)
        #expect(statistics.catchUpPages == 1)
    }

    @Test("a window holding changes already delivered by webhook sends none of them again")
    func alreadyDeliveredIsNotSentAgain() async throws {
        let world = try World(files: EventLog.files())
        for sample in EventLog.webhookSamples {
            let report = try await world.process(sample)
            #expect(!report.hasFailures, "\(sample): \(report)")
        }
        let byWebhook = world.segment.messages.compactMap(\.messageID)
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        let duplicates = Set(report.events.filter { $0.outcome == .duplicate }.map(\.event.id))
        #expect(duplicates == EventLog.mirroredByWebhooks)
        let all = world.segment.messages.compactMap(\.messageID)
        #expect(Set(all).count == all.count, "a message was sent twice")
        // What catch-up sent is exactly what the webhooks had missed.
        let recovered = Set(report.events.filter { $0.outcome == .delivered }.map(\.event.id))
        #expect(recovered.isDisjoint(with: EventLog.mirroredByWebhooks))
        #expect(!recovered.isEmpty)
        #expect(all.count == byWebhook.count + report.events.filter { $0.outcome == .delivered }
            .reduce(0) { $0 + $1.messages.count })
    }

    @Test("every page is read: 250 events come in 3 pages and are processed oldest first")
    func pagingOverThreePages() async throws {
        let start: Int64 = 1_768_000_000
        let events = (0..<250).map { index in
            EventLog.stage(String(format: "01paging%018d", index), lead: 24_000_017, from: 61_000_003 + Int64(index % 2),
                           to: 61_000_004 - Int64(index % 2), at: start + Int64(index) * 10)
        }
        let world = try World(files: EventLog.files(events: events))
        var pagesSeen: [Int] = []
        let report = try await world.pipeline.catchUp(EventLog.january) { progress in
            if progress.phase == .reading { pagesSeen.append(progress.pages) }
        }
        try await world.stop()
        #expect(report.pages == 3)
        #expect(pagesSeen == [1, 2, 3])
        #expect(world.kommo.requestCount(path: "/api/v4/events") == 3)
        #expect(report.eventsRead == 250)
        #expect(report.events.count == 250)
        #expect(report.events.map(\.event.id) == events.compactMap { $0["id"] as? String })
        #expect(report.recovered == 250)
        // The leads were read together, not once per event.
        #expect(world.kommo.requestCount(path: "/api/v4/leads") <= 5)
    }

    @Test("an interrupted run keeps its checkpoint before the failure; the next run goes on from there")
    func checkpointResumedAfterInterruption() async throws {
        let checkpoints = InMemoryCatchUpCheckpointStore()
        var configuration = KommoSegmentPipeline.Configuration()
        configuration.catchUp.checkpointEvery = 4
        let segment = SwitchableSegment()
        let world = try World(files: EventLog.files(), segmentClient: segment, configuration: configuration,
                              checkpoints: checkpoints)
        // Segment accepts the first request (one per 4 events at most), then refuses: the run stops there.
        segment.acceptBatches(1)
        let first = try await world.pipeline.catchUp(EventLog.january)
        #expect(first.failed > 0)
        #expect(first.eventsNotProcessed > 0)
        let stopped = try #require(first.checkpoint)
        let firstFailure = try #require(first.events.first { if case .failed = $0.outcome { true } else { false } })
        #expect(stopped < Int64(firstFailure.event.createdAt.timeIntervalSince1970))
        #expect(await checkpoints.checkpoint(for: EventLog.account) == stopped)

        segment.acceptBatches(.max)
        let eventsBefore = world.kommo.requestCount(path: "/api/v4/events")
        let second = try await world.pipeline.catchUp(CatchUpRequest(accountID: EventLog.account,
                                                                      until: EventLog.january.until))
        try await world.stop()
        #expect(world.kommo.requestCount(path: "/api/v4/events") == eventsBefore + 1)
        #expect(second.from == stopped + 1)
        #expect(second.failed == 0)
        #expect(second.events.allSatisfy { Int64($0.event.createdAt.timeIntervalSince1970) > stopped })
        #expect(second.checkpoint == Int64(EventLog.january.until!.timeIntervalSince1970))
        // Together the runs delivered every change the bundled log holds, none twice.
        let ids = segment.delivered.compactMap(\.messageID)
        #expect(Set(ids).count == ids.count)
        let delivered = (first.events + second.events).filter { $0.outcome == .delivered }.map(\.event.id)
        #expect(delivered.count == 10)
        #expect(Set(delivered).count == 10)
    }

    @Test("events outside the window are ignored, even when Kommo returns them")
    func eventsOutsideTheWindowAreIgnored() async throws {
        let inside = EventLog.stage("01window-inside", lead: 24_000_017, from: 61_000_004, to: 61_000_005,
                                    at: 1_768_650_000)
        let before = EventLog.stage("01window-before", lead: 24_000_017, from: 61_000_003, to: 61_000_004,
                                    at: 1_768_000_000)
        let after = EventLog.stage("01window-after", lead: 24_000_017, from: 61_000_005, to: 142, at: 1_769_000_000)
        let kommo = KommoFixtureTransport(files: try EventLog.files(events: [inside, before, after]))
        let world = try World(kommoTransport: IgnoresTimeFilter(kommo))
        let request = CatchUpRequest(accountID: EventLog.account, since: Date(timeIntervalSince1970: 1_768_600_000),
                                     until: Date(timeIntervalSince1970: 1_768_700_000))
        let report = try await world.pipeline.catchUp(request)
        try await world.stop()
        #expect(report.eventsRead == 3)
        #expect(report.eventsIgnored == 2)
        #expect(report.events.map(\.event.id) == ["01window-inside"])
        #expect(world.segment.messages.allSatisfy { $0.timestamp == Date(timeIntervalSince1970: 1_768_650_000) })
    }

    @Test("a window with nothing new moves the checkpoint to its end; a dry run moves nothing")
    func emptyWindowAndDryRun() async throws {
        let checkpoints = InMemoryCatchUpCheckpointStore()
        let world = try World(files: EventLog.files(events: []), checkpoints: checkpoints)
        var dry = EventLog.january
        dry.movesCheckpoint = false
        let dryReport = try await world.pipeline.catchUp(dry)
        #expect(dryReport.checkpoint == nil)
        #expect(await checkpoints.checkpoint(for: EventLog.account) == nil)
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(report.events.isEmpty)
        #expect(report.checkpoint == 1_769_904_000)
        #expect(report.isComplete)
    }

    @Test("a Kommo that refuses the log fails the run with a typed error and keeps the checkpoint")
    func kommoFailure() async throws {
        let checkpoints = InMemoryCatchUpCheckpointStore([EventLog.account: 1_768_000_000])
        let world = try World(kommoTransport: ScriptedTransport(fallback: { _, _ in .respond(status: 401) }),
                              checkpoints: checkpoints)
        await #expect {
            _ = try await world.pipeline.catchUp(CatchUpRequest(accountID: EventLog.account))
        } throws: { error in
            guard let error = error as? CatchUpError else { return false }
            return error.code == .kommo && (error.underlyingError as? KommoAPIError)?.code == .unauthorized
        }
        try await world.stop()
        #expect(await checkpoints.checkpoint(for: EventLog.account) == 1_768_000_000)
        #expect(await world.pipeline.statistics.catchUpRunsFailed == 1)
        await #expect(throws: CatchUpError.self) {
            _ = try await world.pipeline.catchUp(CatchUpRequest(accountID: 1))
        }
    }

    @Test("run() catches up on its schedule, goes on from the checkpoint, and stops at shutdown")
    func scheduledCatchUp() async throws {
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_770_000_000))
        var configuration = KommoSegmentPipeline.Configuration()
        configuration.catchUp.interval = .seconds(600)
        configuration.catchUp.lookBack = .seconds(40 * 86_400)
        let checkpoints = InMemoryCatchUpCheckpointStore()
        let world = try World(files: EventLog.files(), clock: clock, configuration: configuration,
                              wallClock: clock.wallClock, checkpoints: checkpoints)
        await clock.waitForSleeper(lasting: .seconds(600))
        clock.advance(by: .seconds(600))
        // The loop sleeps again once its run is over.
        await clock.waitForSleeper(lasting: .seconds(600))
        var statistics = await world.pipeline.statistics
        #expect(statistics.catchUpRuns == 1)
        #expect(statistics.catchUpRecovered == 10)
        let checkpoint = try #require(await checkpoints.checkpoint(for: EventLog.account))
        #expect(checkpoint == 1_770_000_600 - 60)
        clock.advance(by: .seconds(600))
        await clock.waitForSleeper(lasting: .seconds(600))
        statistics = await world.pipeline.statistics
        #expect(statistics.catchUpRuns == 2)
        #expect(statistics.catchUpRecovered == 10)
        #expect(statistics.catchUpEventsRead == 15)
        try await world.stop()
    }
}

/// One change reported twice, by a webhook and by the events log, at times a few seconds apart: matched through the
/// deduplication store and sent once, with the first one's ids.
@Suite("Catch-up: the same change from both paths", .timeLimit(.minutes(1)))
struct CatchUpMatchingTests {
    /// `webhook-lead-status-won.txt`: lead 24000017, 61000005 -> 142 in pipeline 7654321 at 1768912200.
    static let wonAt: Int64 = 1_768_912_200

    static func wonEvent(at time: Int64) -> [String: Any] {
        EventLog.stage("01match-\(time)", lead: 24_000_017, from: 61_000_005, to: 142, at: time)
    }

    static func world(eventAt time: Int64, tolerance: Duration = .seconds(5)) throws -> World {
        var configuration = KommoSegmentPipeline.Configuration()
        configuration.changeTimeTolerance = tolerance
        return try World(files: EventLog.files(events: [wonEvent(at: time)]), configuration: configuration)
    }

    func tracks(_ world: World) -> [SegmentMessage] { world.segment.messages.filter { $0.type == .track } }

    @Test("webhook first, the log 2 seconds later: the catch-up is a duplicate", arguments: [2, -2, 5])
    func webhookThenLog(offset: Int64) async throws {
        let world = try Self.world(eventAt: Self.wonAt + offset)
        _ = try await world.process("webhook-lead-status-won.txt")
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(report.events.map(\.outcome) == [.duplicate])
        #expect(tracks(world).map(\.messageID) == ["36d8ead2-3196-59ab-a32c-069727103614"])
        #expect(await world.pipeline.statistics.changeTimesMatched == 1)
    }

    @Test("the log first, the webhook 3 seconds earlier: the webhook is a duplicate, the log's ids stand")
    func logThenWebhook() async throws {
        let world = try Self.world(eventAt: Self.wonAt + 3)
        let report = try await world.pipeline.catchUp(EventLog.january)
        #expect(report.recovered == 1)
        let logIDs = world.segment.messages.compactMap(\.messageID)
        let webhook = try await world.process("webhook-lead-status-won.txt")
        try await world.stop()
        #expect(webhook.events.map(\.outcome) == [.duplicate])
        #expect(world.segment.messages.compactMap(\.messageID) == logIDs)
        #expect(tracks(world).count == 1)
    }

    @Test("past the tolerance, or with it off, the two are different changes: the documented disagreement",
          arguments: [(Int64(6), Duration.seconds(5)), (Int64(1), Duration.zero)])
    func beyondTolerance(offset: Int64, tolerance: Duration) async throws {
        let world = try Self.world(eventAt: Self.wonAt + offset, tolerance: tolerance)
        _ = try await world.process("webhook-lead-status-won.txt")
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(report.recovered == 1)
        let ids = tracks(world).compactMap(\.messageID)
        #expect(ids.count == 2)
        #expect(Set(ids).count == 2)
    }

    @Test("at equal times the ids are equal with no matching at all")
    func equalTimes() async throws {
        let world = try Self.world(eventAt: Self.wonAt, tolerance: .zero)
        _ = try await world.process("webhook-lead-status-won.txt")
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(report.events.map(\.outcome) == [.duplicate])
        #expect(await world.pipeline.statistics.changeTimesMatched == 0)
    }

    @Test("two webhooks of one transition 2 seconds apart stay two changes: webhooks match only what the log reported")
    func webhooksDoNotMatchEachOther() async throws {
        let world = try Self.world(eventAt: Self.wonAt)
        let won = try #require(String(data: try Fixtures.webhook("webhook-lead-status-won.txt"), encoding: .utf8))
        for time in [Self.wonAt, Self.wonAt + 2] {
            let body = won.replacingOccurrences(of: "=\(Self.wonAt)", with: "=\(time)")
            let report = await world.pipeline.process(body: Data(body.utf8), contentType: form, requestTarget: target)
            #expect(report.events.map(\.outcome) == [.delivered])
        }
        try await world.stop()
        #expect(tracks(world).count == 2)
        #expect(await world.pipeline.statistics.changeTimesMatched == 0)
    }

    @Test("another transition of the same lead within the tolerance is not matched")
    func otherTransitionIsNotMatched() async throws {
        var configuration = KommoSegmentPipeline.Configuration()
        configuration.changeTimeTolerance = .seconds(5)
        let other = EventLog.stage("01match-other", lead: 24_000_017, from: 61_000_004, to: 142, at: Self.wonAt + 1)
        let world = try World(files: EventLog.files(events: [other]), configuration: configuration)
        _ = try await world.process("webhook-lead-status-won.txt")
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(report.recovered == 1)
        #expect(await world.pipeline.statistics.changeTimesMatched == 0)
    }
}

/// A Segment client that accepts a number of batches, then refuses every batch (400) until told otherwise.
final class SwitchableSegment: SegmentClient {
    private let state = LockedValue<(accepting: Int, delivered: [SegmentMessage])>((0, []))
    var delivered: [SegmentMessage] { state.withLock { $0.delivered } }
    func acceptBatches(_ count: Int) { state.withLock { $0.accepting = count } }

    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        try state.withLock { s in
            guard s.accepting > 0 else {
                throw SegmentError(code: .rejected, detail: "refused by the test", status: 400)
            }
            s.accepting -= 1
            s.delivered += batch.messages.map(\.message)
        }
        return SegmentDeliveryReceipt(status: 200, requestBytes: batch.estimatedBodyBytes)
    }
}

/// A Kommo transport that drops the events log's time filter before the fixtures see it, as a log that returned
/// events outside the window would.
struct IgnoresTimeFilter: HTTPTransport {
    let wrapped: KommoFixtureTransport
    init(_ wrapped: KommoFixtureTransport) { self.wrapped = wrapped }

    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        var request = request
        if var components = URLComponents(url: request.url, resolvingAgainstBaseURL: false) {
            components.percentEncodedQueryItems = components.percentEncodedQueryItems?.filter {
                !($0.name.removingPercentEncoding ?? $0.name).hasPrefix("filter[created_at]")
            }
            if let url = components.url { request.url = url }
        }
        return try await wrapped.send(request, body: body)
    }
}
