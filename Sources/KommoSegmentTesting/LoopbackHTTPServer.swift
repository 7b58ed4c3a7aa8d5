import Foundation
import HTTPCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 server on 127.0.0.1 for tests over real TCP.
///
/// It listens on a free port, answers each request with the handler's response and closes the connection.
public final class LoopbackHTTPServer: Sendable {
    /// A request as received on the wire.
    public struct Request: Sendable {
        /// The method, for example `POST`.
        public var method: String
        /// The request target: path and query as sent.
        public var target: String
        /// The header fields as received.
        public var headers: HTTPHeaders
        /// The body bytes.
        public var body: Data

        /// Creates a request, to call a handler (or ``KommoFixtureTransport/respond(to:)``) directly.
        public init(method: String, target: String, headers: HTTPHeaders = [:], body: Data = Data()) {
            self.method = method
            self.target = target
            self.headers = headers
            self.body = body
        }
    }

    /// What the server answers.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// Header fields to send (Content-Length and Connection are added).
        public var headers: [(String, String)]
        /// The body.
        public var body: Data
        /// Whether to accept the request and never answer (to test deadlines).
        public var hangs: Bool
        /// Whether to read the request and reset the connection (a TCP RST) instead of answering.
        public var resetsConnection: Bool

        /// Creates a response.
        public init(status: Int = 200, headers: [(String, String)] = [], body: Data = Data(), hangs: Bool = false,
                    resetsConnection: Bool = false) {
            self.status = status
            self.headers = headers
            self.body = body
            self.hangs = hangs
            self.resetsConnection = resetsConnection
        }

        /// Reads the request and never answers, until the peer or ``LoopbackHTTPServer/stop()`` closes the
        /// connection.
        public static var hang: Response { Response(hangs: true) }

        /// Reads the request and resets the connection without answering, as a crashed server or proxy does.
        public static var connectionReset: Response { Response(resetsConnection: true) }

        /// A JSON response.
        public static func json(_ text: String, status: Int = 200) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")], body: Data(text.utf8))
        }
    }

    /// The error thrown when the server (or a ``RefusingPort``) cannot start.
    public struct StartError: Error, Sendable, CustomStringConvertible {
        /// The step that failed: `socket`, `bind`, `listen` or `url`.
        public var step: String
        /// The `errno` of the failed call (0 for `url`).
        public var code: Int32
        /// The failed step and its error number.
        public var description: String { "loopback server: \(step) failed (errno \(code))" }
    }

    /// The port the server listens on.
    public let port: UInt16
    private let listener: Int32
    private let state: Locked<(stopped: Bool, requests: [Request], open: [Int32])>
    private let handler: @Sendable (Request) -> Response

    /// The base URL, `http://127.0.0.1:<port>`.
    public let baseURL: URL

    /// Every request received so far.
    public var requests: [Request] { state.withLock { $0.requests } }

    /// Starts a server that answers with `handler`.
    public init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        state = Locked((false, [], []))
        let (fd, boundPort) = try Self.bindLoopbackSocket(reuseAddress: true)
        guard listen(fd, 64) == 0 else { close(fd); throw StartError(step: "listen", code: errno) }
        port = boundPort
        guard let url = Self.loopbackURL(port: port) else { close(fd); throw StartError(step: "url", code: 0) }
        baseURL = url
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// A port on 127.0.0.1 that refuses connections: bound (so no other test can take it) but not listening.
    /// Keep the returned value alive while the port is used; it releases the port when it goes away.
    public final class RefusingPort: Sendable {
        /// The port number.
        public let port: UInt16
        private let fd: Int32

        /// Binds a socket to a free port without listening on it.
        public init() throws {
            let (fd, boundPort) = try LoopbackHTTPServer.bindLoopbackSocket(reuseAddress: false)
            self.fd = fd
            port = boundPort
            guard let url = LoopbackHTTPServer.loopbackURL(port: port) else {
                close(fd)
                throw StartError(step: "url", code: 0)
            }
            self.url = url
        }

        deinit { close(fd) }

        /// `http://127.0.0.1:<port>`.
        public let url: URL
    }

    /// A TCP socket bound to a free port on 127.0.0.1, not yet listening.
    static func bindLoopbackSocket(reuseAddress: Bool) throws -> (fd: Int32, port: UInt16) {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw StartError(step: "socket", code: errno) }
        if reuseAddress {
            var yes: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { close(fd); throw StartError(step: "bind", code: errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// `http://127.0.0.1:<port>`, built without force unwrapping.
    static func loopbackURL(port: UInt16) -> URL? {
        var components = URLComponents()
        components.scheme = "http"
        components.host = "127.0.0.1"
        components.port = Int(port)
        return components.url
    }

    /// Stops listening and closes every open connection.
    public func stop() {
        // Shut down, never close, descriptors that another thread may still use: a closed number is soon reused by
        // another socket of the process (another test's server or connection), which the still-running thread
        // would then read, write, accept on or close. Each serving thread closes its own connection after taking
        // it out of `open`, and the shutdowns happen under the same lock, so none reaches a closed number.
        let first: Bool = state.withLock { s in
            if s.stopped { return false }
            s.stopped = true
            for fd in s.open { shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        #if !canImport(Glibc)
        // Darwin's accept does not return on shutdown of a listening socket; only closing it wakes the loop.
        close(listener)
        #endif
    }

    private func acceptLoop() {
        #if canImport(Glibc)
        // The listener is closed here, by the only thread that accepts on it, once stop() has shut it down.
        defer { close(listener) }
        #endif
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if state.withLock({ $0.stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            let accepted: Bool = state.withLock { s in
                if s.stopped { return false }
                s.open.append(client)
                return true
            }
            guard accepted else { close(client); return }
            let thread = Thread { [self] in serve(client) }
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            state.withLock { s in
                if let index = s.open.firstIndex(of: fd) { s.open.remove(at: index) }
            }
            close(fd)
        }
        guard let request = readRequest(fd) else { return }
        state.withLock { $0.requests.append(request) }
        let response = handler(request)
        if response.hangs {
            var byte: UInt8 = 0
            _ = recv(fd, &byte, 1, 0)  // returns when the peer or stop() closes the connection
            return
        }
        if response.resetsConnection {
            // A zero linger time makes the close in `defer` send RST instead of FIN.
            var option = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
            return
        }
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Data(head.utf8)
        bytes.append(response.body)
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let sent = send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent <= 0 { return }
                offset += sent
            }
        }
    }

    private func readRequest(_ fd: Int32) -> Request? {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var headerEnd: Int?
        while headerEnd == nil {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
            headerEnd = Self.find([13, 10, 13, 10], in: buffer)
            if buffer.count > 1 << 20 && headerEnd == nil { return nil }
        }
        guard let end = headerEnd,
              let headText = String(bytes: buffer[0..<end], encoding: .utf8) else { return nil }
        var lines = headText.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers = HTTPHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(name: String(line[..<colon]),
                           value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = Int(headers["Content-Length"] ?? "0") ?? 0
        var body = Array(buffer[(end + 4)...])
        while body.count < length {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            body.append(contentsOf: chunk[0..<n])
        }
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers,
                       body: Data(body.prefix(length)))
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 302: "Found"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 413: "Payload Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
