import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let systemRead = Glibc.read
#else
private let systemRead = Darwin.read
#endif

/// The body of one webhook file.
struct WebhookFile {
    var name: String
    var body: Data
}

/// Why a webhook file could not be read.
struct FileReadError: Error, CustomStringConvertible {
    var name: String
    var reason: String

    var description: String { "\(name): \(reason)" }
}

/// Reads webhook files one at a time, each through a bounded read: a file (or standard input) larger than the limit
/// is refused after reading at most `limit + 1` bytes, so memory stays near the process's baseline.
struct WebhookFileReader {
    /// The largest body accepted, in bytes (the parser's limit).
    var limit: Int

    /// The file at `path`, or standard input for `-`.
    func read(_ path: String) throws(FileReadError) -> WebhookFile {
        let name = path == "-" ? "<stdin>" : path
        let descriptor: Int32
        if path == "-" {
            descriptor = STDIN_FILENO
        } else {
            descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else { throw FileReadError(name: name, reason: Self.reason(errno)) }
        }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }
        var info = stat()
        if fstat(descriptor, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { throw FileReadError(name: name, reason: "is a directory") }
            if (info.st_mode & S_IFMT) == S_IFREG && Int(info.st_size) > limit {
                throw FileReadError(name: name, reason: "has \(info.st_size) bytes, larger than the limit of "
                                        + "\(limit) bytes")
            }
        }
        var body = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in systemRead(descriptor, buffer.baseAddress, buffer.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileReadError(name: name, reason: Self.reason(errno))
            }
            if count == 0 { break }
            body.append(contentsOf: chunk[0..<count])
            if body.count > limit {
                throw FileReadError(name: name, reason: "is larger than the limit of \(limit) bytes; not read further")
            }
        }
        return WebhookFile(name: name, body: body)
    }

    private static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: "no such file"
        case EISDIR: "is a directory"
        case EACCES, EPERM: "permission denied"
        default: "cannot be read (\(String(cString: strerror(code))))"
        }
    }
}

/// The webhooks of a replay, in order: bodies already read (the demo's samples), then the files, each read only when
/// its turn comes.
struct WebhookFileQueue {
    var preRead: [WebhookFile]
    var paths: [String]
    let reader: WebhookFileReader

    /// The next webhook, or why it could not be read; `nil` at the end.
    mutating func next() -> Result<WebhookFile, FileReadError>? {
        if !preRead.isEmpty { return .success(preRead.removeFirst()) }
        guard !paths.isEmpty else { return nil }
        let path = paths.removeFirst()
        do {
            return .success(try reader.read(path))
        } catch {
            return .failure(error)
        }
    }
}
