import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPCore
import Testing
import KommoSegmentTesting

@Suite("URLSessionTransport over loopback TCP", .timeLimit(.minutes(1)))
struct URLSessionTransportTests {
    @Test("sends method, headers and body, and returns status, headers and body as received")
    func roundTrip() async throws {
        let server = try LoopbackHTTPServer { request in
            .init(status: 201, headers: [("X-Request-Id", "abc"), ("Content-Type", "application/json")],
                  body: Data("{\"echo\":\(request.body.count)}".utf8))
        }
        defer { server.stop() }
        let transport = URLSessionTransport()
        let url = server.baseURL.appendingPathComponent("v1/batch")
        let request = HTTPRequest(method: .post, url: url,
                                  headers: ["Content-Type": "application/json", "X-Retry-Count": "2"])
        let (response, body) = try await transport.send(request, body: Data("{\"a\":\"б😀\"}".utf8))
        #expect(response.status == 201)
        #expect(response.headers["x-request-id"] == "abc")
        #expect(String(decoding: body, as: UTF8.self) == "{\"echo\":14}")
        let received = try #require(server.requests.first)
        #expect(received.method == "POST")
        #expect(received.target == "/v1/batch")
        #expect(received.headers["Content-Type"] == "application/json")
        #expect(received.headers["X-Retry-Count"] == "2")
        #expect(String(decoding: received.body, as: UTF8.self) == "{\"a\":\"б😀\"}")
    }

    @Test("4xx and 5xx come back as responses, not errors")
    func errorStatuses() async throws {
        let server = try LoopbackHTTPServer { _ in .json("{\"code\":\"bad\"}", status: 503) }
        defer { server.stop() }
        let (response, body) = try await URLSessionTransport().send(HTTPRequest(method: .get, url: server.baseURL),
                                                                    body: nil)
        #expect(response.status == 503)
        #expect(String(decoding: body, as: UTF8.self) == "{\"code\":\"bad\"}")
    }

    @Test("a redirect is refused and never followed to the other host")
    func redirectRefused() async throws {
        let target = try LoopbackHTTPServer { _ in .init(status: 200) }
        defer { target.stop() }
        let server = try LoopbackHTTPServer { _ in
            .init(status: 302, headers: [("Location", target.baseURL.absoluteString + "/stolen")])
        }
        defer { server.stop() }
        let request = HTTPRequest(method: .post, url: server.baseURL, headers: ["Authorization": "Basic eDo="])
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await URLSessionTransport().send(request, body: Data("{}".utf8))
        }
        #expect(error?.code == .redirectRefused)
        #expect(error?.status == 302)
        #expect(target.requests.isEmpty)
    }

    @Test("the total deadline is enforced against a server that never answers")
    func deadline() async throws {
        let server = try LoopbackHTTPServer { _ in .init(hangs: true) }
        defer { server.stop() }
        let request = HTTPRequest(method: .get, url: server.baseURL, timeout: .milliseconds(300))
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await URLSessionTransport().send(request, body: nil)
        }
        #expect(error?.code == .timedOut)
        #expect(error?.isTransient == true)
    }

    @Test("a deadline under a second still lets a prompt answer through")
    func subSecondDeadline() async throws {
        let server = try LoopbackHTTPServer { _ in .json(#"{"ok":true}"#) }
        defer { server.stop() }
        let transport = URLSessionTransport()
        for _ in 0..<3 {
            let request = HTTPRequest(method: .get, url: server.baseURL, timeout: .milliseconds(500))
            let (response, body) = try await transport.send(request, body: nil)
            #expect(response.status == 200)
            #expect(String(decoding: body, as: UTF8.self) == #"{"ok":true}"#)
        }
        #expect(server.requests.count == 3)
    }

    @Test("a connection reset before the answer is a transient connection failure")
    func connectionReset() async throws {
        let server = try LoopbackHTTPServer { _ in .connectionReset }
        defer { server.stop() }
        let request = HTTPRequest(method: .post, url: server.baseURL, timeout: .seconds(5))
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await URLSessionTransport().send(request, body: Data("{}".utf8))
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isTransient == true)
        #expect(server.requests.count == 1)
    }

    @Test("a refused connection is a transient connection failure")
    func connectionRefused() async throws {
        let refusing = try LoopbackHTTPServer.RefusingPort()
        let url = refusing.url
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await URLSessionTransport().send(HTTPRequest(method: .get, url: url, timeout: .seconds(5)),
                                                     body: nil)
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isTransient == true)
        // The cause is the platform's URLError, stripped of its user info (the failing URL).
        let cause = try #require(error?.underlyingError as? URLError)
        #expect(cause.failingURL == nil)
        withExtendedLifetime(refusing) {}
    }
}
