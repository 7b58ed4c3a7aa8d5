import Foundation
import KommoSegment
import Testing
import KommoSegmentTesting

/// Tokens `t1`, `t2`, … in order, so tests can name the owner of each claim.
private func sequentialTokens() -> @Sendable () -> String {
    let counter = LockedValue(0)
    return {
        counter.withLock { value in
            value += 1
            return "t\(value)"
        }
    }
}

private func key(_ id: Int64, at time: Int64 = 1_768_912_200) -> DeduplicationKey {
    DeduplicationKey(accountID: 31_234_567, entity: "lead", entityID: id, change: "stage:7654321:61000005>7654321:142",
                     eventTime: time)
}

@Suite("In-memory deduplication store: claims", .timeLimit(.minutes(1)))
struct DeduplicationClaimTests {
    let clock = ImmediateClock()

    func makeStore(capacity: Int = 100_000) -> InMemoryDeduplicationStore {
        InMemoryDeduplicationStore(capacity: capacity, clock: clock, makeToken: sequentialTokens())
    }

    @Test("claim, a second claimer sees in flight, complete, then already done")
    func lifeCycle() async {
        let store = makeStore()
        let first = await store.claim(key(1), for: .seconds(60))
        #expect(first == .claimed("t1"))
        #expect(first.token == "t1")
        #expect(await store.claim(key(1), for: .seconds(60)) == .inFlight)
        #expect(await store.state(of: key(1)) == .claimed("t1"))
        #expect(await store.complete(key(1), token: "t1", retention: .seconds(3600)) == .completed)
        #expect(await store.claim(key(1), for: .seconds(60)) == .alreadyDone)
        #expect(await store.state(of: key(1)) == .done)
        // The second claimer's answers made no token.
        #expect(await store.claim(key(2), for: .seconds(60)) == .claimed("t2"))
    }

    @Test("an expired claim lets a second claimer in, and the first owner's late calls do not clobber it")
    func expiredClaimIsTakenOver() async {
        let store = makeStore()
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        clock.advance(by: .seconds(59))
        #expect(await store.claim(key(1), for: .seconds(60)) == .inFlight)
        clock.advance(by: .seconds(1))
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t2"))

        #expect(await store.complete(key(1), token: "t1", retention: .seconds(3600)) == .claimedByAnother)
        #expect(await store.release(key(1), token: "t1") == false)
        #expect(await store.state(of: key(1)) == .claimed("t2"))

        #expect(await store.complete(key(1), token: "t2", retention: .seconds(3600)) == .completed)
        #expect(await store.state(of: key(1)) == .done)
        // A late complete or release by the first owner leaves the second owner's done marker alone.
        #expect(await store.complete(key(1), token: "t1", retention: .seconds(1)) == .alreadyDone)
        #expect(await store.release(key(1), token: "t1") == false)
        clock.advance(by: .seconds(10))
        #expect(await store.state(of: key(1)) == .done)
    }

    @Test("a late complete after the claim expired marks the key done when nobody else took it")
    func lateCompleteWithoutNewOwner() async {
        let store = makeStore()
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        clock.advance(by: .seconds(120))
        #expect(await store.state(of: key(1)) == .absent)
        #expect(await store.complete(key(1), token: "t1", retention: .seconds(3600)) == .completed)
        #expect(await store.claim(key(1), for: .seconds(60)) == .alreadyDone)
    }

    @Test("release makes the key claimable again; a wrong token releases nothing")
    func releaseThenClaimAgain() async {
        let store = makeStore()
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        #expect(await store.release(key(1), token: "someone-else") == false)
        #expect(await store.claim(key(1), for: .seconds(60)) == .inFlight)
        #expect(await store.release(key(1), token: "t1") == true)
        #expect(await store.state(of: key(1)) == .absent)
        #expect(await store.release(key(1), token: "t1") == false)
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t2"))
    }

    @Test("releasing an expired claim reports false and leaves the key claimable")
    func releaseAfterExpiry() async {
        let store = makeStore()
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        clock.advance(by: .seconds(61))
        #expect(await store.release(key(1), token: "t1") == false)
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t2"))
    }

