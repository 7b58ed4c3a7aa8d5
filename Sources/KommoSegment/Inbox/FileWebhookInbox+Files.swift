import EventMapping
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Recovery, durable writes and lease files of `FileWebhookInbox`.
extension FileWebhookInbox {
    // MARK: - Recovery

    /// How old a temporary file of a live writer (this process, or another that still runs) must be before it is
    /// discarded anyway: no write takes this long.
    static let abandonedTemporaryAge: TimeInterval = 3_600

    /// Discards temporary files that were never renamed (their writer is gone), drops pending copies of records that
    /// already became dead letters, and measures what is stored.
    ///
    /// A temporary file names its writer (`.tmp~<host>~<pid>~<random>`): one whose writer still runs on this host
    /// (another inbox on the directory, in this process or another) is being written right now and is kept, unless it
    /// is older than ``abandonedTemporaryAge``. A temporary name is never a record, whatever its content.
    func recover() throws(InboxError) {
        let now = Date()
        for path in [pendingPath, deadPath, leasesPath] {
            for name in try names(in: path) where name.hasPrefix(".") {
                let file = path + "/" + name
                if Self.writerIsLive(name), now.timeIntervalSince(modificationDate(file) ?? now)
                    < Self.abandonedTemporaryAge {
                    continue
                }
                if unlink(file) == 0 {
                    logger.log(.notice, "inbox temporary file discarded", ["file": name])
                }
            }
        }
        let dead = Set(try recordIDs(in: deadPath))
        for id in try recordIDs(in: pendingPath) where dead.contains(id) {
            // A crash between writing the dead letter and deleting the pending copy.
            _ = unlink(recordPath(pendingPath, id))
        }
        _ = try measureUsage()
    }

    /// Counts the records and bytes on disk and makes them the size accounting; returns the ids, oldest first, and
    /// the bytes.
    func measureUsage() throws(InboxError) -> (pending: [String], dead: [String], bytes: Int64) {
        let pending = try recordIDs(in: pendingPath)
        let dead = try recordIDs(in: deadPath)
        let bytes = pending.reduce(Int64(0)) { $0 + fileSize(recordPath(pendingPath, $1)) }
            + dead.reduce(Int64(0)) { $0 + fileSize(recordPath(deadPath, $1)) }
        usage.withLock {
            $0.bytes = bytes
            $0.records = pending.count + dead.count
        }
        return (pending, dead, bytes)
    }

    /// A unique temporary name in `directory` that names this process as its writer.
    static func temporaryName(_ directory: String, _ kind: String) -> String {
        directory + "/." + kind + "~" + hostTag + "~" + String(getpid()) + "~" + UUID().uuidString
    }

    /// Whether the temporary file `name` was made by a process that still runs on this host (or on another host,
    /// where it cannot be checked).
    static func writerIsLive(_ name: String) -> Bool {
        let parts = name.split(separator: "~", omittingEmptySubsequences: false)
        guard parts.count == 4, let pid = Int32(parts[2]), pid > 0 else { return false }  // no writer named
        guard parts[1] == hostTag else { return true }
        if pid == getpid() { return true }
        return !(kill(pid, 0) != 0 && errno == ESRCH)
    }

    /// Eight hex digits naming this host in temporary names (a host name may hold any character).
    static let hostTag = String(SHA1.hexString(SHA1.hash(ProcessInfo.processInfo.hostName)).prefix(8))

    // MARK: - Files

