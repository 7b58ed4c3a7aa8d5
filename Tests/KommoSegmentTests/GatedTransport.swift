import Foundation
import KommoSegmentTesting
import KommoSegment

/// Holds the first request until released; signals when it holds one.
final class HoldFirstRequest: Sendable {
    private struct State {
        var held = false
        var released = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var heldWatchers: [CheckedContinuation<Void, Never>] = []
    }

    private let state = LockedValue(State())

    func hold() async {
        await withCheckedContinuation { continuation in
            let (proceed, watchers) = state.withLock { s -> (Bool, [CheckedContinuation<Void, Never>]) in
                if s.held || s.released { return (true, []) }
                s.held = true
                s.waiters.append(continuation)
                defer { s.heldWatchers.removeAll() }
                return (false, s.heldWatchers)
            }
            for watcher in watchers { watcher.resume() }
            if proceed { continuation.resume() }
        }
    }

    /// Returns once a request is held.
    func waitUntilHeld() async {
        await withCheckedContinuation { continuation in
            let held = state.withLock { s -> Bool in
                if s.held { return true }
                s.heldWatchers.append(continuation)
                return false
            }
            if held { continuation.resume() }
        }
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