    @Test("renewing a live claim extends it; a wrong token, an expired claim or a done key is not renewed")
    func renew() async {
        let store = makeStore()
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        clock.advance(by: .seconds(50))
        #expect(await store.renew(key(1), token: "t1", for: .seconds(60)) == true)
        #expect(await store.renew(key(1), token: "someone-else", for: .seconds(60)) == false)
        clock.advance(by: .seconds(50))
        #expect(await store.claim(key(1), for: .seconds(60)) == .inFlight)
        clock.advance(by: .seconds(11))
        #expect(await store.renew(key(1), token: "t1", for: .seconds(60)) == false)
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t2"))
        await store.complete(key(1), token: "t2", retention: .seconds(3600))
        #expect(await store.renew(key(1), token: "t2", for: .seconds(60)) == false)
        #expect(await store.claim(key(1), for: .seconds(60)) == .alreadyDone)
    }

    @Test("a done key expires after the default retention of 24 hours")
    func doneExpiresAfterDefaultRetention() async throws {
        let store = makeStore()
        let token = try #require(await store.claim(key(1), for: .seconds(60)).token)
        #expect(try await store.complete(key(1), token: token) == .completed)
        clock.advance(by: .seconds(24 * 3600 - 1))
        #expect(await store.claim(key(1), for: .seconds(60)) == .alreadyDone)
        clock.advance(by: .seconds(1))
        #expect(await store.state(of: key(1)) == .absent)
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t2"))
    }

    @Test("a done key expires after a custom retention")
    func doneExpiresAfterCustomRetention() async {
        let store = makeStore()
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        #expect(await store.complete(key(1), token: "t1", retention: .seconds(300)) == .completed)
        clock.advance(by: .seconds(299))
        #expect(await store.state(of: key(1)) == .done)
        clock.advance(by: .seconds(1))
        #expect(await store.state(of: key(1)) == .absent)
    }

    @Test("the default claim lasts 60 seconds")
    func defaultClaimDuration() async throws {
        let store = makeStore()
        #expect(try await store.claim(key(1)) == .claimed("t1"))
        clock.advance(by: .seconds(59))
        #expect(await store.state(of: key(1)) == .claimed("t1"))
        clock.advance(by: .seconds(1))
        #expect(await store.state(of: key(1)) == .absent)
    }

    @Test("a zero or negative duration is clamped to one millisecond")
    func durationsAreClamped() async {
        let store = makeStore()
        #expect(await store.claim(key(1), for: .zero) == .claimed("t1"))
        #expect(await store.claim(key(1), for: .seconds(60)) == .inFlight)
        clock.advance(by: .milliseconds(1))
        #expect(await store.claim(key(1), for: .seconds(-5)) == .claimed("t2"))
    }

    @Test("the default token generator makes distinct lowercase UUIDs")
    func defaultTokens() async throws {
        let store = InMemoryDeduplicationStore(clock: clock)
        let first = try #require(await store.claim(key(1), for: .seconds(60)).token)
        let second = try #require(await store.claim(key(2), for: .seconds(60)).token)
        #expect(first != second)
        #expect(UUID(uuidString: first) != nil)
        #expect(first == first.lowercased())
    }

    @Test("100 concurrent claimers of one key: exactly one claims it")
    func concurrentClaimers() async {
        let store = InMemoryDeduplicationStore(clock: clock)
        let answers = await withTaskGroup(of: DeduplicationClaim.self) { group in
            for _ in 0..<100 {
                group.addTask { await store.claim(key(1), for: .seconds(60)) }
            }
            var answers: [DeduplicationClaim] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        #expect(answers.count == 100)
        #expect(answers.filter { $0.token != nil }.count == 1)
        #expect(answers.filter { $0 == .inFlight }.count == 99)
    }

    @Test("works through the protocol as an existential")
    func throughTheProtocol() async throws {
        let store: any DeduplicationStore = makeStore()
        let token = try #require(try await store.claim(key(1)).token)
        #expect(try await store.complete(key(1), token: token) == .completed)
        #expect(try await store.claim(key(1)) == .alreadyDone)
        #expect(try await store.recordChangeTime(10, for: DeduplicationEntityKey(accountID: 1, leadID: 2)) == true)
        #expect(try await store.newestChangeTime(for: DeduplicationEntityKey(accountID: 1, leadID: 2)) == 10)
    }
}

@Suite("In-memory deduplication store: capacity", .timeLimit(.minutes(1)))
struct DeduplicationCapacityTests {
    let clock = ImmediateClock()

