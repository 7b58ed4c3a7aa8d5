import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `kommo-segment-server`, run as a child process on an ephemeral port.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` is configured before run() and then only read; the files are written by the child.
    let process = Process()
    let directory: URL
    private(set) var port: Int
    private let errURL: URL
    private let outURL: URL

    /// The executable, next to the test bundle (`.build/<config>/kommo-segment-server`).
    static let executable = BuiltProducts.executable(named: "kommo-segment-server")

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Starts the server with `environment` (plus PATH, HOME, HOST=127.0.0.1, PORT=0) in `directory`, and waits
    /// until it listens.
    convenience init(environment: [String: String], arguments: [String] = [], directory: URL) async throws {
        try self.init(launching: arguments, environment: environment, directory: directory)
        var found: Int?
        let deadline = ContinuousClock.now + .seconds(60)
        while found == nil && ContinuousClock.now < deadline && process.isRunning {
            try await Task.sleep(for: .milliseconds(50))
            found = Self.listeningPort(in: stderr)
        }
        guard let found else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw Failure(description: "the server did not listen; its stderr:\n\(stderr)")
        }
        port = found
    }

    /// Starts the executable without waiting for anything.
    private init(launching arguments: [String], environment: [String: String], directory: URL) throws {
        guard let executable = Self.executable else {
            throw Failure(description: "kommo-segment-server was not found next to the test bundle; run "
                + "`swift build --package-path Server --build-tests` first")
        }
        self.directory = directory
        port = 0
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let stamp = UUID().uuidString
        errURL = directory.appendingPathComponent("stderr-\(stamp)")
        outURL = directory.appendingPathComponent("stdout-\(stamp)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var base = ["HOST": "127.0.0.1", "PORT": "0"]
        for name in ["PATH", "HOME", "TMPDIR"] { base[name] = ProcessInfo.processInfo.environment[name] }
        process.environment = base.merging(environment) { _, given in given }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
    }

    private static func listeningPort(in text: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains("listening on 127.0.0.1:") }),
              let colon = line.lastIndex(of: ":") else { return nil }
        return Int(line[line.index(after: colon)...])
    }

    /// What the server wrote on standard error so far.
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }
    /// What the server wrote on standard output so far.
    var stdout: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }

    /// `http://127.0.0.1:<port><path>`.
    func url(_ path: String) throws -> URL {
        guard let url = URL(string: "http://127.0.0.1:\(port)\(path)") else { throw Failure(description: path) }
        return url
    }

    /// Sends a request; returns the status and the body.
    func request(_ method: String, _ path: String, body: Data? = nil,
                 contentType: String? = "application/x-www-form-urlencoded") async throws -> (Int, String) {
        var headers = HTTPHeaders()
        if body != nil, let contentType { headers.append(name: "Content-Type", value: contentType) }
        let (response, data) = try await URLSessionTransport().send(
            HTTPRequest(method: HTTPMethod(rawValue: method), url: try url(path), headers: headers,
                        timeout: .seconds(30)), body: body)
        return (response.status, String(decoding: data, as: UTF8.self))
    }

    /// Posts a sample webhook with `secret`; returns the status.
    func postWebhook(_ body: Data, secret: String?) async throws -> Int {
        try await request("POST", "/kommo/webhook" + (secret.map { "?secret=\($0)" } ?? ""), body: body).0
    }

    /// Sends a signal and waits (up to `timeout`) for the process to exit; returns its status.
    func signal(_ number: Int32, timeout: Duration = .seconds(60)) async throws -> Int32 {
        kill(process.processIdentifier, number)
        return try await waitForExit(timeout: timeout)
    }

    /// Waits for the process to exit; returns its status.
    /// The `/metrics` text once `predicate` holds for it, or the last one read when `timeout` has passed: delivery
    /// reaches Segment a moment before the webhook's inbox record is settled and counted.
    func metrics(timeout: Duration = .seconds(30), until predicate: (String) -> Bool) async throws -> (Int, String) {
        let deadline = ContinuousClock.now + timeout
        var answer = try await request("GET", "/metrics")
        while !predicate(answer.1) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            answer = try await request("GET", "/metrics")
        }
        return answer
    }

    func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw Failure(description: "the server did not exit within \(timeout); its stderr:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    /// Runs the executable to its end (for `check` and configuration mistakes); returns status and output.
    static func runToEnd(_ arguments: [String], environment: [String: String], directory: URL) async throws
    -> (status: Int32, stdout: String, stderr: String) {
        let child = try ServerProcess(launching: arguments, environment: environment, directory: directory)
        let status = try await child.waitForExit(timeout: .seconds(60))
        return (status, child.stdout, child.stderr)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A Segment fake on loopback: answers every batch 200 and keeps the message ids it received.
final class SegmentFake: Sendable {
    let server: LoopbackHTTPServer

    init(status: Int = 200) throws {
        server = try LoopbackHTTPServer { _ in .json(#"{"success":true}"#, status: status) }
    }

    /// The message ids of every batch received, in order.
    var messageIDs: [String] { server.requests.flatMap { Self.messageIDs(in: $0.body) } }

    /// The message ids of one `/v1/batch` body.
    static func messageIDs(in body: Data) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let batch = object["batch"] as? [[String: Any]] else { return [] }
        return batch.compactMap { $0["messageId"] as? String }
    }

    /// Waits until `predicate` holds for the ids received, or `timeout` passes; returns the ids.
    func waitForMessages(timeout: Duration = .seconds(45), until predicate: ([String]) -> Bool) async throws
    -> [String] {
        let deadline = ContinuousClock.now + timeout
        while !predicate(messageIDs) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        return messageIDs
    }
}

/// Sends a raw HTTP/1.1 request (`head` then `body` in pieces) over TCP and returns the status of the answer; the
/// server may answer, and close, before the body is all sent.
func rawHTTPStatus(port: Int, head: String, body: [UInt8], chunkSize: Int = 65_536) throws -> Int? {
    guard let fd = connectLoopback(port: port) else { return nil }
    defer { close(fd) }
    _ = sendAll(fd, Array(head.utf8))
    var offset = 0
    while offset < body.count, sendAll(fd, Array(body[offset..<min(offset + chunkSize, body.count)])) {
        offset += chunkSize
    }
    shutdown(fd, Int32(SHUT_WR))
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4_096)
    while !received.contains(0x0A) {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        received += buffer[0..<n]
    }
    return statusCode(in: received)
}

/// The status code of an HTTP/1.1 response's first line.
private func statusCode(in response: [UInt8]) -> Int? {
    let line = String(decoding: response, as: UTF8.self).split(separator: "\r\n").first ?? ""
    let parts = line.split(separator: " ")
    return parts.count >= 2 ? Int(parts[1]) : nil
}

/// A TCP connection to 127.0.0.1:`port`, with Nagle's algorithm off; `nil` when it cannot connect.
func connectLoopback(port: Int) -> Int32? {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        close(fd)
        return nil
    }
    var one: Int32 = 1
    _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

/// Writes all of `bytes` to `fd`; `false` when the peer is gone.
func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent <= 0 { return false }
        offset += sent
    }
    return true
}

