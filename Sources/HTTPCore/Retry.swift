import Foundation

/// How often and how patiently a failed request is tried again.
///
/// Waits grow exponentially from ``baseDelay``, doubling per counted retry up to ``maxDelay``, plus up to
/// ``jitter`` of the wait added at random. A server's `Retry-After` wait is honoured up to ``maxRetryAfter`` and,
/// unless ``rateLimitWaitsCount`` is set, does not use up an attempt. Nothing is retried once ``totalDeadline``
/// has passed since the first failure. Out-of-range values are clamped when used: at least one attempt, delays
/// and deadlines not negative, jitter between 0 and 1.
public struct RetryPolicy: Sendable, Hashable {
    /// The most attempts that count against the limit, the first one included (11 = 1 try and 10 retries).
    public var maxAttempts: Int
    /// The wait before the first counted retry.
    public var baseDelay: Duration
    /// The longest wait between counted retries.
    public var maxDelay: Duration
    /// The largest random fraction of a wait added to it (0.1 adds up to 10%).
    public var jitter: Double
    /// How long after the first failure retrying stops altogether.
    public var totalDeadline: Duration
    /// The longest `Retry-After` wait honoured; a longer one is cut to this.
    public var maxRetryAfter: Duration
    /// Whether a wait requested with `Retry-After` uses up an attempt.
    public var rateLimitWaitsCount: Bool

    /// Creates a policy; the defaults are Segment's 2026 policy (see ``segment``).
    public init(
        maxAttempts: Int = 11,
        baseDelay: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(60),
        jitter: Double = 0.1,
        totalDeadline: Duration = .seconds(12 * 3600),
        maxRetryAfter: Duration = .seconds(300),
        rateLimitWaitsCount: Bool = false
    ) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.totalDeadline = totalDeadline
        self.maxRetryAfter = maxRetryAfter
        self.rateLimitWaitsCount = rateLimitWaitsCount
    }

    /// Segment's policy: 11 attempts, 0.5 s doubling to 60 s with up to 10% jitter, `Retry-After` honoured up to
    /// 300 s without counting, 12 hours in all.
    public static let segment = RetryPolicy()

    /// A single attempt, never retried.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The wait before counted retry number `retry` (1 for the first retry), with `unitRandom` in `0..<1`
    /// choosing the jitter.
    public func backoff(retry: Int, unitRandom: Double) -> Duration {
        let base = max(baseDelay.seconds, 0)
        let cap = max(maxDelay.seconds, 0)
        let exponent = Double(min(max(retry - 1, 0), 62))
        let raw = min(base * pow(2, exponent), cap)
        let fraction = min(max(jitter, 0), 1) * min(max(unitRandom, 0), 1)
        return .clampedSeconds(raw * (1 + fraction))
    }
}

/// What to do after a failed attempt, as decided by the client that knows its service.
public enum RetryVerdict: Sendable, Hashable {
    /// The failure is final: do not try again.
    case doNotRetry
    /// Try again after an exponential backoff wait; the attempt counts against the limit.
    case retry
    /// The server asked to wait this long (`Retry-After`); try again after it.
    case retryAfter(Duration)
}

/// One attempt about to be made, as seen by the operation.
public struct RetryAttempt: Sendable, Hashable {
    /// How many attempts were made before this one, rate-limited ones included (the `X-Retry-Count`).
    public var previousAttempts: Int
    /// How many earlier attempts counted against ``RetryPolicy/maxAttempts``.
    public var countedAttempts: Int
}

/// A wait between two attempts, reported to an observer.
public struct RetryWait: Sendable, Hashable {
    /// How long the retrier is about to wait.
    public var duration: Duration
    /// Whether the wait was requested by the server (`Retry-After`) rather than computed by backoff.
    public var isRequestedByServer: Bool
    /// The number of attempts made so far.
    public var attemptsSoFar: Int
}