    func makeStore(capacity: Int, changeTimeCapacity: Int = 100_000) -> InMemoryDeduplicationStore {
        InMemoryDeduplicationStore(capacity: capacity, changeTimeCapacity: changeTimeCapacity, clock: clock,
                                   makeToken: sequentialTokens())
    }

    @Test("the defaults hold 100,000 keys and 100,000 change times")
    func defaultCapacity() async {
        let store = InMemoryDeduplicationStore(clock: clock)
        #expect(store.capacity == 100_000)
        #expect(store.changeTimeCapacity == 100_000)
    }

    @Test("done keys are evicted soonest-expiring first, before a live claim that expires sooner")
    func doneBeforeLiveClaims() async {
        let store = makeStore(capacity: 3)
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        #expect(await store.complete(key(1), token: "t1", retention: .seconds(3600)) == .completed)
        #expect(await store.claim(key(2), for: .seconds(60)) == .claimed("t2"))
        #expect(await store.claim(key(3), for: .seconds(60)) == .claimed("t3"))
        #expect(await store.complete(key(3), token: "t3", retention: .seconds(1800)) == .completed)
        #expect(await store.keyCount == 3)

        // Full: key 3 (done, expires in 30 min) goes before key 1 (done, 1 h); the claim on key 2 stays.
        #expect(await store.claim(key(4), for: .seconds(60)) == .claimed("t4"))
        #expect(await store.state(of: key(3)) == .absent)
        #expect(await store.state(of: key(1)) == .done)
        #expect(await store.state(of: key(2)) == .claimed("t2"))

        #expect(await store.claim(key(5), for: .seconds(600)) == .claimed("t5"))
        #expect(await store.state(of: key(1)) == .absent)
        #expect(await store.state(of: key(2)) == .claimed("t2"))
        #expect(await store.state(of: key(4)) == .claimed("t4"))

        // Only live claims left: the one that expires soonest (key 2, claimed first) goes.
        #expect(await store.claim(key(6), for: .seconds(600)) == .claimed("t6"))
        #expect(await store.state(of: key(2)) == .absent)
        #expect(await store.state(of: key(4)) == .claimed("t4"))
        #expect(await store.state(of: key(5)) == .claimed("t5"))
        #expect(await store.keyCount == 3)
    }

    @Test("expired claims are evicted before done keys")
    func expiredBeforeDone() async {
        let store = makeStore(capacity: 2)
        #expect(await store.claim(key(1), for: .seconds(3600)) == .claimed("t1"))
        #expect(await store.complete(key(1), token: "t1", retention: .seconds(3600)) == .completed)
        #expect(await store.claim(key(2), for: .seconds(60)) == .claimed("t2"))
        clock.advance(by: .seconds(61))
        #expect(await store.claim(key(3), for: .seconds(60)) == .claimed("t3"))
        #expect(await store.state(of: key(1)) == .done)
        #expect(await store.state(of: key(3)) == .claimed("t3"))
        #expect(await store.keyCount <= 2)
    }

    @Test("an expired done key is evicted before a live one that expires later")
    func expiredDoneFirst() async {
        let store = makeStore(capacity: 2)
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        #expect(await store.complete(key(1), token: "t1", retention: .seconds(100)) == .completed)
        #expect(await store.claim(key(2), for: .seconds(60)) == .claimed("t2"))
        #expect(await store.complete(key(2), token: "t2", retention: .seconds(3600)) == .completed)
        clock.advance(by: .seconds(101))
        #expect(await store.claim(key(3), for: .seconds(60)) == .claimed("t3"))
        #expect(await store.state(of: key(2)) == .done)
    }

