import Foundation
import KommoSegment
import Testing
import KommoSegmentTesting

@Suite("Pipeline: verification and acknowledgement", .timeLimit(.minutes(1)))
struct AcknowledgementTests {
    @Test("accepted webhooks are acknowledged with 200 before any Kommo request")
    func accepted() async throws {
        let world = try World()
        let ack = await world.pipeline.receive(body: try Fixtures.kommo("webhook-lead-status-won.txt"),
                                               contentType: form, requestTarget: target)
        #expect(ack.outcome == .accepted)
        #expect(ack.httpStatus == 200)
        #expect(ack.accountID == 31_234_567)
        #expect(ack.eventCount == 1)
        _ = await world.pipeline.shutdown()
        #expect(world.segment.messages.map(\.type) == [.identify, .track, .group])
    }

    @Test("each bad input is refused with its status and nothing is fetched", arguments: [
        ("/kommo/webhook", "webhook-lead-status-won.txt", form, WebhookAcknowledgement.Outcome.badSecret, 401),
        ("/kommo/webhook?secret=wrong", "webhook-lead-status-won.txt", form, .badSecret, 401),
        ("/kommo/webhook?secret=\(secret)", "webhook-lead-status-won.txt", "application/json", .unsupportedMediaType, 415),
        ("/kommo/webhook?secret=\(secret)", "api-account.json", form, .malformed, 400),
    ])
    func refused(requestTarget: String, fixture: String, contentType: String,
                 outcome: WebhookAcknowledgement.Outcome, status: Int) async throws {
        let world = try World()
        let ack = await world.pipeline.receive(body: try Fixtures.kommo(fixture), contentType: contentType,
                                               requestTarget: requestTarget)
        #expect(ack.outcome == outcome)
        #expect(ack.httpStatus == status)
        #expect(!ack.detail.contains(secret))
        #expect(world.kommo.requestCount == 0)
        #expect(await world.pipeline.statistics.webhooksRejected == 1)
    }

    @Test("an older amoCRM body (no account[id]) is attributed by items or subdomain, with the same messages",
          arguments: [false, true])
    func olderAmoCRMBody(dropItemAccountIDs: Bool) async throws {
        let original = String(decoding: try Fixtures.kommo("webhook-lead-status-won.txt"), as: UTF8.self)
        var older = original.split(separator: "&").filter { !$0.hasPrefix("account%5Bid%5D=") }
        if dropItemAccountIDs { older = older.filter { !$0.contains("%5Baccount_id%5D=") } }
        #expect(older.count < original.split(separator: "&").count)
        var delivered: [[SegmentMessage]] = []
        for body in [original, older.joined(separator: "&")] {
            let world = try World()
            let report = await world.pipeline.process(body: Data(body.utf8), contentType: form, requestTarget: target)
            #expect(report.acknowledgement.outcome == .accepted)
            #expect(report.acknowledgement.accountID == 31_234_567)
            #expect(!report.hasFailures)
            try await world.stop()
            delivered.append(world.segment.messages)
        }
        #expect(delivered[1].map(\.messageID) == delivered[0].map(\.messageID))
        #expect(delivered[1].count == 3)
    }

    @Test("a webhook of another account is refused with 403")
    func otherAccount() async throws {
        let world = try World()
        let body = String(decoding: try Fixtures.kommo("webhook-lead-status-won.txt"), as: UTF8.self)
            .replacingOccurrences(of: "31234567", with: "99999999")
        let ack = await world.pipeline.receive(body: Data(body.utf8), contentType: form, requestTarget: target)
        #expect(ack.outcome == .otherAccount)
        #expect(ack.httpStatus == 403)
        #expect(world.kommo.requestCount == 0)
    }

    @Test("a body over the limit is refused with 413")
    func tooLarge() async throws {
        let world = try World()
        let ack = await world.pipeline.receive(body: Data(count: 2 << 20), contentType: form, requestTarget: target)
        #expect(ack.outcome == .tooLarge)
        #expect(ack.httpStatus == 413)
    }

    @Test("the secret may also be the last path segment")
    func pathSecret() throws {
        #expect(WebhookSecretLocation.lastPathSegment.candidate(in: "/hooks/kommo/abc%2Fdef") == "abc/def")
        #expect(WebhookSecretLocation.queryParameter("k").candidate(in: "/hooks?x=1&k=v") == "v")
        #expect(WebhookSecretLocation.queryParameter("k").candidate(in: "/hooks") == nil)
        #expect(WebhookSecret("abc").matches("abc"))
        #expect(!WebhookSecret("abc").matches("abd"))
        #expect(!WebhookSecret("abc").matches("abcd"))
        #expect(!WebhookSecret("").matches(""))
        #expect("\(WebhookSecret("abc"))" == "<redacted>")
    }
}

