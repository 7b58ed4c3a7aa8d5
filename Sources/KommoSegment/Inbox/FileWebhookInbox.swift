import EventMapping
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The default ``WebhookInbox``: Foundation only, one file per record in a directory.
///
/// ## Layout
/// - `pending/<id>.rec`: records waiting or being processed;
/// - `dead/<id>.rec`: dead letters, kept for ``Configuration/deadLetterRetention``;
/// - `leases/<id>.lease`: a worker's hold on a record (token and expiry);
/// - `corrupt/`: records that could not be read back intact, moved aside for a person to look at.
///
/// Files are created with mode `0600`: records hold deal and contact data.
///
/// ## A record
/// A JSON header line (format version, id, account, times, attempts, last failure, body length), the raw body, and a
/// trailer line with the SHA-1 of the header and body. A record that is shorter than its header says (a torn write)
/// or whose checksum does not match is moved to `corrupt/`, counted in ``corruptRecords`` and logged, never fatal.
/// A header key this release does not know is ignored, so a newer release's additions do not stop it; a record
/// with a newer format version is left in place and never leased.
///
/// ## Durability
/// Every change is written to a temporary name, `fsync`ed, renamed to its final name, and the directory is then
/// `fsync`ed: once ``append(_:)`` returns, the record survives a crash of the process and of the machine. A
/// temporary file that was never renamed (a crash between write and rename) is not a record: it is discarded when
/// the inbox opens.
///
/// What `fsync` promises: on a local POSIX file system that honours it (ext4, XFS, APFS), the file's data and the
/// rename reach stable storage before the call returns. What it does not: a disk or controller that acknowledges
/// writes from a volatile cache loses them on power loss; network file systems may weaken the promise; nothing
/// protects against a failing disk. A record is as safe as the storage under it: put the directory on a local,
/// persistent volume (not a container's writable layer).
///
/// ## Workers
/// Several inboxes (in one process or several) may share a directory: a lease file is created exclusively, and an
/// expired one is taken over by exactly one worker (the one whose rename of the stale file succeeds). A lease also
/// names its holder's host and process: when that process no longer runs on this host (it was killed or crashed),
/// its lease is taken over at once instead of after it expires.
public final class FileWebhookInbox: WebhookInbox {
    /// Limits and retention.
    public struct Configuration: Sendable, Hashable {
        /// The most bytes records and dead letters may take together; an append past it fails with
        /// ``InboxError/Code/full``. Default: 1 GiB.
        public var maxBytes: Int64
        /// The most records (pending and dead) kept. Default: 100,000.
        public var maxRecords: Int
        /// How long dead letters are kept by ``FileWebhookInbox/purgeExpiredDeadLetters()``. Default: 7 days.
        public var deadLetterRetention: Duration

        /// Creates a configuration.
        public init(maxBytes: Int64 = 1 << 30, maxRecords: Int = 100_000,
                    deadLetterRetention: Duration = .seconds(7 * 86_400)) {
            self.maxBytes = maxBytes
            self.maxRecords = maxRecords
            self.deadLetterRetention = deadLetterRetention
        }
    }

    /// The directory of the inbox.
    public let directory: URL
    /// The limits in force.
    public let configuration: Configuration
    private let wallClock: WallClock
    private let logger: SDKLogger
    private let pendingPath: String
    private let deadPath: String
    private let leasesPath: String
    private let corruptPath: String
    private let usage: Locked<(bytes: Int64, records: Int, corrupt: Int)>

