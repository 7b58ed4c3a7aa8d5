import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing

/// Catch-up beside other instances that share its stores: one run per account at a time, and a change another
/// worker is processing held, not failed.
@Suite("Catch-up beside other instances", .timeLimit(.minutes(1)))
struct CatchUpLeaseTests {
    @Test("while another instance holds the account's lease: runningElsewhere, nothing read, counted deferred")
    func leaseHeldElsewhere() async throws {
        let checkpoints = InMemoryCatchUpCheckpointStore()
        let world = try World(files: EventLog.files(), checkpoints: checkpoints)
        #expect(await checkpoints.holdRun(EventLog.account, owner: "the other instance", for: .seconds(120)))
        let error = try await #require(throws: CatchUpError.self) {
            _ = try await world.pipeline.catchUp(EventLog.january)
        }
        #expect(error.code == .runningElsewhere)
        #expect(world.kommo.requestCount(path: "/api/v4/events") == 0)
        var statistics = await world.pipeline.statistics
        #expect(statistics.catchUpRunsDeferred == 1)
        #expect(statistics.catchUpRunsFailed == 0)
        #expect(statistics.catchUpRuns == 0)

        // Once the other run has ended its lease, this one runs, and ends its own lease when it returns.
        await checkpoints.endRun(EventLog.account, owner: "the other instance")
        let report = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(report.recovered == 10)
        #expect(await checkpoints.holdRun(EventLog.account, owner: "a third instance", for: .seconds(120)))
        statistics = await world.pipeline.statistics
        #expect(statistics.catchUpRuns == 1)
        #expect(statistics.catchUpRunsDeferred == 1)
    }

    @Test("a run that fails still ends its lease")
    func failedRunEndsItsLease() async throws {
        let checkpoints = InMemoryCatchUpCheckpointStore()
        let world = try World(kommoTransport: ScriptedTransport(fallback: { _, _ in .respond(status: 401) }),
                              checkpoints: checkpoints)
        let error = try await #require(throws: CatchUpError.self) {
            _ = try await world.pipeline.catchUp(EventLog.january)
        }
        try await world.stop()
        #expect(error.code == .kommo)
        #expect(await checkpoints.holdRun(EventLog.account, owner: "the next run", for: .seconds(120)))
    }

    @Test("changes another worker is processing are held, not failed: the checkpoint waits, the next run delivers them")
    func changesHeldElsewhere() async throws {
        let store = InFlightElsewhere(lead: 24_000_017)
        let checkpoints = InMemoryCatchUpCheckpointStore()
        let world = try World(files: EventLog.files(), store: store, checkpoints: checkpoints)
        let first = try await world.pipeline.catchUp(EventLog.january)
        let held = first.events.filter {
            if case .failed(let error) = $0.outcome { error.code == .claimedElsewhere } else { false }
        }
        #expect(!held.isEmpty)
        #expect(held.allSatisfy { $0.event.entityID == 24_000_017 })
        #expect(first.heldElsewhere == held.count)
        #expect(first.failed == 0)
        #expect(!first.isComplete)
        // The window's first change is held: the checkpoint cannot move at all.
        #expect(held.first?.event.id == first.events.first?.event.id)
        #expect(first.checkpoint == nil)
        #expect(await checkpoints.checkpoint(for: EventLog.account) == nil)
        var statistics = await world.pipeline.statistics
        #expect(statistics.catchUpHeldElsewhere == held.count)
        #expect(statistics.catchUpFailed == 0)
        #expect(statistics.catchUpRuns == 1)
        #expect(world.log.all.allSatisfy { $0.level < .error }, "a change held elsewhere is not an error")

        // The other worker lets go (here it never delivered): the next run goes on from the checkpoint.
        store.release()
        let second = try await world.pipeline.catchUp(EventLog.january)
        try await world.stop()
        #expect(second.isComplete)
        let heldIDs = Set(held.map(\.event.id))
        let again = second.events.filter { heldIDs.contains($0.event.id) }
        #expect(again.count == held.count)
        #expect(again.allSatisfy { if case .failed = $0.outcome { false } else { true } })
        // The Deal Won among them is delivered now.
        #expect(again.first { $0.event.id == "01jh0000000000000000000016" }?.outcome == .delivered)
        #expect(second.checkpoint == Int64(EventLog.january.until!.timeIntervalSince1970))
        statistics = await world.pipeline.statistics
        #expect(statistics.catchUpHeldElsewhere == held.count)
    }
}

/// A deduplication store in which another worker holds every change of one lead, until ``release()``.
final class InFlightElsewhere: DeduplicationStore {
    private let inner = InMemoryDeduplicationStore()
    private let lead: String
    private let holding = LockedValue(true)

    init(lead: Int64) { self.lead = ":\(lead):" }

    func release() { holding.withLock { $0 = false } }

    func claim(_ key: DeduplicationKey, for duration: Duration) async throws -> DeduplicationClaim {
        if holding.withLock({ $0 }), key.rawValue.contains(lead) { return .inFlight }
        return await inner.claim(key, for: duration)
    }

    func complete(_ key: DeduplicationKey, token: String, retention: Duration) async throws
        -> DeduplicationCompletion {
        await inner.complete(key, token: token, retention: retention)
    }

    func release(_ key: DeduplicationKey, token: String) async throws -> Bool {
        await inner.release(key, token: token)
    }

    func renew(_ key: DeduplicationKey, token: String, for duration: Duration) async throws -> Bool {
        await inner.renew(key, token: token, for: duration)
    }

    func recordChangeTime(_ time: Int64, for entity: DeduplicationEntityKey, retention: Duration) async throws
        -> Bool {
        await inner.recordChangeTime(time, for: entity, retention: retention)
    }

    func newestChangeTime(for entity: DeduplicationEntityKey) async throws -> Int64? {
        await inner.newestChangeTime(for: entity)
    }

    func knownKeys(among keys: [DeduplicationKey]) async throws -> Set<DeduplicationKey> {
        try await inner.knownKeys(among: keys)
    }
}
