import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing

/// A fresh inbox directory under the temporary directory, deleted by `remove()`.
struct InboxDirectory {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("inbox-test-\(UUID().uuidString)")
    func remove() { try? FileManager.default.removeItem(at: url) }
    func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.appendingPathComponent(folder).path)) ?? []).sorted()
    }
    func path(_ folder: String, _ name: String) -> String { url.appendingPathComponent(folder).appendingPathComponent(name).path }
}

/// A wall clock the test moves.
final class MovableWallClock: Sendable {
    private let date = LockedValue(Date(timeIntervalSince1970: 1_795_000_000))
    var clock: WallClock { WallClock { [date] in date.value } }
    func advance(_ seconds: TimeInterval) { date.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

func sampleRecord(_ n: Int, body: String = "leads[status][0][id]=1", at date: Date = Date(timeIntervalSince1970: 1_795_000_000))
    -> InboxRecord {
    InboxRecord(id: InboxRecord.makeID(receivedAt: date.addingTimeInterval(Double(n)), random: { UInt64(n) }),
                accountID: 31_234_567, receivedAt: date.addingTimeInterval(Double(n)),
                contentType: "application/x-www-form-urlencoded", body: Data(body.utf8))
}

@Suite("File inbox: records, leases and dead letters", .timeLimit(.minutes(1)))
struct FileWebhookInboxTests {
    @Test("an appended record reads back whole; completing it deletes its file")
    func appendLeaseComplete() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url)
        let record = sampleRecord(1)
        try await inbox.append(record)
        #expect(try await inbox.pending(limit: 10) == [record.id])
        let (read, lease) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        #expect(read == record)
        try await inbox.complete(lease)
        #expect(try await inbox.pending(limit: 10).isEmpty)
        #expect(directory.files("pending").isEmpty)
        #expect(directory.files("leases").isEmpty)
        let status = try await inbox.status()
        #expect(status == InboxStatus(pending: 0, oldestPendingReceivedAt: nil, deadLetters: 0, bytes: 0))
    }

