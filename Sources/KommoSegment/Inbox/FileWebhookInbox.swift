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
/// The exact format is described in `FileWebhookInbox+Format.swift`; ``InboxRecord/currentVersion`` is its version.
///
/// ## Durability
/// Every change is written to a temporary name (`.tmp~<host>~<pid>~<random>`, created with `O_CREAT | O_EXCL`),
/// `fsync`ed, renamed to its final name, and the directory is then `fsync`ed (opened `O_RDONLY`): once
/// ``append(_:)`` returns, the record survives a crash of the process and of the machine. Dead-lettering, requeueing
/// and ``retryLater(_:failure:notBefore:)`` rewrite records the same way. A temporary file that was never renamed (a
/// crash between write and rename) is not a record: it is never listed, and ``init(directory:configuration:wallClock:log:)``
/// discards it when its writer no longer runs (or it is over an hour old; one whose writer still runs, such as
/// another inbox on the same directory in the middle of a write, is left alone).
///
/// ## What fsync promises and what it does not
/// It promises that once `fsync` returns, on a local POSIX file system that honours it (ext4, XFS, APFS), the file's
/// data and the rename survive a crash or a power loss. It does not protect against a disk or controller that
/// acknowledges writes from a volatile cache (it lies about its write cache), against network file systems with
/// weaker semantics, or against a failing disk. A record is only as safe as the file system under it: put the
/// directory on a local, persistent volume (not a container's writable layer, not NFS or SMB).
///
/// ## Limits
/// ``Configuration/maxBytes`` and ``Configuration/maxRecords`` bound what is stored; an append past them, or one
/// that meets a full disk or quota (`ENOSPC`, `EDQUOT`), fails with ``InboxError/Code/full``. Each inbox counts what
/// it finds when it opens and what it writes itself, and recounts on ``status()``: several inboxes writing to one
/// directory may together pass the limits by what the others wrote since their last count.
///
/// ## Workers
/// Several inboxes (in one process or several) may share a directory: a lease file is created exclusively, and an
/// expired one is taken over by exactly one worker (the one whose rename of the stale file succeeds). A lease also
/// names its holder's host and process: when that process no longer runs on this host (it was killed or crashed),
/// its lease is taken over at once instead of after it expires. Leases are dated by the injected ``WallClock``: the
/// workers sharing a directory must share a clock too (one host, or hosts kept in step by NTP).
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
    let wallClock: WallClock
    let logger: SDKLogger
    let pendingPath: String
    let deadPath: String
    let leasesPath: String
    let corruptPath: String
    /// What this inbox knows is stored, and the corrupt records it moved aside.
    let usage: Locked<(bytes: Int64, records: Int, corrupt: Int)>

    /// Opens (and creates) the inbox in `directory`, discarding temporary files that were never renamed.
    /// - Parameters:
    ///   - directory: Where the records live; created (mode `0700`) with its subdirectories when missing.
    ///   - configuration: Limits and retention.
    ///   - wallClock: Dates leases, dead letters and ``purgeExpiredDeadLetters()``.
    ///   - log: Where corrupt records, records of a newer format and discarded temporary files are reported.
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
    /// - Throws: ``InboxError/Code/full`` past ``Configuration/maxBytes`` or ``Configuration/maxRecords``, or on a full
    ///   disk; ``InboxError/Code/storage`` when the file cannot be written or the id is not a plain file name (see
    ///   ``InboxRecord/makeID(receivedAt:random:)``).
    public func append(_ record: InboxRecord) async throws(InboxError) {
        guard Self.isPlainID(record.id) else {
            throw InboxError(code: .storage, detail: "a record id must be letters, digits, '-' and '_' only")
        }
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
    ///
    /// A record that is torn or fails its checksum is moved to `corrupt/`, counted in ``corruptRecords`` and logged;
    /// the answer is then `nil`.
    /// - Throws: ``InboxError/Code/unsupportedVersion`` when a newer release wrote the record (it is left in place and
    ///   logged), ``InboxError/Code/storage`` when the files cannot be written.
    public func lease(_ id: String, for duration: Duration) async throws(InboxError) -> (InboxRecord, InboxLease)? {
        guard Self.isPlainID(id) else { return nil }
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
        return (record, lease)
    }

    /// Rewrites the lease file with the new expiry; `nil` when the token no longer matches or the record is gone.
    ///
    /// A lease with more than ``renewalMargin`` left is replaced in place (no contender takes a live lease over).
    /// One closer to its expiry, or past it, is renewed like a takeover: the old file is renamed away (which fails
    /// when a contender moved it first), checked to be still this lease's, and the new one is created exclusively;
    /// a contender that got in between keeps the record, and the answer is `nil`.
    public func renew(_ lease: InboxLease, for duration: Duration) async throws(InboxError) -> InboxLease? {
        let path = leasePath(lease.recordID)
        let now = wallClock.now
        guard let held = leaseHolder(atPath: path)?.lease, held.token == lease.token,
              FileManager.default.fileExists(atPath: recordPath(pendingPath, lease.recordID)) else { return nil }
        var renewed = lease
        renewed.expiresAt = now.addingTimeInterval(max(duration.seconds, 0))
        if held.expiresAt.timeIntervalSince(now) > Self.renewalMargin {
            try writeDurably(Self.encodeLease(renewed), to: path, syncDirectory: false)
            return renewed
        }
        let temporary = Self.temporaryName(leasesPath, "tmp")
        try writeSynced(Self.encodeLease(renewed), to: temporary)
        defer { _ = unlink(temporary) }
        let moved = Self.temporaryName(leasesPath, "stale")
        guard rename(path, moved) == 0 else { return nil }  // a contender moved it first
        defer { _ = unlink(moved) }
        guard leaseHolder(atPath: moved)?.lease.token == lease.token else {
            _ = link(moved, path)  // not ours any more: give it back, never over a newer one
            return nil
        }
        return link(temporary, path) == 0 ? renewed : nil
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
        let before = fileSize(path)
        let written = try writeDurably(Self.encode(record, dead: nil), to: path)
        usage.withLock { $0.bytes += written - before }
        removeLeaseFile(lease.recordID)
    }

    /// Writes the record into `dead/` with its reason, then deletes it from `pending/` and deletes the lease.
    public func deadLetter(_ lease: InboxLease, reason: String) async throws(InboxError) {
        try checkHolder(lease)
        let path = recordPath(pendingPath, lease.recordID)
        guard let record = try read(path) else {
            throw InboxError(code: .leaseLost, detail: "record \(lease.recordID) is gone")
        }
        let before = fileSize(path)
        let written = try writeDurably(Self.encode(record, dead: (reason, wallClock.now)),
                                       to: recordPath(deadPath, record.id))
        // A crash before this unlink leaves both copies; the next open drops the pending one.
        _ = unlink(path)
        syncDirectory(pendingPath)
        usage.withLock { $0.bytes += written - before }
        removeLeaseFile(lease.recordID)
    }

    /// Every readable file of `dead/`, oldest first (by id, that is by arrival).
    ///
    /// A corrupt dead letter is moved to `corrupt/`; one of a newer format is left in place; both are left out.
    public func deadLetters() async throws(InboxError) -> [InboxDeadLetter] {
        var letters: [InboxDeadLetter] = []
        for id in try recordIDs(in: deadPath) {
            if case .letter(let letter) = load(recordPath(deadPath, id)) { letters.append(letter) }
        }
        return letters
    }

    /// Writes the record back into `pending/` with no attempts and no backoff, then deletes the dead letter.
    ///
    /// A crash between the two steps leaves both copies; the next open keeps the dead letter (requeue it again).
    /// - Throws: ``InboxError/Code/unsupportedVersion`` when a newer release wrote the dead letter.
    public func requeue(deadLetter id: String) async throws(InboxError) -> Bool {
        guard Self.isPlainID(id) else { return false }
        let path = recordPath(deadPath, id)
        guard FileManager.default.fileExists(atPath: path), let letter = try readDead(path) else { return false }
        var record = letter.record
        record.attempts = 0
        record.lastFailure = nil
        record.notBefore = nil
        let before = fileSize(path)
        let written = try writeDurably(Self.encode(record, dead: nil), to: recordPath(pendingPath, id))
        _ = unlink(path)
        syncDirectory(deadPath)
        usage.withLock { $0.bytes += written - before }
        return true
    }

    /// Deletes the dead letters that died before `date` (they hold personal data); returns how many.
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

    /// Deletes the dead letters that died more than ``Configuration/deadLetterRetention`` ago by the wall clock;
    /// returns how many. Call it from time to time (say hourly).
    public func purgeExpiredDeadLetters() async throws(InboxError) -> Int {
        try await purgeDeadLetters(diedBefore: wallClock.now.addingTimeInterval(-configuration.deadLetterRetention.seconds))
    }

    /// Counts the files on disk (and refreshes the size accounting from them); the oldest pending arrival is read
    /// from the oldest intact record's header.
    public func status() async throws(InboxError) -> InboxStatus {
        let (pending, dead, bytes) = try measureUsage()
        var oldest: Date?
        var movedAside = 0
        for id in pending {
            switch load(recordPath(pendingPath, id)) {
            case .letter(let letter): oldest = letter.record.receivedAt
            case .corrupt: movedAside += 1
            case .gone, .newer: break
            }
            if oldest != nil { break }
        }
        return InboxStatus(pending: pending.count - movedAside, oldestPendingReceivedAt: oldest,
                           deadLetters: dead.count, bytes: bytes)
    }
}