@Suite("Pipeline: processing", .timeLimit(.minutes(1)))
struct ProcessingTests {
    @Test("a won deal is fetched, mapped and delivered as identify, track and group")
    func won() async throws {
        let world = try World()
        let report = try await world.process("webhook-lead-status-won.txt")
        #expect(report.acknowledgement.isAccepted)
        #expect(report.events.map(\.outcome) == [.delivered])
        let messages = world.segment.messages
        #expect(messages.map(\.type) == [.identify, .track, .group])
        #expect(messages[1].event == "Deal Won")
        #expect(messages.allSatisfy { $0.userID == "olivia.bennett@example.com" })
        #expect(report.events.first?.messages.compactMap(\.messageID) == messages.compactMap(\.messageID))
    }

    @Test("a redelivered webhook is recognised and not fetched again; message ids never change")
    func redelivery() async throws {
        let world = try World()
        let first = try await world.process("webhook-lead-status-won.txt")
        let requestsAfterFirst = world.kommo.requestCount
        let second = try await world.process("webhook-lead-status-won.txt")
        #expect(first.events.map(\.outcome) == [.delivered])
        #expect(second.events.map(\.outcome) == [.duplicate])
        #expect(world.kommo.requestCount == requestsAfterFirst)
        #expect(world.segment.messages.count == 3)

        // A second pipeline (no shared store) sends the very same ids: Segment drops them.
        let other = try World()
        _ = try await other.process("webhook-lead-status-won.txt")
        #expect(other.segment.messages.compactMap(\.messageID) == world.segment.messages.compactMap(\.messageID))
    }

    @Test("a status and an update item for the same change yield one set of calls")
    func mixedUpdateAndStatus() async throws {
        let world = try World()
        let report = try await world.process("webhook-mixed-update-and-status.txt")
        let delivered = report.events.filter { $0.outcome == .delivered }
        #expect(delivered.count == 1)
        #expect(report.events.contains { $0.outcome == .duplicate })
        let ids = world.segment.messages.compactMap(\.messageID)
        #expect(Set(ids).count == ids.count)
    }

