import Foundation
import HTTPCore
import Testing
import KommoSegmentTesting

@Suite("HTTP headers", .timeLimit(.minutes(1)))
struct HTTPHeadersTests {
    @Test("lookups ignore case and setting replaces every field of the name")
    func caseInsensitive() {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-A": "1"]
        headers.append(name: "x-a", value: "2")
        #expect(headers["content-type"] == "application/json")
        #expect(headers.values(for: "X-A") == ["1", "2"])
        headers["X-a"] = "3"
        #expect(headers.values(for: "x-A") == ["3"])
        headers["Content-Type"] = nil
        #expect(headers["Content-Type"] == nil)
        #expect(headers.count == 1)
    }

    @Test("description shows names only, never values")
    func descriptionHidesValues() {
        let headers: HTTPHeaders = ["Authorization": "Basic c2VjcmV0Og=="]
        #expect(headers.description == "[Authorization]")
        #expect(!"\(headers)".contains("c2VjcmV0"))
    }

    @Test("a request's description drops the query and user info")
    func requestDescription() throws {
        let url = try #require(URL(string: "https://user:pw@acme.kommo.com/api/v4/leads?filter[id][]=1"))
        #expect(HTTPRequest(method: .get, url: url).description == "GET https://acme.kommo.com/api/v4/leads")
    }
}

@Suite("Retry policy", .timeLimit(.minutes(1)))
struct RetryPolicyTests {
    @Test("backoff doubles from 0.5 s and is capped at 60 s", arguments: [
        (1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (7, 32.0), (8, 60.0), (10, 60.0), (100, 60.0),
    ])
    func backoff(retry: Int, seconds: Double) {
        #expect(RetryPolicy.segment.backoff(retry: retry, unitRandom: 0) == .milliseconds(Int64(seconds * 1000)))
    }

    @Test("jitter adds at most 10 percent")
    func jitter() {
        #expect(RetryPolicy.segment.backoff(retry: 1, unitRandom: 0.999_999) == .milliseconds(549))
        #expect(RetryPolicy.segment.backoff(retry: 8, unitRandom: 0.5) == .seconds(63))
    }

    @Test("Retry-After as seconds, HTTP dates in all three forms, and garbage")
    func retryAfter() {
        let now = Date(timeIntervalSince1970: 784_111_717)  // Sun, 06 Nov 1994 08:48:37 GMT
        #expect(RetryAfter.parse("120", now: now) == .seconds(120))
        #expect(RetryAfter.parse(" 1.5 ", now: now) == .milliseconds(1500))
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .seconds(60))
        #expect(RetryAfter.parse("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == .seconds(60))
        #expect(RetryAfter.parse("Sun Nov  6 08:49:37 1994", now: now) == .seconds(60))
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero)
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.parse("-5", now: now) == nil)
        #expect(RetryAfter.parse("", now: now) == nil)
        #expect(RetryAfter.from(["retry-after": "7"], now: now) == .seconds(7))
    }
}

private struct Failure: Error, Equatable { var code: Int }

@Suite("Retrier", .timeLimit(.minutes(1)))
struct RetrierTests {
    private func classify(_ error: any Error) -> RetryVerdict {
        guard let failure = error as? Failure else { return .doNotRetry }
        switch failure.code {
        case 429: return .retryAfter(.seconds(30))
        case 999: return .retryAfter(.seconds(1000))
        case 500: return .retry
        default: return .doNotRetry
        }
    }

    @Test("retries a transient failure with growing waits, then succeeds")
    func retriesThenSucceeds() async throws {
        let clock = ImmediateClock()
        let retrier = Retrier(policy: .segment, clock: clock, random: { 0 })
        let seen = Counter()
        let value = try await retrier.run(classify: classify) { attempt in
            seen.append(attempt.previousAttempts)
            if attempt.previousAttempts < 3 { throw Failure(code: 500) }
            return "ok"
        }
        #expect(value == "ok")
        #expect(seen.values == [0, 1, 2, 3])
        #expect(clock.sleeps == [.milliseconds(500), .seconds(1), .seconds(2)])
    }

