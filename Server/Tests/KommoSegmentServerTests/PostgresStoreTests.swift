import Foundation
import KommoSegment
import KommoSegmentPostgres
import KommoSegmentTesting
import Logging
import PostgresNIO
import Testing

private func key(_ lead: Int64, _ time: Int64 = 1_768_000_000) -> DeduplicationKey {
    DeduplicationKey(accountID: 31_234_567, entity: "leads", entityID: lead, change: "status", eventTime: time)
}

private func record(_ index: Int) -> InboxRecord {
    InboxRecord(id: InboxRecord.makeID(receivedAt: Date(timeIntervalSince1970: 1_768_000_000 + Double(index)),
                                       random: { UInt64(index) }),
                accountID: 31_234_567, receivedAt: Date(timeIntervalSince1970: 1_768_000_000 + Double(index)),
                contentType: "application/x-www-form-urlencoded", body: Data("leads[status][0][id]=\(index)".utf8))
}

@Suite("PostgreSQL stores, against a real server (KOMMO_SEGMENT_TEST_DATABASE_URL)", .serialized,
       .enabled(if: postgresAvailable), .timeLimit(.minutes(2)))
struct PostgresStoreTests {
    @Test("migrations: three instances starting at once apply versions 1 and 2 exactly once; a fourth applies nothing")
    func migrations() async throws {
        try await withTestDatabase(instances: 3) { instances in
            let database = instances[0]
            // `withTestDatabase` migrated once; start from an empty schema to race three instances.
            try await database.client.query("""
                DROP TABLE kommo_segment_schema, kommo_segment_dedup_keys, kommo_segment_change_times,
                    kommo_segment_inbox, kommo_segment_rate_limits, kommo_segment_tokens,
                    kommo_segment_catchup_checkpoints
                """, logger: quietLogger)
            let applied = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for instance in instances { group.addTask { try await instance.migrate() } }
                return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
            }
            #expect(applied.sorted { $0.count > $1.count } == [[1, 2], [], []])
            #expect(try await database.migrate() == [])
            #expect(KommoSegmentDatabase.schemaVersion == 2)
        }
    }

    @Test("deduplication: 50 concurrent claims of one key, exactly one wins; done, release, renew, expiry, change times")
    func deduplication() async throws {
        try await withTestDatabase(instances: 2) { instances in
            let stores = instances.map { PostgresDeduplicationStore(database: $0) }
            let claims = try await withThrowingTaskGroup(of: DeduplicationClaim.self) { group in
                for index in 0..<50 { group.addTask { try await stores[index % 2].claim(key(1)) } }
                return try await group.reduce(into: [DeduplicationClaim]()) { $0.append($1) }
            }
            let winners = claims.compactMap(\.token)
            #expect(winners.count == 1)
            #expect(claims.filter { $0 == .inFlight }.count == 49)
            let store = stores[0]
            let token = try #require(winners.first)
            #expect(try await store.renew(key(1), token: token, for: .seconds(60)))
            #expect(try await store.renew(key(1), token: "someone-else", for: .seconds(60)) == false)
            #expect(try await store.release(key(1), token: "someone-else") == false)
            #expect(try await store.complete(key(1), token: token) == .completed)
            #expect(try await store.claim(key(1)) == .alreadyDone)
            #expect(try await store.complete(key(1), token: token) == .alreadyDone)

            // A released claim lets the next delivery in; an expired one is taken over, and its old owner's
            // completion then leaves the new claim alone.
            let second = try #require(try await store.claim(key(2)).token)
            #expect(try await store.release(key(2), token: second))
            let third = try #require(try await store.claim(key(2), for: .zero).token)
            let fourth = try #require(try await store.claim(key(2)).token)
            #expect(third != fourth)
            #expect(try await store.complete(key(2), token: third) == .claimedByAnother)
            #expect(try await store.release(key(2), token: third) == false)
            #expect(try await store.complete(key(2), token: fourth) == .completed)

            let lead = DeduplicationEntityKey(accountID: 31_234_567, leadID: 9)
            #expect(try await store.newestChangeTime(for: lead) == nil)
            #expect(try await store.recordChangeTime(100, for: lead))
            #expect(try await store.recordChangeTime(90, for: lead) == false)
            #expect(try await store.recordChangeTime(100, for: lead))
            #expect(try await store.newestChangeTime(for: lead) == 100)
            #expect(try await store.recordChangeTime(50, for: lead, retention: .zero) == false)
            #expect(try await store.recordChangeTime(120, for: lead, retention: .zero))
            #expect(try await store.newestChangeTime(for: lead) == nil, "an expired change time counts as absent")
            #expect(try await store.purgeExpired() >= 1)
        }
    }

    @Test("inbox: two workers lease 40 records concurrently, each exactly once; the life cycle; expiry takeover")
    func inbox() async throws {
        try await withTestDatabase(instances: 2) { instances in
            let database = instances[0]
            let inboxes = instances.map { PostgresInbox(database: $0) }
            for index in 0..<40 { try await inboxes[index % 2].append(record(index)) }
            let ids = try await inboxes[0].pending(limit: 100)
            #expect(ids == (0..<40).map { record($0).id })
            let status = try await inboxes[1].status()
            #expect(status.pending == 40 && status.deadLetters == 0)
            #expect(status.oldestPendingReceivedAt == record(0).receivedAt)

            // Both workers try every record at once; while the leases hold, each record goes to one of them.
            let leased = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for worker in 0..<2 {
                    for id in ids {
                        group.addTask { (worker, try await inboxes[worker].lease(id, for: .seconds(60))?.1.recordID) }
                    }
                }
                return try await group.reduce(into: [(Int, String?)]()) { $0.append($1) }
            }
            let won = leased.compactMap(\.1)
            #expect(won.count == 40)
            #expect(Set(won) == Set(ids))

            // Life cycle on fresh leases.
            let inbox = inboxes[0]
            try await database.client.query("UPDATE kommo_segment_inbox SET lease_token = NULL, lease_expires_at = NULL",
                                            logger: quietLogger)
            let (first, lease) = try #require(try await inbox.lease(ids[0], for: .seconds(60)))
            #expect(first == record(0))
            #expect(try await inbox.lease(ids[0], for: .seconds(60)) == nil)
            let renewed = try #require(try await inbox.renew(lease, for: .seconds(120)))
            #expect(renewed.expiresAt > lease.expiresAt)
            try await inbox.retryLater(renewed, failure: "kommo: serverError", notBefore: Date(timeIntervalSince1970: 5))
            let (retried, again) = try #require(try await inbox.lease(ids[0], for: .seconds(60)))
            #expect(retried.attempts == 1 && retried.lastFailure == "kommo: serverError")
            #expect(retried.notBefore == Date(timeIntervalSince1970: 5))
            try await inbox.deadLetter(again, reason: "mapping: invalidConfiguration")
            #expect(try await inbox.pending(limit: 100).count == 39)
            let dead = try await inbox.deadLetters()
            #expect(dead.map(\.record.id) == [ids[0]] && dead.first?.reason == "mapping: invalidConfiguration")
            #expect(try await inbox.requeue(deadLetter: ids[0]))
            #expect(try await inbox.requeue(deadLetter: ids[0]) == false)
            #expect(try await inbox.lease(ids[0], for: .seconds(60))?.0.attempts == 0)

            // An expired lease is taken over; the old holder can then change nothing.
            let (_, short) = try #require(try await inbox.lease(ids[1], for: .zero))
            let (_, takeover) = try #require(try await inboxes[1].lease(ids[1], for: .seconds(60)))
            let lost = await #expect(throws: InboxError.self) { try await inbox.complete(short) }
            #expect(lost?.code == .leaseLost)
            #expect(try await inbox.renew(short, for: .seconds(60)) == nil)
            try await inboxes[1].complete(takeover)
            #expect(try await inbox.pending(limit: 100).contains(ids[1]) == false)

            let purgeable = try #require(try await inbox.lease(ids[2], for: .seconds(60)))
            try await inbox.deadLetter(purgeable.1, reason: "gone")
            #expect(try await inbox.purgeDeadLetters(diedBefore: Date().addingTimeInterval(3_600)) == 1)
        }
    }

    @Test("rate limit: three instances reserve 60 starts at once, at least 1/6.5 s apart on the database's clock")
    func rateLimit() async throws {
        try await withTestDatabase(instances: 3) { instances in
            let limiters = instances.map { PostgresRateLimiter(database: $0, account: "acme.kommo.com") }
            let starts = try await withThrowingTaskGroup(of: Date.self) { group in
                for index in 0..<60 { group.addTask { try await limiters[index % 3].reserve().start } }
                return try await group.reduce(into: [Date]()) { $0.append($1) }.sorted()
            }
            let gaps = zip(starts.dropFirst(), starts).map { $0.timeIntervalSince($1) }
            // 1/6.5 s = 153.85 ms; the database stores microseconds.
            #expect(gaps.allSatisfy { $0 >= 1 / 6.5 - 0.000_002 }, "\(gaps)")
            #expect(busiestSecond(starts) == 7)

            // acquire() waits for its start: 4 more on one instance take at least 3 intervals after the reserved ones.
            let before = ContinuousClock.now
            for _ in 0..<4 { try await limiters[0].acquire() }
            #expect(ContinuousClock.now - before >= .milliseconds(Int64(59 * 1_000 / 6.5)))

            // waitForNextStart waits for the next free start without taking it: the reserve after it waits no more.
            let beforeWait = ContinuousClock.now
            try await limiters[1].waitForNextStart()
            #expect(ContinuousClock.now - beforeWait >= .milliseconds(100))
            #expect(try await limiters[2].reserve().wait <= .milliseconds(50))

            // A 429 seen by one instance holds back the others.
            let other = PostgresRateLimiter(database: instances[1], account: "globex.kommo.com")
            #expect(await other.wasRateLimited(within: .seconds(60)) == false)
            // The hold runs from the moment of the 429 on the database's clock, not from the next reserve: check the
            // reserved start against a time read before the note, so a slow machine between the calls cannot fail it.
            let beforeNote = Date()
            await PostgresRateLimiter(database: instances[0], account: "globex.kommo.com")
                .noteRateLimited(retryAfter: .seconds(1))
            #expect(await other.wasRateLimited(within: .seconds(60)))
            let held = try await other.reserve()
            #expect(held.start.timeIntervalSince(beforeNote) >= 1 - 0.000_002)
            #expect(held.wait <= .seconds(1))
        }
    }

    @Test("tokens: two instances with an expired token refresh once between them; both use the new pair")
    func tokens() async throws {
        try await withTestDatabase(instances: 2) { instances in
            let stores = instances.map { PostgresTokenStore(database: $0, account: "acme.kommo.com") }
            #expect(try await stores[0].load() == nil)
            try await stores[0].save(KommoTokenPair(accessToken: "at-old", refreshToken: "rt-old",
                                                    expiresAt: Date(timeIntervalSince1970: 1)))
            let grant = try Fixtures.kommo("api-oauth-token.json")
            let transport = ScriptedTransport(fallback: { _, _ in .respond(status: 200, body: grant) })
            let credentials = KommoOAuthCredentials(clientID: "c", clientSecret: "s", redirectURI: "https://a.example/o")
            let providers = try stores.map {
                OAuthTokenProvider(host: try KommoAccountHost(subdomain: "acme"), credentials: credentials, store: $0,
                                   transport: transport)
            }
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for provider in providers { group.addTask { try await provider.accessToken() } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(transport.requests.count == 1, "one refresh for both instances")
            #expect(Set(tokens).count == 1 && tokens.first != "at-old")
            #expect(try await stores[1].load()?.accessToken == tokens.first)
            let sent = try #require(transport.requests.first?.body)
            #expect(String(decoding: sent, as: UTF8.self).contains("rt-old"))
        }
    }

    @Test("catch-up: checkpoints never move back; one lease among instances, renewed, ended, taken over once lapsed")
    func catchUpCheckpoints() async throws {
        try await withTestDatabase(instances: 2) { instances in
            let stores = instances.map { PostgresCatchUpCheckpointStore(database: $0) }
            let account: Int64 = 31_234_567
            #expect(try await stores[0].checkpoint(for: account) == nil)
            #expect(try await stores[0].advance(account, to: 1_768_000_000) == 1_768_000_000)
            #expect(try await stores[1].advance(account, to: 1_767_000_000) == 1_768_000_000, "never back")
            #expect(try await stores[1].checkpoint(for: account) == 1_768_000_000)
            #expect(try await stores[1].checkpoint(for: 1) == nil, "each account its own")

            // Ten runs of two instances ask at once: one holds the lease.
            let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await stores[index % 2].holdRun(account, owner: "run-\(index)", for: .seconds(60))
                    }
                }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(granted == 1)
            var holder: String?
            for index in 0..<10 where holder == nil {
                if try await stores[0].holdRun(account, owner: "run-\(index)", for: .seconds(60)) {
                    holder = "run-\(index)"
                }
            }
            let owner = try #require(holder)
            #expect(try await stores[1].holdRun(account, owner: owner, for: .seconds(60)), "its owner renews it")
            try await stores[1].endRun(account, owner: "someone else")
            #expect(try await stores[0].holdRun(account, owner: "next", for: .seconds(60)) == false,
                    "not ended by others")
            try await stores[0].endRun(account, owner: owner)
            #expect(try await stores[1].holdRun(account, owner: "next", for: .zero), "ended: the next run begins")
            #expect(try await stores[0].holdRun(account, owner: "after a crash", for: .seconds(60)), "a lapsed lease")
            #expect(try await stores[0].checkpoint(for: account) == 1_768_000_000, "leases leave the checkpoint alone")
        }
    }

    @Test("deduplication: knownKeys finds the live keys among many, claimed or done, in one statement")
    func knownKeys() async throws {
        try await withTestDatabase { instances in
            let store = PostgresDeduplicationStore(database: instances[0])
            let done = try #require(try await store.claim(key(5, 100)).token)
            #expect(try await store.complete(key(5, 100), token: done) == .completed)
            _ = try await store.claim(key(5, 103))
            _ = try await store.claim(key(5, 104), for: .zero)
            let probes = (95...105).map { key(5, Int64($0)) } + [key(6, 100)]
            #expect(try await store.knownKeys(among: probes) == [key(5, 100), key(5, 103)])
            #expect(try await store.knownKeys(among: []) == [])
        }
    }

    @Test("the database down: appends fail as storage errors within the operation timeout; a bad URL is refused")
    func databaseDown() async throws {
        var url = try PostgresURL(try #require(testDatabaseURL))
        let refusing = try LoopbackHTTPServer.RefusingPort()
        url.port = Int(refusing.port)
        let database = KommoSegmentDatabase(url: url, maximumConnections: 1, operationTimeout: .seconds(1),
                                             logger: quietLogger)
        let inbox = PostgresInbox(database: database)
        let started = ContinuousClock.now
        let error = try await whileRunning([database]) {
            await #expect(throws: InboxError.self) { try await inbox.append(record(1)) }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(error?.code == .storage)
        #expect((error?.underlyingError as? PostgresStoreError)?.code == .unavailable)
        #expect(await database.isReachable() == false)

        #expect(throws: PostgresStoreError.self) { try PostgresURL("mysql://u@h/db") }
        let parsed = try PostgresURL("postgres://app:p%40ss@db.example.com:6432/kommo?sslmode=require")
        #expect(parsed.password == "p@ss" && parsed.port == 6432 && parsed.database == "kommo")
        #expect(parsed.sslMode == .require)
        #expect(parsed.description == "postgres://app:<redacted>@db.example.com:6432/kommo?sslmode=require")
        #expect(try PostgresURL("postgres://app@db").sslMode == .prefer)
        let bad = try #require(throws: PostgresStoreError.self) { try PostgresURL("postgres://app@db/x?sslmode=on") }
        #expect(bad.code == .invalidURL)
    }
}
