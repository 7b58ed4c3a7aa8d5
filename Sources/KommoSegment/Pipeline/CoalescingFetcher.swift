/// Fetches entities by id for many concurrent callers at once: ids asked for while a round gathers or fetches are
/// collected and fetched together in the next one, so the number of Kommo requests grows with the number of
/// distinct ids (divided by the client's ids per request), not with the number of webhooks in flight.
///
/// No background task: the caller that finds the fetcher idle leads a round on its own task. The leader first
/// gathers (it waits until the other webhooks of the burst have asked, and until the rate limiter would let the
/// request start), then takes every id asked for so far; when the round ends and more callers wait, the first of
/// them leads the next round.
actor CoalescingFetcher<Entity: Sendable> {
    private enum Answer {
        case found([Int64: Entity])
        case lead
    }

    private struct Request {
        let ids: [Int64]
        let continuation: CheckedContinuation<Answer, any Error>
    }

    private let asked: @Sendable () -> Void
    private let gather: @Sendable () async -> Void
    private let load: @Sendable ([Int64]) async throws -> [Int64: Entity]
    private var waiting: [Request] = []
    private var running = false

    /// Creates a fetcher around a batch loader (which itself splits ids into requests of the allowed size).
    /// - Parameters:
    ///   - asked: called as each caller's request is queued (or, without ids, answered at once).
    ///   - gather: what a round's leader waits for before it takes the ids asked for.
    ///   - load: reads the entities of the ids.
    init(asked: @escaping @Sendable () -> Void = {}, gather: @escaping @Sendable () async -> Void = {},
         load: @escaping @Sendable ([Int64]) async throws -> [Int64: Entity]) {
        self.asked = asked
        self.gather = gather
        self.load = load
    }

    /// The entities found for `ids` (an id Kommo does not return is absent from the result).
    func fetch(_ ids: [Int64]) async throws -> [Int64: Entity] {
        guard !ids.isEmpty else {
            asked()
            return [:]
        }
        let leads = !running
        running = true
        let answer = try await withCheckedThrowingContinuation { continuation in
            waiting.append(Request(ids: ids, continuation: continuation))
            asked()
            if leads { waiting.removeFirst().continuation.resume(returning: .lead) }
        }
        switch answer {
        case .found(let entities):
            return entities
        case .lead:
            return try await leadRound(own: ids)
        }
    }

    /// Fetches the ids of every waiting caller and this one together, answers them, and hands over the lead.
    private func leadRound(own ids: [Int64]) async throws -> [Int64: Entity] {
        await gather()
        let round = waiting
        waiting.removeAll()
        var seen = Set<Int64>()
        let all = (ids + round.flatMap(\.ids)).filter { seen.insert($0).inserted }
        let outcome: Result<[Int64: Entity], any Error>
        do {
            outcome = .success(try await load(all))
        } catch {
            outcome = .failure(error)
        }
        for request in round {
            switch outcome {
            case .success(let found): request.continuation.resume(returning: .found(Self.subset(found, request.ids)))
            case .failure(let error): request.continuation.resume(throwing: error)
            }
        }
        if waiting.isEmpty {
            running = false
        } else {
            waiting.removeFirst().continuation.resume(returning: .lead)
        }
        return try Self.subset(outcome.get(), ids)
    }

    private static func subset(_ found: [Int64: Entity], _ ids: [Int64]) -> [Int64: Entity] {
        var subset: [Int64: Entity] = [:]
        for id in ids { subset[id] = found[id] }
        return subset
    }
}