    @Test("gives up after 11 counted attempts and rethrows the last failure")
    func givesUp() async {
        let clock = ImmediateClock()
        let retrier = Retrier(policy: .segment, clock: clock, random: { 0 })
        let seen = Counter()
        await #expect(throws: Failure(code: 500)) {
            _ = try await retrier.run(classify: classify) { attempt -> Int in
                seen.append(attempt.previousAttempts)
                throw Failure(code: 500)
            }
        }
        #expect(seen.values.count == 11)
        #expect(clock.sleeps.count == 10)
    }

    @Test("a Retry-After wait does not use up an attempt but is counted in previousAttempts")
    func retryAfterIsNotCounted() async throws {
        let clock = ImmediateClock()
        let retrier = Retrier(policy: RetryPolicy(maxAttempts: 2), clock: clock, random: { 0 })
        let seen = Counter()
        let value = try await retrier.run(classify: classify) { attempt -> Int in
            seen.append(attempt.previousAttempts)
            switch attempt.previousAttempts {
            case 0, 1, 2: throw Failure(code: 429)
            case 3: throw Failure(code: 500)
            default: return attempt.countedAttempts
            }
        }
        #expect(value == 1)
        #expect(seen.values == [0, 1, 2, 3, 4])
        #expect(clock.sleeps == [.seconds(30), .seconds(30), .seconds(30), .milliseconds(500)])
    }

    @Test("Retry-After is capped at 300 seconds")
    func retryAfterCap() async throws {
        let clock = ImmediateClock()
        let retrier = Retrier(policy: .segment, clock: clock, random: { 0 })
        _ = try await retrier.run(classify: classify) { attempt -> Int in
            if attempt.previousAttempts == 0 { throw Failure(code: 999) }
            return 1
        }
        #expect(clock.sleeps == [.seconds(300)])
    }

    @Test("a final failure is not retried")
    func final() async {
        let clock = ImmediateClock()
        let retrier = Retrier(policy: .segment, clock: clock)
        let seen = Counter()
        await #expect(throws: Failure(code: 400)) {
            _ = try await retrier.run(classify: classify) { attempt -> Int in
                seen.append(attempt.previousAttempts)
                throw Failure(code: 400)
            }
        }
        #expect(seen.values == [0])
        #expect(clock.sleeps.isEmpty)
    }

    @Test("stops when the next wait would pass the total deadline")
    func deadline() async {
        let clock = ImmediateClock()
        let policy = RetryPolicy(totalDeadline: .seconds(65))
        let retrier = Retrier(policy: policy, clock: clock, random: { 0 })
        let seen = Counter()
        await #expect(throws: Failure(code: 429)) {
            _ = try await retrier.run(classify: classify) { attempt -> Int in
                seen.append(attempt.previousAttempts)
                throw Failure(code: 429)
            }
        }
        // Waits of 30 s each: after two (60 s) the third would end at 90 s, past the 65 s deadline.
        #expect(clock.sleeps == [.seconds(30), .seconds(30)])
        #expect(seen.values.count == 3)
    }

    @Test("cancellation interrupts a wait")
    func cancellation() async {
        let clock = ManualClock()
        let retrier = Retrier(policy: .segment, clock: clock, random: { 0 })
        let task = Task {
            try await retrier.run(classify: { _ in .retry }) { _ -> Int in throw Failure(code: 500) }
        }
        await clock.waitForSleepers(1)
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }
}

/// A thread-safe list of integers for recording from `@Sendable` closures.
final class Counter: Sendable {
    private let storage = LockedValue<[Int]>([])
    func append(_ value: Int) { storage.withLock { $0.append(value) } }
    var values: [Int] { storage.withLock { $0 } }
}

@Suite("The package's lock", .timeLimit(.minutes(1)))
struct LockedTests {
    @Test("8 tasks each adding 10,000 times under the lock lose no update; a throwing body releases the lock")
    func contention() async throws {
        let total = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for _ in 0..<10_000 { total.withLock { $0 += 1 } } }
            }
        }
        #expect(total.withLock { $0 } == 80_000)

        struct Refused: Error {}
        #expect(throws: Refused.self) { try total.withLock { (_: inout Int) throws(Refused) in throw Refused() } }
        #expect(total.withLock { value -> Int in value += 1; return value } == 80_001)
    }
}