    @Test("a 3-lead webhook costs at most 3 Kommo requests for the deals plus reference data")
    func requestBudget() async throws {
        let world = try World()
        let report = try await world.process("webhook-lead-status-batch.txt")
        #expect(report.events.count == 3)
        let byPath = world.kommo.requestCountsByPath
        #expect(byPath["/api/v4/leads"] == 1)
        #expect(byPath["/api/v4/contacts"] ?? 0 <= 1)
        #expect(byPath["/api/v4/companies"] ?? 0 <= 1)
        let deals = (byPath["/api/v4/leads"] ?? 0) + (byPath["/api/v4/contacts"] ?? 0) + (byPath["/api/v4/companies"] ?? 0)
        #expect(deals <= 3)
        let reference = (byPath["/api/v4/leads/pipelines"] ?? 0) + (byPath["/api/v4/users"] ?? 0)
            + (byPath["/api/v4/account"] ?? 0)
        #expect(reference <= 3)
        #expect(world.kommo.requestCount == deals + reference)
        // Leads that no longer exist (204) are skipped with a reason, not failed.
        let skipped = report.events.filter { if case .skipped = $0.outcome { true } else { false } }
        #expect(skipped.count == 2)
        #expect(skipped.allSatisfy {
            if case .skipped(let reasons) = $0.outcome { reasons.contains { $0.code == .leadNotFound } } else { false }
        })
        // A second webhook reads pipelines, users and the account from the cache.
        _ = try await world.process("webhook-lead-status-lost.txt")
        #expect(world.kommo.requestCountsByPath["/api/v4/leads/pipelines"] == 1)
        #expect(await world.pipeline.statistics.kommoCacheHits >= 2)
    }

    @Test("a late, older change is tracked but sends no identify that would undo a newer one")
    func ordering() async throws {
        let world = try World()
        let won = String(decoding: try Fixtures.kommo("webhook-lead-status-won.txt"), as: UTF8.self)
        // The same lead reaches "lost" later than the "won" hook says; the lost hook arrives first.
        let lost = won.replacingOccurrences(of: "status_id%5D=142", with: "status_id%5D=143")
            .replacingOccurrences(of: "1768912200", with: "1768998600")
        let first = await world.pipeline.process(body: Data(lost.utf8), contentType: form, requestTarget: target)
        #expect(first.events.map(\.outcome) == [.delivered])
        let late = await world.pipeline.process(body: Data(won.utf8), contentType: form, requestTarget: target)
        #expect(late.events.map(\.outcome) == [.delivered])
        #expect(late.events.first?.messages.map(\.type) == [.track])
        #expect(late.events.first?.partialSkips.contains { $0.code == .olderThanNewestChange } == true)
    }

    @Test("a Kommo failure fails the items and releases their claims, so a redelivery is processed")
    func kommoFailureReleases() async throws {
        let refusing = ScriptedTransport(fallback: { _, _ in
            .respond(status: 401, headers: ["Content-Type": "application/problem+json"],
                     body: Data(#"{"title":"Unauthorized","status":401}"#.utf8))
        })
        let store = InMemoryDeduplicationStore()
        let broken = try World(kommoTransport: refusing, store: store)
        let report = try await broken.process("webhook-lead-status-won.txt")
        guard case .failed(let error)? = report.events.first?.outcome else {
            Issue.record("expected a failure, got \(String(describing: report.events.first?.outcome))")
            return
        }
        #expect(error.code == .kommo)
        #expect(!error.detail.contains("test-token"))
        #expect(broken.segment.messages.isEmpty)
        // The same store, now with a working Kommo: the redelivery is processed, not a duplicate.
        let fixed = try World(store: store)
        let again = try await fixed.process("webhook-lead-status-won.txt")
        #expect(again.events.map(\.outcome) == [.delivered])
    }

    @Test("a Segment refusal fails the item and releases its claim")
    func segmentFailureReleases() async throws {
        let world = try World()
        world.segment.failAll(status: 400)
        let report = try await world.process("webhook-lead-status-won.txt")
        guard case .failed(let error)? = report.events.first?.outcome else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .segment)
        world.segment.failAll(status: nil)
        let again = try await world.process("webhook-lead-status-won.txt")
        #expect(again.events.map(\.outcome) == [.delivered])
    }

    @Test("notes are written back in one request, and note webhooks trigger nothing")
    func notes() async throws {
        let world = try World(writesNotes: true)
        let report = try await world.process("webhook-lead-status-won.txt")
        #expect(report.notesWritten == 1)
        let note = try #require(world.kommo.recordedNotes.first)
        #expect(note.entityID == 24_000_017)
        #expect(note.text?.contains("Deal Won") == true)
        let messageID = try #require(world.segment.messages.first { $0.type == .track }?.messageID)
        #expect(note.text?.contains(messageID) == true)
        let before = world.kommo.requestCount
        let noteHook = try await world.process("webhook-lead-note-added.txt")
        #expect(noteHook.events.allSatisfy { if case .skipped = $0.outcome { true } else { false } })
        #expect(world.kommo.requestCount == before)
        #expect(await world.pipeline.statistics.notesWritten == 1)
    }

    @Test("leads of webhooks in flight at the same time are read together")
    func coalescing() async throws {
        let gate = HoldFirstRequest()
        let files = try sampleAPIFiles()
        let fixtures = KommoFixtureTransport(files: files)
        let world = try World(files: files, kommoTransport: GatedTransport(wrapped: fixtures, gate: gate))
        let won = String(decoding: try Fixtures.kommo("webhook-lead-status-won.txt"), as: UTF8.self)
        let bodies = (0..<10).map { i in
            won.replacingOccurrences(of: "24000017", with: String(24_000_100 + i))
        }
        await withTaskGroup(of: Void.self) { group in
            for body in bodies {
                group.addTask { _ = await world.pipeline.process(body: Data(body.utf8), contentType: form,
                                                                requestTarget: target) }
            }
            await gate.waitUntilHeld()
            // Let every webhook reach the fetcher while the first request is held.
            for _ in 0..<200 { await Task.yield() }
            gate.release()
        }
        // The held request, then the other nine together; on a loaded machine all ten may make the first one.
        #expect((1...2).contains(fixtures.requestCountsByPath["/api/v4/leads"] ?? 0))
        let stats = await world.pipeline.statistics
        #expect(stats.eventsSkipped == 10)  // the leads have no API fixture: 204, skipped
    }
}
