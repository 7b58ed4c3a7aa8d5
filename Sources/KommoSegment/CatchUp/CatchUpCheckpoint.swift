import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where catch-up keeps, for each Kommo account, how far it has got through the events log.
///
/// A checkpoint is a time in Unix seconds with one meaning: **every event of the account created at or before it has
/// been processed** (delivered, skipped on purpose, or found already processed). The next catch-up reads from the
/// second after it. A run that leaves an event failed stops the checkpoint before that event's second, so the next
/// run tries it again.
///
/// ``FileCatchUpCheckpointStore`` keeps checkpoints in a file, ``InMemoryCatchUpCheckpointStore`` in memory, and the
/// server's `PostgresCatchUpCheckpointStore` in PostgreSQL, shared by every instance.
public protocol CatchUpCheckpointStore: Sendable {
    /// The account's checkpoint, or `nil` when catch-up never finished a run for it.
    func checkpoint(for accountID: Int64) async throws -> Int64?

    /// Moves the account's checkpoint forward to `time`; a checkpoint already at or past `time` is left as it is
    /// (two runs finishing out of order never move it back).
    ///
    /// - Returns: the checkpoint now stored.
    @discardableResult
    func advance(_ accountID: Int64, to time: Int64) async throws -> Int64

    /// Takes the account's catch-up lease for `owner`, or extends it when `owner` holds it, for `duration`: while
    /// one instance catches an account up, the others sharing the store leave it alone instead of reading the same
    /// window and finding every change in flight.
    ///
    /// - Returns: `true` when `owner` holds the lease now; `false` when another owner holds a live one.
    func holdRun(_ accountID: Int64, owner: String, for duration: Duration) async throws -> Bool

    /// Ends `owner`'s lease on the account, so that the next run, anywhere, may begin at once. Does nothing when
    /// `owner` does not hold it.
    func endRun(_ accountID: Int64, owner: String) async throws
}

extension CatchUpCheckpointStore {
    /// Always grants the lease: a store that one process uses alone (a file, the command line) needs none.
    public func holdRun(_ accountID: Int64, owner: String, for duration: Duration) async throws -> Bool { true }

    /// Nothing to end.
    public func endRun(_ accountID: Int64, owner: String) async throws {}
}

/// Checkpoints in the memory of one process: what a server without a database uses, and tests.
///
/// Pipelines of one process that share it also share its leases (``holdRun(_:owner:for:)``), which last until
/// ended: a run always ends its lease, even when it fails or is cancelled.
public actor InMemoryCatchUpCheckpointStore: CatchUpCheckpointStore {
    private var checkpoints: [Int64: Int64]
    private var owners: [Int64: String] = [:]

    /// A store holding `checkpoints` (account id to Unix seconds); empty by default.
    public init(_ checkpoints: [Int64: Int64] = [:]) {
        self.checkpoints = checkpoints
    }

    /// The account's checkpoint, or `nil`.
    public func checkpoint(for accountID: Int64) -> Int64? { checkpoints[accountID] }

    /// Moves the checkpoint forward, never back.
    @discardableResult
    public func advance(_ accountID: Int64, to time: Int64) -> Int64 {
        let stored = max(checkpoints[accountID] ?? time, time)
        checkpoints[accountID] = stored
        return stored
    }

    /// Takes the lease if nobody holds it, or keeps it for its owner; `duration` is not used (see the type).
    public func holdRun(_ accountID: Int64, owner: String, for duration: Duration) async -> Bool {
        guard let holder = owners[accountID] else {
            owners[accountID] = owner
            return true
        }
        return holder == owner
    }

    /// Ends `owner`'s lease.
    public func endRun(_ accountID: Int64, owner: String) async {
        if owners[accountID] == owner { owners[accountID] = nil }
    }
}

/// Checkpoints in one small JSON file, written atomically and durably (a temporary file in the same directory,
/// `fsync`, rename, `fsync` of the directory), mode `0600`:
///
/// ```json
/// {"accounts":{"31234567":1768912200},"format":"kommo-segment-checkpoint/v1"}
/// ```
///
/// A file that does not exist holds no checkpoint; it is created on the first ``advance(_:to:)``, and its directory
/// must exist. Meant for one process at a time (the command line's `catch-up --checkpoint FILE`); instances that
/// run together share PostgreSQL's store instead.
public actor FileCatchUpCheckpointStore: CatchUpCheckpointStore {
    /// The name of the file's format, written into it.
    public static let format = "kommo-segment-checkpoint/v1"

    /// The file's path.
    public nonisolated let path: String

    /// A store in the file at `path`.
    public init(path: String) {
        self.path = path
    }

    /// The account's checkpoint, or `nil` (also when the file does not exist yet).
    ///
    /// - Throws: ``CatchUpError/Code/checkpointFailed`` when the file cannot be read or is not a checkpoint file.
    public func checkpoint(for accountID: Int64) throws(CatchUpError) -> Int64? {
        try read()[accountID]
    }

    /// Moves the account's checkpoint forward and writes the file; the old file is unchanged when writing fails.
    ///
    /// - Throws: ``CatchUpError/Code/checkpointFailed`` when the file cannot be read or written.
    @discardableResult
    public func advance(_ accountID: Int64, to time: Int64) throws(CatchUpError) -> Int64 {
        var checkpoints = try read()
        if let stored = checkpoints[accountID], stored >= time { return stored }
        checkpoints[accountID] = time
        var accounts: [String: Int64] = [:]
        for (account, seconds) in checkpoints { accounts[String(account)] = seconds }
        let data: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            data = try encoder.encode(FileContent(format: Self.format, accounts: accounts)) + Data("\n".utf8)
        } catch {
            throw CatchUpError(code: .checkpointFailed, detail: "the checkpoint could not be encoded",
                               underlyingError: error)
        }
        let temporary = DurableFile.temporaryPath(beside: path)
        do {
            try DurableFile.replace(path, with: data, temporaryPath: temporary)
        } catch {
            throw CatchUpError(code: .checkpointFailed,
                               detail: "the checkpoint file \(path) cannot be written ("
                                   + String(cString: strerror(error.code)) + "); check that its directory exists "
                                   + "and is writable",
                               underlyingError: POSIXError(POSIXErrorCode(rawValue: error.code) ?? .EIO))
        }
        return time
    }

    private struct FileContent: Codable {
        var format: String
        var accounts: [String: Int64]
    }

    private func read() throws(CatchUpError) -> [Int64: Int64] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            return [:]
        } catch {
            throw CatchUpError(code: .checkpointFailed,
                               detail: "the checkpoint file \(path) cannot be read; check its permissions",
                               underlyingError: error)
        }
        let content: FileContent
        do {
            content = try JSONDecoder().decode(FileContent.self, from: data)
        } catch {
            throw CatchUpError(code: .checkpointFailed,
                               detail: "the checkpoint file \(path) is not a checkpoint file ({\"format\": "
                                   + "\"\(Self.format)\", \"accounts\": {\"<account id>\": <Unix seconds>}})",
                               underlyingError: error)
        }
        guard content.format == Self.format else {
            throw CatchUpError(code: .checkpointFailed,
                               detail: "the checkpoint file \(path) has the format '\(content.format)', not "
                                   + "'\(Self.format)'")
        }
        var checkpoints: [Int64: Int64] = [:]
        for (account, seconds) in content.accounts {
            guard let id = Int64(account) else {
                throw CatchUpError(code: .checkpointFailed,
                                   detail: "the checkpoint file \(path) names an account '\(account)' that is not an id")
            }
            checkpoints[id] = seconds
        }
        return checkpoints
    }
}