    @Test("records are listed oldest first, and the status names the oldest")
    func order() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url)
        for n in [3, 1, 2] { try await inbox.append(sampleRecord(n)) }
        #expect(try await inbox.pending(limit: 10) == [1, 2, 3].map { sampleRecord($0).id })
        #expect(try await inbox.pending(limit: 2).count == 2)
        let status = try await inbox.status()
        #expect(status.pending == 3)
        #expect(status.oldestPendingReceivedAt == sampleRecord(1).receivedAt)
    }

    @Test("a live lease is exclusive; an expired one is taken over, and the old holder's token no longer works")
    func leaseExpiry() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let wall = MovableWallClock()
        let inbox = try FileWebhookInbox(directory: directory.url, wallClock: wall.clock)
        let record = sampleRecord(1)
        try await inbox.append(record)
        let (_, first) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        #expect(try await inbox.lease(record.id, for: .seconds(60)) == nil)
        wall.advance(30)
        let renewed = try #require(try await inbox.renew(first, for: .seconds(60)))
        wall.advance(45)
        #expect(try await inbox.lease(record.id, for: .seconds(60)) == nil)  // renewed: still live
        wall.advance(30)
        let (_, second) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        #expect(second.token != renewed.token)
        #expect(try await settleCode { try await inbox.complete(first) } == .leaseLost)
        #expect(try await settleCode { try await inbox.retryLater(first, failure: "x", notBefore: Date()) } == .leaseLost)
        #expect(try await settleCode { try await inbox.deadLetter(first, reason: "x") } == .leaseLost)
        #expect(try await settleCode { try await inbox.release(first) } == .leaseLost)
        #expect(try await inbox.renew(first, for: .seconds(60)) == nil)
        try await inbox.complete(second)
        #expect(try await inbox.pending(limit: 10).isEmpty)
    }

    @Test("two inboxes on one directory lease each of 50 records exactly once")
    func twoWorkers() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let first = try FileWebhookInbox(directory: directory.url)
        let second = try FileWebhookInbox(directory: directory.url)
        for n in 0..<50 { try await first.append(sampleRecord(n)) }
        let ids = try await first.pending(limit: 100)
        let taken = await withTaskGroup(of: [String].self) { group -> [String] in
            for inbox in [first, second, first, second] {
                group.addTask {
                    var mine: [String] = []
                    for id in ids {
                        if let (record, _) = try? await inbox.lease(id, for: .seconds(60)) { mine.append(record.id) }
                    }
                    return mine
                }
            }
            var all: [String] = []
            for await part in group { all += part }
            return all
        }
        #expect(taken.sorted() == ids)
    }

    @Test("a torn record and one with a bad checksum are moved aside and skipped, never fatal")
    func corruptRecords() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let log = InMemoryLogSink()
        let inbox = try FileWebhookInbox(directory: directory.url, log: log)
        let torn = sampleRecord(1), flipped = sampleRecord(2), good = sampleRecord(3)
        for record in [torn, flipped, good] { try await inbox.append(record) }
        let tornPath = directory.path("pending", torn.id + ".rec")
        let tornData = try Data(contentsOf: URL(fileURLWithPath: tornPath))
        try tornData.prefix(tornData.count - 10).write(to: URL(fileURLWithPath: tornPath))
        let flippedPath = directory.path("pending", flipped.id + ".rec")
        var flippedData = try Data(contentsOf: URL(fileURLWithPath: flippedPath))
        let index = try #require(flippedData.firstIndex(of: UInt8(ascii: "=")))
        flippedData[index] = UInt8(ascii: "+")
        try flippedData.write(to: URL(fileURLWithPath: flippedPath))

        // The status reads records oldest first until one is intact: the torn and the flipped one are moved aside.
        let status = try await inbox.status()
        #expect(status.pending == 1)
        #expect(status.oldestPendingReceivedAt == good.receivedAt)
        #expect(inbox.corruptRecords == 2)
        #expect(try await inbox.lease(torn.id, for: .seconds(60)) == nil)
        #expect(try await inbox.lease(flipped.id, for: .seconds(60)) == nil)
        #expect(try await inbox.lease(good.id, for: .seconds(60))?.0 == good)
        #expect(inbox.corruptRecords == 2)
        #expect(directory.files("corrupt").count == 2)
        #expect(try await inbox.pending(limit: 10) == [good.id])
        #expect(log.records("inbox record corrupt; moved aside").count == 2)
    }

    @Test("a temporary file left by a kill between write and rename is not a record, and is discarded at start")
    func leftoverTemporaryFile() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        _ = try FileWebhookInbox(directory: directory.url)
        let leftover = directory.path("pending", ".tmp-\(UUID().uuidString)")
        try Data("{\"v\":1,\"id\":\"x\"".utf8).write(to: URL(fileURLWithPath: leftover))
        let reopened = try FileWebhookInbox(directory: directory.url)
        #expect(try await reopened.pending(limit: 10).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: leftover))
    }

    @Test("a full inbox refuses the append with .full, and takes records again once one is done")
    func full() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let body = String(repeating: "a", count: 200)
        let measure = InboxDirectory()
        defer { measure.remove() }
        let measuring = try FileWebhookInbox(directory: measure.url)
        try await measuring.append(sampleRecord(1, body: body))
        let recordBytes = try await measuring.status().bytes
        let inbox = try FileWebhookInbox(directory: directory.url,
                                         configuration: .init(maxBytes: 2 * recordBytes + 10, maxRecords: 100))
        try await inbox.append(sampleRecord(1, body: body))
        try await inbox.append(sampleRecord(2, body: body))
        do {
            try await inbox.append(sampleRecord(3, body: body))
            Issue.record("a third record fitted in 600 bytes")
        } catch {
            #expect(error.code == .full)
        }
        #expect(try await inbox.pending(limit: 10).count == 2)
        let (_, lease) = try #require(try await inbox.lease(sampleRecord(1).id, for: .seconds(60)))
        try await inbox.complete(lease)
        try await inbox.append(sampleRecord(3, body: body))
        #expect(try await inbox.pending(limit: 10).count == 2)
    }

    @Test("retryLater keeps the record with one more attempt, its failure and its backoff; release changes nothing")
    func retryLater() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url)
        let record = sampleRecord(1)
        try await inbox.append(record)
        let (_, lease) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        let notBefore = Date(timeIntervalSince1970: 1_795_000_100)
        try await inbox.retryLater(lease, failure: "kommo: reading from Kommo failed", notBefore: notBefore)
        let (again, second) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        #expect(again.attempts == 1)
        #expect(again.lastFailure == "kommo: reading from Kommo failed")
        #expect(again.notBefore == notBefore)
        #expect(again.body == record.body)
        try await inbox.release(second)
        #expect(try await inbox.lease(record.id, for: .seconds(60))?.0 == again)
    }

    @Test("dead letters keep their reason, can be queued again, and are purged after their retention")
    func deadLetters() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let wall = MovableWallClock()
        let inbox = try FileWebhookInbox(directory: directory.url, wallClock: wall.clock)
        let first = sampleRecord(1), second = sampleRecord(2)
        for record in [first, second] {
            try await inbox.append(record)
            let (_, lease) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
            try await inbox.deadLetter(lease, reason: "segment: refused (Segment rejected, HTTP 400)")
        }
        #expect(try await inbox.pending(limit: 10).isEmpty)
        let letters = try await inbox.deadLetters()
        #expect(letters.map(\.record.id) == [first.id, second.id])
        #expect(letters.allSatisfy { $0.reason == "segment: refused (Segment rejected, HTTP 400)" })
        #expect(try await inbox.status().deadLetters == 2)

        #expect(try await inbox.requeue(deadLetter: first.id))
        #expect(try await !inbox.requeue(deadLetter: "no-such-id"))
        #expect(try await inbox.pending(limit: 10) == [first.id])

        wall.advance(8 * 86_400)
        #expect(try await inbox.purgeExpiredDeadLetters() == 1)
        #expect(try await inbox.deadLetters().isEmpty)
        #expect(directory.files("dead").isEmpty)
    }

    @Test("a record written by hand in format 1, with a key this release does not know, is read")
    func readsOlderAndExtendedRecords() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url)
        let body = Data("account[id]=31234567".utf8)
        let id = "001795000000000-0000000000000001"
        let header = #"{"account":31234567,"attempts":2,"futureKey":[1,2],"id":"\#(id)","length":20,"received":1795000000000,"v":1}"#
        // The SHA-1 of the header line and the body, computed once with `sha1sum` (an independent implementation).
        let checksum = "b06819a33cff3e383c67533759a76ebdb6e8b681"
        let data = Data(header.utf8) + Data([0x0A]) + body + Data([0x0A]) + Data(checksum.utf8)
        try data.write(to: URL(fileURLWithPath: directory.path("pending", id + ".rec")))
        let (record, _) = try #require(try await inbox.lease(id, for: .seconds(60)))
        #expect(record.accountID == 31_234_567)
        #expect(record.attempts == 2)
        #expect(record.body == body)
        #expect(record.contentType == nil)
        #expect(record.version == 1)
        #expect(record.receivedAt == Date(timeIntervalSince1970: 1_795_000_000))
        #expect(inbox.corruptRecords == 0)
    }

    @Test("a record of a newer format version is left in place and never leased")
    func newerVersion() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let log = InMemoryLogSink()
        let inbox = try FileWebhookInbox(directory: directory.url, log: log)
        var record = sampleRecord(1)
        record.version = InboxRecord.currentVersion + 1
        try await inbox.append(record)
        do {
            _ = try await inbox.lease(record.id, for: .seconds(60))
            Issue.record("a newer record was leased")
        } catch {
            #expect(error.code == .unsupportedVersion)
        }
        #expect(try await inbox.pending(limit: 10) == [record.id])
        #expect(directory.files("leases").isEmpty)
        #expect(directory.files("pending") == [record.id + ".rec"])
        #expect(directory.files("corrupt").isEmpty)
        #expect(try await inbox.status().pending == 1)
        #expect(log.records("inbox record of a newer format left in place").count == 1)
    }

    @Test("a record of a newer format whose header this release cannot read is still not corrupt")
    func newerVersionOtherLayout() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url)
        let id = "001795000000000-0000000000000009"
        try Data(#"{"v":99,"renamedEverything":true}"#.utf8 + [0x0A] + Data("binary".utf8))
            .write(to: URL(fileURLWithPath: directory.path("pending", id + ".rec")))
        #expect(try await leaseCode(inbox, id) == .unsupportedVersion)
        #expect(directory.files("pending") == [id + ".rec"])
        #expect(inbox.corruptRecords == 0)
    }
}