/// Runs an operation under a ``RetryPolicy``: classify each failure, decide, wait through the injected clock, repeat.
///
/// The loop checks cancellation before every attempt and sleeps on an injected monotonic clock, so a cancelled task
/// stops waiting at once (with `CancellationError`) and tests run instantly with a manual clock.
public struct Retrier: Sendable {
    /// The policy in force.
    public var policy: RetryPolicy
    /// The source of jitter, returning values in `0..<1`.
    public var random: @Sendable () -> Double
    private let clock: MonotonicClock

    /// Creates a retrier.
    /// - Parameters:
    ///   - policy: attempts, backoff and deadline.
    ///   - clock: the monotonic clock that waits and measures the deadline; `ContinuousClock` by default.
    ///   - random: the source of jitter, values in `0..<1`.
    public init(
        policy: RetryPolicy,
        clock: any Clock<Duration> = ContinuousClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.init(policy: policy, monotonic: MonotonicClock(clock), random: random)
    }

    /// Creates a retrier on a clock that is already adopted.
    package init(policy: RetryPolicy, monotonic: MonotonicClock,
                 random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.policy = policy
        self.clock = monotonic
        self.random = random
    }

    /// Runs `operation` until it succeeds, `classify` says a failure is final, the attempts are used up or the
    /// deadline passes; then rethrows the last failure.
    ///
    /// - Parameters:
    ///   - isolation: the caller's actor, inherited so that the closures may use its state.
    ///   - classify: decides what a thrown error means.
    ///   - onWait: told about every wait before it starts (for metrics and logs).
    ///   - operation: one attempt; it learns how many attempts came before it.
    public func run<T>(
        isolation: isolated (any Actor)? = #isolation,
        classify: (any Error) -> RetryVerdict,
        onWait: ((RetryWait) -> Void)? = nil,
        operation: (RetryAttempt) async throws -> T
    ) async throws -> T {
        var attempt = RetryAttempt(previousAttempts: 0, countedAttempts: 0)
        var firstFailure: Duration?
        let maxAttempts = max(policy.maxAttempts, 1)
        while true {
            try Task.checkCancellation()
            do {
                return try await operation(attempt)
            } catch {
                if error is CancellationError { throw error }
                let verdict = classify(error)
                let failedAt = clock.now
                let started = firstFailure ?? failedAt
                firstFailure = started
                let wait: Duration
                let counts: Bool
                switch verdict {
                case .doNotRetry:
                    throw error
                case .retry:
                    wait = policy.backoff(retry: attempt.countedAttempts + 1, unitRandom: random())
                    counts = true
                case .retryAfter(let requested):
                    wait = min(max(requested, .zero), max(policy.maxRetryAfter, .zero))
                    counts = policy.rateLimitWaitsCount
                }
                let counted = attempt.countedAttempts + (counts ? 1 : 0)
                if counts && counted >= maxAttempts { throw error }
                let deadline = started + max(policy.totalDeadline, .zero)
                if failedAt + wait > deadline { throw error }
                onWait?(RetryWait(duration: wait, isRequestedByServer: verdict != .retry,
                                  attemptsSoFar: attempt.previousAttempts + 1))
                try await clock.sleep(for: wait)
                attempt = RetryAttempt(previousAttempts: attempt.previousAttempts + 1, countedAttempts: counted)
            }
        }
    }
}

/// Reads the `Retry-After` header: a number of seconds, or an HTTP date (RFC 9110 §10.2.3).
public enum RetryAfter {
    /// The wait a `Retry-After` value asks for, measured from `now`; `nil` when the value is not valid.
    ///
    /// A date in the past means no wait. Fractional seconds (sent by some servers) are accepted.
    public static func parse(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }),
           let seconds = Double(trimmed) {
            return .clampedSeconds(seconds)
        }
        guard let date = httpDate(trimmed) else { return nil }
        return .clampedSeconds(date.timeIntervalSince(now))
    }

    /// The wait asked for by the `Retry-After` header of `headers`, if present and valid.
    public static func from(_ headers: HTTPHeaders, now: Date) -> Duration? {
        headers["Retry-After"].flatMap { parse($0, now: now) }
    }

    /// Parses the three HTTP date forms: IMF-fixdate, RFC 850 and asctime.
    static func httpDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            let normalized = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            if let date = formatter.date(from: normalized) { return date }
        }
        return nil
    }
}