/// A blocking, kept-alive HTTP/1.1 connection to the server on loopback: the load test's client, so that what it
/// measures is the server and the kernel rather than an HTTP client library's scheduling.
final class KeepAliveConnection {
    private let port: Int
    private var fd: Int32?

    init(port: Int) { self.port = port }

    deinit { if let fd { close(fd) } }

    /// POSTs `body` to `target` and reads the whole answer; the status, or `nil` when no answer came (the
    /// connection is then opened again for the next request).
    func post(_ target: String, body: [UInt8], contentType: String) -> Int? {
        if fd == nil { fd = connectLoopback(port: port) }
        guard let fd else { return nil }
        let head = "POST \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.count)\r\n\r\n"
        guard sendAll(fd, Array(head.utf8) + body), let status = readResponse(fd) else {
            close(fd)
            self.fd = nil
            return nil
        }
        return status
    }

    /// Reads one response whose body has a `Content-Length` (the server's answers do).
    private func readResponse(_ fd: Int32) -> Int? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        var expected = Int.max
        while received.count < expected {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return nil }
            received += buffer[0..<n]
            if headEnd == nil, let end = received.indices.dropLast(3).first(where: {
                received[$0..<$0 + 4].elementsEqual(separator)
            }) {
                headEnd = end + 4
                let head = String(decoding: received[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                expected = end + 4 + length
            }
        }
        return statusCode(in: received)
    }
}

/// The most of `dates` in any one-second window.
func busiestSecond(_ dates: [Date]) -> Int {
    guard let first = dates.min() else { return 0 }
    let origin = ContinuousClock.now
    let times = dates.map { origin + .microseconds(Int64(($0.timeIntervalSince(first) * 1_000_000).rounded())) }
    return RateLimitedKommoServer.busiestSecond(times)
}
