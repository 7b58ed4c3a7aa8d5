import Foundation
import KommoSegment
import Synchronization

/// Holds the first request until released.
final class HoldFirstRequest: Sendable {
    private let state = Mutex<(held: Bool, released: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, false, []))
    func hold() async {
        await withCheckedContinuation { continuation in
            let proceed = state.withLock { s -> Bool in
                if s.held || s.released { return true }
                s.held = true
                s.waiters.append(continuation)
                return false
            }
            if proceed { continuation.resume() }
        }
    }
    func waitUntilHeld() async {
        while !state.withLock({ $0.held }) { await Task.yield() }
    }
    func release() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.released = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A transport that holds the first leads request at the gate.
struct GatedTransport: HTTPTransport {
    let wrapped: any HTTPTransport
    let gate: HoldFirstRequest
    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        if request.url.path == "/api/v4/leads" { await gate.hold() }
        return try await wrapped.send(request, body: body)
    }
}