    /// Opens (and creates) the inbox in `directory`, discarding temporary files that were never renamed.
    /// - Throws: ``InboxError`` with code ``InboxError/Code/storage`` when the directories cannot be created or read.
    public init(directory: URL, configuration: Configuration = .init(), wallClock: WallClock = .system,
                log: (any LogSink)? = nil) throws(InboxError) {
        self.directory = directory
        self.configuration = configuration
        self.wallClock = wallClock
        logger = SDKLogger(log, source: "inbox")
        pendingPath = directory.appendingPathComponent("pending").path
        deadPath = directory.appendingPathComponent("dead").path
        leasesPath = directory.appendingPathComponent("leases").path
        corruptPath = directory.appendingPathComponent("corrupt").path
        usage = Locked((0, 0, 0))
        for path in [pendingPath, deadPath, leasesPath, corruptPath] {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw InboxError(code: .storage, detail: "the inbox directory cannot be created", underlyingError: error)
            }
        }
        try recover()
    }

    /// Records found corrupt (torn or with a bad checksum) and moved to `corrupt/` since the inbox opened.
    public var corruptRecords: Int { usage.withLock { $0.corrupt } }

    // MARK: - WebhookInbox

    /// Writes the record to a temporary file, `fsync`s it, renames it into `pending/` and `fsync`s the directory.
    public func append(_ record: InboxRecord) async throws(InboxError) {
        let data = Self.encode(record, dead: nil)
        let admitted = usage.withLock { usage -> Bool in
            guard usage.records < configuration.maxRecords,
                  usage.bytes + Int64(data.count) <= configuration.maxBytes else { return false }
            usage.bytes += Int64(data.count)
            usage.records += 1
            return true
        }
        guard admitted else {
            throw InboxError(code: .full, detail: "the inbox holds its limit of \(configuration.maxRecords) records or "
                                 + "\(configuration.maxBytes) bytes; the webhook is answered 503 so that Kommo retries")
        }
        do {
            try writeDurably(data, to: recordPath(pendingPath, record.id))
        } catch {
            usage.withLock {
                $0.bytes -= Int64(data.count)
                $0.records -= 1
            }
            throw error
        }
    }

    /// The ids in `pending/`, oldest first.
    public func pending(limit: Int) async throws(InboxError) -> [String] {
        Array(try recordIDs(in: pendingPath).prefix(max(limit, 0)))
    }

    /// Creates `leases/<id>.lease` exclusively (taking over an expired one), then reads and checks the record.
    public func lease(_ id: String, for duration: Duration) async throws(InboxError) -> (InboxRecord, InboxLease)? {
        guard FileManager.default.fileExists(atPath: recordPath(pendingPath, id)) else { return nil }
        let now = wallClock.now
        let lease = InboxLease(recordID: id, token: UUID().uuidString,
                               expiresAt: now.addingTimeInterval(max(duration.seconds, 0)))
        guard try takeLeaseFile(lease, now: now) else { return nil }
        let record: InboxRecord?
        do {
            record = try read(recordPath(pendingPath, id))
        } catch {
            removeLeaseFile(id)
            throw error
        }
        guard let record else {
            removeLeaseFile(id)
            return nil
        }
        guard record.version <= InboxRecord.currentVersion else {
            removeLeaseFile(id)
            throw InboxError(code: .unsupportedVersion, detail: "record \(id) has format version \(record.version), "
                                 + "newer than this release's \(InboxRecord.currentVersion); run a newer release")
        }
        return (record, lease)
    }

    /// Rewrites the lease file with the new expiry; `nil` when the token no longer matches.
    public func renew(_ lease: InboxLease, for duration: Duration) async throws(InboxError) -> InboxLease? {
        guard leaseHolder(lease.recordID)?.token == lease.token,
              FileManager.default.fileExists(atPath: recordPath(pendingPath, lease.recordID)) else { return nil }
        var renewed = lease
        renewed.expiresAt = wallClock.now.addingTimeInterval(max(duration.seconds, 0))
        try writeDurably(Self.encodeLease(renewed), to: leasePath(lease.recordID), syncDirectory: false)
        return renewed
    }

    /// Deletes the lease file.
    public func release(_ lease: InboxLease) async throws(InboxError) {
        try checkHolder(lease)
        removeLeaseFile(lease.recordID)
    }

    /// Deletes the record (it holds personal data), then the lease.
    public func complete(_ lease: InboxLease) async throws(InboxError) {
        try checkHolder(lease)
        let path = recordPath(pendingPath, lease.recordID)
        let size = fileSize(path)
        guard unlink(path) == 0 || errno == ENOENT else {
            throw Self.storageError("the record cannot be deleted", errno)
        }
        syncDirectory(pendingPath)
        usage.withLock {
            $0.bytes -= size
            $0.records -= 1
        }
        removeLeaseFile(lease.recordID)
    }

    /// Rewrites the record with one more attempt, the failure and the backoff, then deletes the lease.
    public func retryLater(_ lease: InboxLease, failure: String, notBefore: Date) async throws(InboxError) {
        try checkHolder(lease)
        let path = recordPath(pendingPath, lease.recordID)
        guard var record = try read(path) else {
            throw InboxError(code: .leaseLost, detail: "record \(lease.recordID) is gone")
        }
        record.attempts += 1
        record.lastFailure = failure
        record.notBefore = notBefore
        try writeDurably(Self.encode(record, dead: nil), to: path)
        removeLeaseFile(lease.recordID)
    }

    /// Writes the record into `dead/` with its reason, then deletes it from `pending/` and deletes the lease.
    public func deadLetter(_ lease: InboxLease, reason: String) async throws(InboxError) {
        try checkHolder(lease)
        let path = recordPath(pendingPath, lease.recordID)
        guard let record = try read(path) else {
            throw InboxError(code: .leaseLost, detail: "record \(lease.recordID) is gone")
        }
        try writeDurably(Self.encode(record, dead: (reason, wallClock.now)), to: recordPath(deadPath, record.id))
        _ = unlink(path)
        syncDirectory(pendingPath)
        removeLeaseFile(lease.recordID)
    }

    /// Every readable file of `dead/`, oldest first.
    public func deadLetters() async throws(InboxError) -> [InboxDeadLetter] {
        var letters: [InboxDeadLetter] = []
        for id in try recordIDs(in: deadPath) {
            if let letter = try readDead(recordPath(deadPath, id)) { letters.append(letter) }
        }
        return letters
    }

    /// Writes the record back into `pending/` with no attempts and no backoff, then deletes the dead letter.
    public func requeue(deadLetter id: String) async throws(InboxError) -> Bool {
        let path = recordPath(deadPath, id)
        guard FileManager.default.fileExists(atPath: path), let letter = try readDead(path) else { return false }
        var record = letter.record
        record.attempts = 0
        record.lastFailure = nil
        record.notBefore = nil
        try writeDurably(Self.encode(record, dead: nil), to: recordPath(pendingPath, id))
        _ = unlink(path)
        syncDirectory(deadPath)
        return true
    }

    /// Deletes the dead letters that died before `date`.
    public func purgeDeadLetters(diedBefore date: Date) async throws(InboxError) -> Int {
        var purged = 0
        for letter in try await deadLetters() where letter.deadAt < date {
            let path = recordPath(deadPath, letter.record.id)
            let size = fileSize(path)
            if unlink(path) == 0 {
                purged += 1
                usage.withLock {
                    $0.bytes -= size
                    $0.records -= 1
                }
            }
        }
        if purged > 0 { syncDirectory(deadPath) }
        return purged
    }

    /// Deletes the dead letters older than ``Configuration/deadLetterRetention``.
    public func purgeExpiredDeadLetters() async throws(InboxError) -> Int {
        try await purgeDeadLetters(diedBefore: wallClock.now.addingTimeInterval(-configuration.deadLetterRetention.seconds))
    }

    /// Counts the files on disk (and refreshes the size accounting from them).
    public func status() async throws(InboxError) -> InboxStatus {
        let pending = try recordIDs(in: pendingPath)
        let dead = try recordIDs(in: deadPath)
        let bytes = pending.reduce(Int64(0)) { $0 + fileSize(recordPath(pendingPath, $1)) }
            + dead.reduce(Int64(0)) { $0 + fileSize(recordPath(deadPath, $1)) }
        usage.withLock {
            $0.bytes = bytes
            $0.records = pending.count + dead.count
        }
        var oldest: Date?
        for id in pending {
            if let record = try read(recordPath(pendingPath, id)) {
                oldest = record.receivedAt
                break
            }
        }
        return InboxStatus(pending: pending.count, oldestPendingReceivedAt: oldest, deadLetters: dead.count,
                           bytes: bytes)
    }

    // MARK: - Recovery

    /// Discards temporary files and stale lease leftovers, drops pending copies of records that already became
    /// dead letters, and measures what is stored.
    private func recover() throws(InboxError) {
        for path in [pendingPath, deadPath, leasesPath] {
            for name in try names(in: path) where name.hasPrefix(".") {
                _ = unlink(path + "/" + name)
            }
        }
        let dead = Set(try recordIDs(in: deadPath))
        for id in try recordIDs(in: pendingPath) where dead.contains(id) {
            _ = unlink(recordPath(pendingPath, id))
        }
        _ = try? { () throws(InboxError) in
            let pending = try recordIDs(in: pendingPath)
            let bytes = pending.reduce(Int64(0)) { $0 + fileSize(recordPath(pendingPath, $1)) }
                + dead.reduce(Int64(0)) { $0 + fileSize(recordPath(deadPath, $1)) }
            usage.withLock {
                $0.bytes = bytes
                $0.records = pending.count + dead.count
            }
        }()
    }

    // MARK: - Files

    private func recordPath(_ directory: String, _ id: String) -> String { directory + "/" + id + ".rec" }
    private func leasePath(_ id: String) -> String { leasesPath + "/" + id + ".lease" }

    private func names(in path: String) throws(InboxError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw InboxError(code: .storage, detail: "the inbox directory cannot be read", underlyingError: error)
        }
    }

    private func recordIDs(in path: String) throws(InboxError) -> [String] {
        try names(in: path).filter { !$0.hasPrefix(".") && $0.hasSuffix(".rec") }.map { String($0.dropLast(4)) }.sorted()
    }

    private func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// Temporary file, `fsync`, rename, `fsync` of the directory.
    private func writeDurably(_ data: Data, to path: String, syncDirectory syncsDirectory: Bool = true)
        throws(InboxError) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/.tmp-" + UUID().uuidString
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw Self.storageError("a record file cannot be created", errno) }
        var failure: Int32 = 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0 && fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        guard failure == 0 else {
            _ = unlink(temporary)
            throw Self.storageError("a record cannot be written", failure)
        }
        if syncsDirectory { syncDirectory(directory) }
    }

    private func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    private static func storageError(_ detail: String, _ code: Int32) -> InboxError {
        let cause = POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        if code == ENOSPC || code == EDQUOT {
            return InboxError(code: .full, detail: "the disk under the inbox is full; the webhook is answered 503",
                              underlyingError: cause)
        }
        return InboxError(code: .storage, detail: detail, underlyingError: cause)
    }

    // MARK: - Leases

    /// Creates the lease file with its content in one step (written to a temporary name, then hard-linked to the
    /// final name, which fails if the name exists), so no other worker ever reads a half-written lease.
    private func takeLeaseFile(_ lease: InboxLease, now: Date) throws(InboxError) -> Bool {
        let path = leasePath(lease.recordID)
        let temporary = leasesPath + "/.tmp-" + UUID().uuidString
        try writeDurably(Self.encodeLease(lease), to: temporary, syncDirectory: false)
        defer { _ = unlink(temporary) }
        for _ in 0..<2 {
            if link(temporary, path) == 0 { return true }
            guard errno == EEXIST else { throw Self.storageError("a lease cannot be created", errno) }
            // Held: take it over only when it has expired (an unreadable lease file counts as expired), and only
            // the worker whose rename of the stale file succeeds.
            let seen = leaseHolder(lease.recordID)
            if let seen, seen.expiresAt > now, !holderIsGone(lease.recordID) { return false }
            let stale = leasesPath + "/.stale-" + UUID().uuidString
            guard rename(path, stale) == 0 else { return false }
            if let moved = leaseHolder(atPath: stale), moved.token != seen?.token {
                // Another worker took the lease over in between: give its live lease back.
                _ = rename(stale, path)
                return false
            }
            _ = unlink(stale)
        }
        return false
    }

    private func leaseHolder(_ id: String) -> InboxLease? {
        leaseHolder(atPath: leasePath(id)).map { InboxLease(recordID: id, token: $0.token, expiresAt: $0.expiresAt) }
    }

    private func leaseHolder(atPath path: String) -> InboxLease? {
        let id = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "\n")
        guard parts.count >= 2, let milliseconds = Int64(parts[1]) else { return nil }
        return InboxLease(recordID: id, token: String(parts[0]),
                          expiresAt: Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1_000))
    }

    /// Whether the lease's holder was a process on this machine that no longer runs (killed or crashed): its lease
    /// is then taken over at once rather than after it expires.
    private func holderIsGone(_ id: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: leasePath(id)),
              let text = String(data: data, encoding: .utf8) else { return false }
        let parts = text.split(separator: "\n")
        guard parts.count >= 4, String(parts[2]) == Self.hostName, let pid = Int32(parts[3]), pid > 0 else {
            return false
        }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    private static let hostName = ProcessInfo.processInfo.hostName

    private func checkHolder(_ lease: InboxLease) throws(InboxError) {
        guard leaseHolder(lease.recordID)?.token == lease.token else {
            throw InboxError(code: .leaseLost, detail: "the lease on record \(lease.recordID) expired and was taken "
                                 + "over, or the record is gone")
        }
    }

    private func removeLeaseFile(_ id: String) {
        _ = unlink(leasePath(id))
    }

    private static func encodeLease(_ lease: InboxLease) -> Data {
        // Token, expiry, and the holder (host and process), so that a dead holder's lease is taken over at once.
        Data(("\(lease.token)\n\(Int64((lease.expiresAt.timeIntervalSince1970 * 1_000).rounded()))\n"
              + "\(hostName)\n\(getpid())").utf8)
    }

    // MARK: - Record format

    private struct Header: Codable {
        var v: Int
        var id: String
        var account: Int64
        var received: Int64
        var contentType: String?
        var attempts: Int
        var lastFailure: String?
        var notBefore: Int64?
        var deadReason: String?
        var deadAt: Int64?
        var length: Int
    }

    private static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000).rounded()) }
    private static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1_000)
    }

    private static func encode(_ record: InboxRecord, dead: (reason: String, at: Date)?) -> Data {
        let header = Header(v: record.version, id: record.id, account: record.accountID,
                            received: milliseconds(record.receivedAt), contentType: record.contentType,
                            attempts: record.attempts, lastFailure: record.lastFailure,
                            notBefore: record.notBefore.map(milliseconds), deadReason: dead?.reason,
                            deadAt: dead.map { milliseconds($0.at) }, length: record.body.count)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings and integers cannot fail.
        var data = (try? encoder.encode(header)) ?? Data("{}".utf8)
        data.append(0x0A)
        data.append(record.body)
        let checksum = SHA1.hexString(SHA1.hash(data))
        data.append(0x0A)
        data.append(contentsOf: Array(checksum.utf8))
        return data
    }

    /// The record at `path`; `nil` when it is gone or was corrupt (then moved aside).
    private func read(_ path: String) throws(InboxError) -> InboxRecord? {
        try readDead(path)?.record
    }

    private func readDead(_ path: String) throws(InboxError) -> InboxDeadLetter? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        switch Self.decode(data) {
        case .success(let letter): return letter
        case .failure(let problem):
            moveAside(path, problem)
            return nil
        }
    }

    private static func decode(_ data: Data) -> Result<InboxDeadLetter, InboxError> {
        let bytes = [UInt8](data)
        func corrupt(_ detail: String) -> Result<InboxDeadLetter, InboxError> {
            .failure(InboxError(code: .corrupt, detail: detail))
        }
        guard let newline = bytes.firstIndex(of: 0x0A) else { return corrupt("no header line (a torn write)") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[..<newline]))
        } catch {
            return corrupt("the header cannot be read")
        }
        let bodyStart = newline + 1
        let bodyEnd = bodyStart + header.length
        guard header.length >= 0, bytes.count == bodyEnd + 1 + 40, bytes[bodyEnd] == 0x0A else {
            return corrupt("the record is shorter or longer than its header says (a torn write)")
        }
        let checksum = String(decoding: bytes[(bodyEnd + 1)...], as: UTF8.self)
        guard SHA1.hexString(SHA1.hash(bytes[..<bodyEnd])) == checksum else {
            return corrupt("the checksum does not match")
        }
        let record = InboxRecord(id: header.id, version: header.v, accountID: header.account,
                                 receivedAt: date(header.received), contentType: header.contentType,
                                 body: Data(bytes[bodyStart..<bodyEnd]), attempts: header.attempts,
                                 lastFailure: header.lastFailure, notBefore: header.notBefore.map(date))
        return .success(InboxDeadLetter(record: record, reason: header.deadReason ?? "",
                                        deadAt: header.deadAt.map(date) ?? date(header.received)))
    }

    private func moveAside(_ path: String, _ problem: InboxError) {
        let name = (path as NSString).lastPathComponent
        let target = corruptPath + "/" + name + "." + UUID().uuidString
        let size = fileSize(path)
        guard rename(path, target) == 0 else { return }
        syncDirectory((path as NSString).deletingLastPathComponent)
        usage.withLock {
            $0.corrupt += 1
            $0.bytes -= size
            $0.records -= 1
        }
        logger.log(.error, "inbox record corrupt; moved aside", ["record": name, "cause": problem.detail,
                                                                 "movedTo": target])
    }
}