    @Test("a key updated many times stays bounded and is evicted by its latest expiry")
    func repeatedUpdates() async {
        let store = makeStore(capacity: 2)
        for round in 0..<500 {
            let token = "t\(round + 1)"
            #expect(await store.claim(key(1), for: .seconds(60)) == .claimed(token))
            #expect(await store.release(key(1), token: token) == true)
        }
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t501"))
        #expect(await store.complete(key(1), token: "t501", retention: .seconds(7200)) == .completed)
        #expect(await store.claim(key(2), for: .seconds(60)) == .claimed("t502"))
        #expect(await store.complete(key(2), token: "t502", retention: .seconds(3600)) == .completed)
        #expect(await store.claim(key(3), for: .seconds(60)) == .claimed("t503"))
        #expect(await store.state(of: key(1)) == .done)
        #expect(await store.state(of: key(2)) == .absent)
        #expect(await store.keyCount == 2)
    }

    @Test("change times are evicted soonest-expiring first when full")
    func changeTimeEviction() async {
        let store = makeStore(capacity: 10, changeTimeCapacity: 2)
        let lead1 = DeduplicationEntityKey(accountID: 1, leadID: 1)
        let lead2 = DeduplicationEntityKey(accountID: 1, leadID: 2)
        let lead3 = DeduplicationEntityKey(accountID: 1, leadID: 3)
        #expect(await store.recordChangeTime(100, for: lead1, retention: .seconds(7200)) == true)
        #expect(await store.recordChangeTime(100, for: lead2, retention: .seconds(3600)) == true)
        #expect(await store.recordChangeTime(100, for: lead3, retention: .seconds(3600)) == true)
        #expect(await store.newestChangeTime(for: lead1) == 100)
        #expect(await store.newestChangeTime(for: lead2) == nil)
        #expect(await store.newestChangeTime(for: lead3) == 100)
        #expect(await store.changeTimeCount == 2)
    }

    @Test("a capacity below 1 is raised to 1")
    func capacityClamped() async {
        let store = makeStore(capacity: 0, changeTimeCapacity: -3)
        #expect(store.capacity == 1)
        #expect(store.changeTimeCapacity == 1)
        #expect(await store.claim(key(1), for: .seconds(60)) == .claimed("t1"))
        #expect(await store.claim(key(2), for: .seconds(60)) == .claimed("t2"))
        #expect(await store.keyCount == 1)
    }
}

@Suite("In-memory deduplication store: ordering", .timeLimit(.minutes(1)))
struct DeduplicationOrderingTests {
    let clock = ImmediateClock()
    let lead = DeduplicationEntityKey(accountID: 31_234_567, leadID: 24_000_017)

    @Test("a change is applied when it is at least as new as the stored one",
          arguments: [
              (stored: Int64(1_768_912_200), incoming: Int64(1_768_912_300), isNewest: true, after: Int64(1_768_912_300)),
              (stored: 1_768_912_200, incoming: 1_768_912_100, isNewest: false, after: 1_768_912_200),
              (stored: 1_768_912_200, incoming: 1_768_912_200, isNewest: true, after: 1_768_912_200),
          ])
    func newerOlderEqual(stored: Int64, incoming: Int64, isNewest: Bool, after: Int64) async {
        let store = InMemoryDeduplicationStore(clock: clock)
        #expect(await store.newestChangeTime(for: lead) == nil)
        #expect(await store.recordChangeTime(stored, for: lead, retention: .seconds(3600)) == true)
        #expect(await store.recordChangeTime(incoming, for: lead, retention: .seconds(3600)) == isNewest)
        #expect(await store.newestChangeTime(for: lead) == after)
    }

    @Test("a late won after a lost is not the newest")
    func lateWonAfterLost() async throws {
        let store = InMemoryDeduplicationStore(clock: clock)
        // "Lost" at 12:40 arrives first; the earlier "won" at 12:30 arrives late.
        #expect(try await store.recordChangeTime(1_768_912_800, for: lead) == true)
        #expect(try await store.recordChangeTime(1_768_912_200, for: lead) == false)
        #expect(await store.newestChangeTime(for: lead) == 1_768_912_800)
    }

