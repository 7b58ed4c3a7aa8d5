import EventMapping
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The record format of `FileWebhookInbox`.
//
// A record file is three parts:
//
//     {"account":31234567,"attempts":0,"contentType":"...","id":"...","length":22,"received":1795000000000,"v":1}\n
//     <length bytes of raw body>\n
//     <40 lowercase hex digits: SHA-1 of the header line, its newline and the body>
//
// Header keys: `v` format version, `id`, `account` (Kommo account id), `received` (milliseconds since 1970),
// `contentType`, `attempts`, `lastFailure`, `notBefore` (ms), `deadReason` and `deadAt` (ms, dead letters only),
// `length` (body bytes). Absent optional keys are `null`-equivalent; unknown keys are ignored.
extension FileWebhookInbox {

    struct Header: Codable {
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

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1_000)
    }

    static func encode(_ record: InboxRecord, dead: (reason: String, at: Date)?) -> Data {
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

    /// What a record file holds.
    enum Loaded {
        /// The file does not exist (any more).
        case gone
        /// The file was torn or failed its checksum; it was moved to `corrupt/`.
        case corrupt
        /// A format version newer than ``InboxRecord/currentVersion``; the file was left in place.
        case newer(Int)
        /// The record (with its dead-letter reason and date when it is one).
        case letter(InboxDeadLetter)
    }

    /// Reads the file at `path`, moving it to `corrupt/` when it is not intact.
    func load(_ path: String) -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else { return .gone }
        switch Self.decode(data) {
        case .success(let letter): return .letter(letter)
        case .failure(let problem) where problem.code == .unsupportedVersion:
            return .newer(Int(problem.detail) ?? InboxRecord.currentVersion + 1)
        case .failure(let problem):
            moveAside(path, problem)
            return .corrupt
        }
    }

    /// The record at `path`; `nil` when it is gone or was corrupt (then moved aside).
    /// - Throws: ``InboxError/Code/unsupportedVersion`` when a newer release wrote it.
    func read(_ path: String) throws(InboxError) -> InboxRecord? {
        try readDead(path)?.record
    }

    /// The record or dead letter at `path`; `nil` when it is gone or was corrupt (then moved aside).
    /// - Throws: ``InboxError/Code/unsupportedVersion`` when a newer release wrote it.
    func readDead(_ path: String) throws(InboxError) -> InboxDeadLetter? {
        switch load(path) {
        case .gone, .corrupt: return nil
        case .letter(let letter): return letter
        case .newer(let version):
            let name = (path as NSString).lastPathComponent
            logger.log(.warning, "inbox record of a newer format left in place", [
                "record": name, "version": String(version), "supported": String(InboxRecord.currentVersion),
            ])
            throw InboxError(code: .unsupportedVersion, detail: "record \(name) has format version \(version), "
                                 + "newer than this release's \(InboxRecord.currentVersion); run a newer release")
        }
    }

    /// Only the format version, read before the rest so that a newer format's other keys cannot make it "corrupt".
    private struct VersionProbe: Decodable {
        var v: Int
    }

    /// The dead letter in `data`; a failure with code ``InboxError/Code/corrupt``, or with code
    /// ``InboxError/Code/unsupportedVersion`` and the version as its detail.
    static func decode(_ data: Data) -> Result<InboxDeadLetter, InboxError> {
        let bytes = [UInt8](data)
        func corrupt(_ detail: String) -> Result<InboxDeadLetter, InboxError> {
            .failure(InboxError(code: .corrupt, detail: detail))
        }
        guard let newline = bytes.firstIndex(of: 0x0A) else { return corrupt("no header line (a torn write)") }
        let headerData = Data(bytes[..<newline])
        if let probe = try? JSONDecoder().decode(VersionProbe.self, from: headerData),
           probe.v > InboxRecord.currentVersion {
            return .failure(InboxError(code: .unsupportedVersion, detail: String(probe.v)))
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: headerData)
        } catch {
            return corrupt("the header cannot be read")
        }
        guard header.length >= 0, header.length <= bytes.count else {
            return corrupt("the record is shorter than its header says (a torn write)")
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

    func moveAside(_ path: String, _ problem: InboxError) {
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
