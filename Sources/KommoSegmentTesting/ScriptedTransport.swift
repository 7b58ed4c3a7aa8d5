import Foundation
import HTTPCore

/// A request as the scripted transport received it.
public struct RecordedRequest: Sendable {
    /// Creates a record (for custom transports that want to report requests the same way).
    public init(request: HTTPRequest, body: Data?) {
        self.request = request
        self.body = body
    }

    /// The request head.
    public var request: HTTPRequest
    /// The body, if any.
    public var body: Data?
    /// The body decoded as a JSON object, or `nil`.
    public var jsonBody: Any? { body.flatMap { try? JSONSerialization.jsonObject(with: $0) } }
}

/// A transport that answers from a script, records every request, and fails on any request nobody scripted.
public final class ScriptedTransport: HTTPTransport {
    /// One scripted answer.
    public enum Answer: Sendable {
        /// Respond with a status, headers and a body.
        case respond(status: Int, headers: HTTPHeaders = [:], body: Data = Data())
        /// Throw this error instead of responding.
        case fail(HTTPTransportError)
    }

    /// The error thrown for a request the script did not expect.
    public struct UnscriptedRequest: Error, Sendable, CustomStringConvertible {
        /// The request that nobody scripted (method and URL, never headers).
        public var description: String
    }

    private struct State {
        var answers: [Answer]
        var fallback: (@Sendable (HTTPRequest, Data?) -> Answer)?
        var log: [RecordedRequest] = []
    }
    private let state: Locked<State>

    /// Creates a transport that gives `answers` in order, then `fallback` (if any) for every later request.
    public init(_ answers: [Answer] = [], fallback: (@Sendable (HTTPRequest, Data?) -> Answer)? = nil) {
        state = Locked(State(answers: answers, fallback: fallback))
    }

    /// Adds answers to the end of the script.
    public func enqueue(_ answers: Answer...) { state.withLock { $0.answers.append(contentsOf: answers) } }

    /// Every request received so far, in order.
    public var requests: [RecordedRequest] { state.withLock { $0.log } }

    /// Records the request and answers with the next scripted answer, else the fallback; throws
    /// ``UnscriptedRequest`` when there is neither.
    public func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        let answer: Answer? = state.withLock { s in
            s.log.append(RecordedRequest(request: request, body: body))
            if !s.answers.isEmpty { return s.answers.removeFirst() }
            return s.fallback?(request, body)
        }
        switch answer {
        case .respond(let status, let headers, let body)?:
            return (HTTPResponse(status: status, headers: headers), body)
        case .fail(let error)?:
            throw error
        case nil:
            throw UnscriptedRequest(description: "unscripted request: \(request)")
        }
    }
}