    @Test("times are kept per lead and per account")
    func isolation() async {
        let store = InMemoryDeduplicationStore(clock: clock)
        let otherLead = DeduplicationEntityKey(accountID: 31_234_567, leadID: 24_000_018)
        let otherAccount = DeduplicationEntityKey(accountID: 39_999_999, leadID: 24_000_017)
        let contact = DeduplicationEntityKey(accountID: 31_234_567, entity: "contact", entityID: 24_000_017)
        #expect(await store.recordChangeTime(500, for: lead, retention: .seconds(3600)) == true)
        #expect(await store.recordChangeTime(100, for: otherLead, retention: .seconds(3600)) == true)
        #expect(await store.recordChangeTime(200, for: otherAccount, retention: .seconds(3600)) == true)
        #expect(await store.recordChangeTime(300, for: contact, retention: .seconds(3600)) == true)
        #expect(await store.newestChangeTime(for: lead) == 500)
        #expect(await store.newestChangeTime(for: otherLead) == 100)
        #expect(await store.newestChangeTime(for: otherAccount) == 200)
        #expect(await store.newestChangeTime(for: contact) == 300)
    }

    @Test("a stored time expires after its retention; an older change does not extend it")
    func retention() async {
        let store = InMemoryDeduplicationStore(clock: clock)
        #expect(await store.recordChangeTime(500, for: lead, retention: .seconds(3600)) == true)
        clock.advance(by: .seconds(3000))
        #expect(await store.recordChangeTime(400, for: lead, retention: .seconds(3600)) == false)
        clock.advance(by: .seconds(600))
        #expect(await store.newestChangeTime(for: lead) == nil)
        #expect(await store.recordChangeTime(400, for: lead, retention: .seconds(3600)) == true)
        #expect(await store.newestChangeTime(for: lead) == 400)
    }

    @Test("the default retention of a change time is 24 hours")
    func defaultRetention() async throws {
        let store = InMemoryDeduplicationStore(clock: clock)
        #expect(try await store.recordChangeTime(500, for: lead) == true)
        clock.advance(by: .seconds(24 * 3600 - 1))
        #expect(await store.newestChangeTime(for: lead) == 500)
        clock.advance(by: .seconds(1))
        #expect(await store.newestChangeTime(for: lead) == nil)
    }
}

@Suite("In-memory deduplication store: against a simple model", .timeLimit(.minutes(1)))
struct DeduplicationModelTests {
    /// A reference implementation with no bounds and no heaps: a dictionary checked on every call.
    struct Model {
        enum Marker: Equatable { case claim(String), done }
        var entries: [Int64: (marker: Marker, expiresAt: Double)] = [:]

        func live(_ id: Int64, now: Double) -> Marker? {
            guard let entry = entries[id], entry.expiresAt > now else { return nil }
            return entry.marker
        }
    }

    @Test("a pseudo-random run of 3,000 operations agrees with the model")
    func randomRun() async {
        let clock = ImmediateClock()
        let store = InMemoryDeduplicationStore(clock: clock, makeToken: sequentialTokens())
        var model = Model()
        var issued: [String] = ["none"]
        var tokenCount = 0
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        for _ in 0..<3000 {
            let id = Int64(next(12))
            let now = clock.date.timeIntervalSince1970
            switch next(5) {
            case 0, 1:
                let answer = await store.claim(key(id), for: .seconds(30))
                switch model.live(id, now: now) {
                case .claim: #expect(answer == .inFlight)
                case .done: #expect(answer == .alreadyDone)
                case nil:
                    tokenCount += 1
                    #expect(answer == .claimed("t\(tokenCount)"))
                    issued.append("t\(tokenCount)")
                    model.entries[id] = (.claim("t\(tokenCount)"), now + 30)
                }
            case 2:
                let token = issued[next(issued.count)]
                let answer = await store.complete(key(id), token: token, retention: .seconds(90))
                switch model.live(id, now: now) {
                case .claim(let owner) where owner != token: #expect(answer == .claimedByAnother)
                case .done: #expect(answer == .alreadyDone)
                default:
                    #expect(answer == .completed)
                    model.entries[id] = (.done, now + 90)
                }
            case 3:
                let token = issued[next(issued.count)]
                let released = await store.release(key(id), token: token)
                if model.live(id, now: now) == .claim(token) {
                    #expect(released == true)
                    model.entries[id] = nil
                } else {
                    #expect(released == false)
                }
            default:
                clock.advance(by: .seconds(Int64(next(20))))
            }
        }
    }
}