/// The code of the inbox error `body` throws; `nil` when it throws none.
func settleCode(_ body: () async throws -> Void) async throws -> InboxError.Code? {
    do {
        try await body()
        return nil
    } catch let error as InboxError {
        return error.code
    }
}

/// The code of the error leasing `id` throws; `nil` when it throws none.
func leaseCode(_ inbox: FileWebhookInbox, _ id: String) async throws -> InboxError.Code? {
    try await settleCode { _ = try await inbox.lease(id, for: .seconds(60)) }
}

/// The sum of the sizes of the files in `folders` of `directory`.
func bytesOnDisk(_ directory: InboxDirectory, _ folders: [String]) throws -> Int64 {
    var total: Int64 = 0
    for folder in folders {
        for name in directory.files(folder) where !name.hasPrefix(".") {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.path(folder, name))
            total += (attributes[.size] as? NSNumber)?.int64Value ?? 0
        }
    }
    return total
}

@Suite("File inbox: takeovers, temporary files and limits", .timeLimit(.minutes(1)))
struct FileWebhookInboxRecoveryTests {
    @Test("an expired lease is taken over by another inbox on the directory, leaving no stale lease file")
    func takeoverAcrossInboxes() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let wall = MovableWallClock()
        let first = try FileWebhookInbox(directory: directory.url, wallClock: wall.clock)
        let second = try FileWebhookInbox(directory: directory.url, wallClock: wall.clock)
        let record = sampleRecord(1)
        try await first.append(record)
        let (_, held) = try #require(try await first.lease(record.id, for: .seconds(60)))
        #expect(try await second.lease(record.id, for: .seconds(60)) == nil)
        wall.advance(61)
        let (read, taken) = try #require(try await second.lease(record.id, for: .seconds(60)))
        #expect(read == record)
        #expect(directory.files("leases") == [record.id + ".lease"])
        #expect(try await first.renew(held, for: .seconds(60)) == nil)
        #expect(try await settleCode { try await first.complete(held) } == .leaseLost)
        try await second.complete(taken)
        #expect(directory.files("pending").isEmpty)
        #expect(directory.files("leases").isEmpty)
    }

    @Test("a lease renewed after its expiry, before anyone took it over, is still held")
    func renewAfterExpiry() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let wall = MovableWallClock()
        let inbox = try FileWebhookInbox(directory: directory.url, wallClock: wall.clock)
        let record = sampleRecord(1)
        try await inbox.append(record)
        let (_, lease) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        wall.advance(58)  // within the margin: renewed like a takeover
        let near = try #require(try await inbox.renew(lease, for: .seconds(60)))
        wall.advance(70)  // past the expiry
        let renewed = try #require(try await inbox.renew(near, for: .seconds(60)))
        #expect(renewed.expiresAt == wall.clock.now.addingTimeInterval(60))
        #expect(try await inbox.lease(record.id, for: .seconds(60)) == nil)
        #expect(directory.files("leases") == [record.id + ".lease"])
        try await inbox.complete(renewed)
        #expect(try await inbox.renew(renewed, for: .seconds(60)) == nil)  // the record is gone
    }

    @Test("opening an inbox keeps the temporary file of a writer that still runs, and discards an abandoned one")
    func liveTemporaryFileKept() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        _ = try FileWebhookInbox(directory: directory.url)
        // Named like the temporary files of a writer on another host sharing the directory (whose process cannot be
        // checked): it is left alone unless it is over an hour old.
        let host = "00000000"
        let live = directory.path("pending", ".tmp~\(host)~\(getpid())~\(UUID().uuidString)")
        let old = directory.path("pending", ".tmp~\(host)~\(getpid())~\(UUID().uuidString)")
        for path in [live, old] { try Data("{\"v\":1".utf8).write(to: URL(fileURLWithPath: path)) }
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7_200)], ofItemAtPath: old)
        let reopened = try FileWebhookInbox(directory: directory.url)
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(try await reopened.pending(limit: 10).isEmpty)
        #expect(try await reopened.status().pending == 0)
    }

    @Test("an append past maxRecords fails with .full")
    func fullByRecords() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url, configuration: .init(maxRecords: 2))
        try await inbox.append(sampleRecord(1))
        try await inbox.append(sampleRecord(2))
        #expect(try await settleCode { try await inbox.append(sampleRecord(3)) } == .full)
        // Limits count the records already on disk when an inbox opens.
        let reopened = try FileWebhookInbox(directory: directory.url, configuration: .init(maxRecords: 2))
        #expect(try await settleCode { try await reopened.append(sampleRecord(3)) } == .full)
        #expect(directory.files("pending").count == 2)
    }

    @Test("the byte count follows rewrites, dead letters and requeues, and matches the files")
    func byteAccounting() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url)
        let record = sampleRecord(1)
        try await inbox.append(record)
        let (_, lease) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        try await inbox.retryLater(lease, failure: String(repeating: "f", count: 300), notBefore: Date())
        #expect(try await inbox.status().bytes == bytesOnDisk(directory, ["pending", "dead"]))
        let (_, again) = try #require(try await inbox.lease(record.id, for: .seconds(60)))
        try await inbox.deadLetter(again, reason: String(repeating: "r", count: 500))
        let dead = try await inbox.status()
        #expect(dead.bytes == (try bytesOnDisk(directory, ["pending", "dead"])))
        #expect(dead.pending == 0)
        #expect(dead.deadLetters == 1)
        #expect(try await inbox.requeue(deadLetter: record.id))
        #expect(try await inbox.status().bytes == bytesOnDisk(directory, ["pending", "dead"]))
        #expect(directory.files("dead").isEmpty)
    }

    @Test("an id that is not a plain file name is refused and never reaches the file system")
    func plainIDs() async throws {
        let directory = InboxDirectory()
        defer { directory.remove() }
        let inbox = try FileWebhookInbox(directory: directory.url)
        var record = sampleRecord(1)
        record.id = "../escape"
        #expect(try await settleCode { try await inbox.append(record) } == .storage)
        #expect(try await inbox.lease("../pending/x", for: .seconds(60)) == nil)
        #expect(try await !inbox.requeue(deadLetter: "../pending/x"))
        #expect(!FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("escape.rec").path))
    }
}