    /// Whether `id` can name a file safely: ASCII letters, digits, `-` and `_`, at most 200 of them.
    static func isPlainID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 200 && id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F
        }
    }

    /// The least time left, in seconds, for a lease to be renewed in place rather than like a takeover.
    static let renewalMargin: TimeInterval = 5


    func recordPath(_ directory: String, _ id: String) -> String { directory + "/" + id + ".rec" }
    func leasePath(_ id: String) -> String { leasesPath + "/" + id + ".lease" }

    func names(in path: String) throws(InboxError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw InboxError(code: .storage, detail: "the inbox directory cannot be read", underlyingError: error)
        }
    }

    func recordIDs(in path: String) throws(InboxError) -> [String] {
        try names(in: path).filter { !$0.hasPrefix(".") && $0.hasSuffix(".rec") }.map { String($0.dropLast(4)) }.sorted()
    }

    func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// Temporary file, `fsync`, rename, `fsync` of the directory (``DurableFile/replace(_:with:temporaryPath:syncsDirectory:)``).
    /// Returns the bytes written.
    @discardableResult
    func writeDurably(_ data: Data, to path: String, syncDirectory syncsDirectory: Bool = true)
        throws(InboxError) -> Int64 {
        let temporary = Self.temporaryName(DurableFile.directory(of: path), "tmp")
        do {
            try DurableFile.replace(path, with: data, temporaryPath: temporary, syncsDirectory: syncsDirectory)
        } catch {
            throw Self.storageError(error)
        }
        return Int64(data.count)
    }

    /// Creates `path` exclusively (`O_CREAT | O_EXCL`), writes `data` and `fsync`s it; the file is deleted on failure.
    func writeSynced(_ data: Data, to path: String) throws(InboxError) {
        do {
            try DurableFile.writeNew(data, to: path)
        } catch {
            throw Self.storageError(error)
        }
    }

    func syncDirectory(_ path: String) { DurableFile.syncDirectory(path) }

    /// The storage error of a failed durable write.
    static func storageError(_ failure: DurableFile.Failure) -> InboxError {
        storageError(failure.step == .create ? "a record file cannot be created" : "a record cannot be written",
                     failure.code)
    }

    /// A storage error for `errno` `code`; a full disk or quota (`ENOSPC`, `EDQUOT`) is ``InboxError/Code/full``.
    static func storageError(_ detail: String, _ code: Int32) -> InboxError {
        let cause = POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        if code == ENOSPC || code == EDQUOT {
            return InboxError(code: .full, detail: "the disk under the inbox is full; the webhook is answered 503",
                              underlyingError: cause)
        }
        return InboxError(code: .storage, detail: detail, underlyingError: cause)
    }

    // MARK: - Leases

    /// Creates the lease file exclusively, taking over an expired one (or one whose holder process is gone).
    ///
    /// The content is written and `fsync`ed under a temporary name first, then hard-linked to the final name: `link`
    /// fails when the name exists, exactly like `O_CREAT | O_EXCL`, and no other worker ever reads a half-written
    /// (empty) lease, which it would take for an expired one. A stale lease is renamed to a unique name, which only one
    /// contender manages; the contender then checks that the file it moved is really stale (a worker may have
    /// renewed it, or taken it over, in between) and puts a live one back.
    func takeLeaseFile(_ lease: InboxLease, now: Date) throws(InboxError) -> Bool {
        let path = leasePath(lease.recordID)
        let temporary = Self.temporaryName(leasesPath, "tmp")
        try writeSynced(Self.encodeLease(lease), to: temporary)
        defer { _ = unlink(temporary) }
        for _ in 0..<2 {
            if link(temporary, path) == 0 { return true }
            guard errno == EEXIST else { throw Self.storageError("a lease cannot be created", errno) }
            guard isStale(leaseHolder(atPath: path), path: path, now: now) else { return false }
            let stale = Self.temporaryName(leasesPath, "stale")
            guard rename(path, stale) == 0 else { return false }  // another contender moved it first
            if !isStale(leaseHolder(atPath: stale), path: stale, now: now) {
                // Renewed or taken over in between: give the live lease back (exclusively: never over a newer one).
                _ = link(stale, path)
                _ = unlink(stale)
                return false
            }
            _ = unlink(stale)
            logger.log(.info, "inbox lease taken over", ["record": lease.recordID])
        }
        return false
    }

    /// Whether a lease file may be taken over: unreadable, expired, or held by a process of this host that is gone.
    func isStale(_ holder: StoredLease?, path: String, now: Date) -> Bool {
        guard let holder else { return true }
        if holder.lease.expiresAt <= now { return true }
        guard holder.host == ProcessInfo.processInfo.hostName, let pid = holder.pid, pid > 0 else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// A lease file's content.
    struct StoredLease {
        var lease: InboxLease
        var host: String?
        var pid: Int32?
    }

    func leaseHolder(_ id: String) -> InboxLease? {
        leaseHolder(atPath: leasePath(id))?.lease
    }

    func leaseHolder(atPath path: String) -> StoredLease? {
        let name = (path as NSString).lastPathComponent
        let id = name.hasSuffix(".lease") ? String(name.dropLast(6)) : name
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard parts.count >= 2, let milliseconds = Int64(parts[1]) else { return nil }
        let lease = InboxLease(recordID: id, token: String(parts[0]), expiresAt: Self.date(milliseconds))
        return StoredLease(lease: lease, host: parts.count >= 3 ? String(parts[2]) : nil,
                           pid: parts.count >= 4 ? Int32(parts[3]) : nil)
    }

    func checkHolder(_ lease: InboxLease) throws(InboxError) {
        guard leaseHolder(lease.recordID)?.token == lease.token else {
            throw InboxError(code: .leaseLost, detail: "the lease on record \(lease.recordID) expired and was taken "
                                 + "over, or the record is gone")
        }
    }

    func removeLeaseFile(_ id: String) {
        _ = unlink(leasePath(id))
    }

    /// Token, expiry (milliseconds since 1970), and the holder (host and process), one a line, so that a dead
    /// holder's lease is taken over at once.
    static func encodeLease(_ lease: InboxLease) -> Data {
        Data(("\(lease.token)\n\(milliseconds(lease.expiresAt))\n"
              + "\(ProcessInfo.processInfo.hostName)\n\(getpid())").utf8)
    }
}
