/// Fetches entities by id for many concurrent callers at once: ids asked for while a fetch is running are
/// collected and fetched together in the next one, so the number of Kommo requests grows with the number of
/// distinct ids (divided by the client's ids per request), not with the number of webhooks in flight.
actor CoalescingFetcher<Entity: Sendable> {
    private struct Request {
        let ids: [Int64]
        let continuation: CheckedContinuation<[Int64: Entity], any Error>
    }

    private let load: @Sendable ([Int64]) async throws -> [Int64: Entity]
    private var waiting: [Request] = []
    private var running = false

    /// Creates a fetcher around a batch loader (which itself splits ids into requests of the allowed size).
    init(load: @escaping @Sendable ([Int64]) async throws -> [Int64: Entity]) {
        self.load = load
    }

    /// The entities found for `ids` (an id Kommo does not return is absent from the result).
    func fetch(_ ids: [Int64]) async throws -> [Int64: Entity] {
        guard !ids.isEmpty else { return [:] }
        return try await withCheckedThrowingContinuation { continuation in
            waiting.append(Request(ids: ids, continuation: continuation))
            if !running {
                running = true
                Task { await self.run() }
            }
        }
    }

    private func run() async {
        while !waiting.isEmpty {
            let round = waiting
            waiting.removeAll()
            var seen = Set<Int64>()
            let ids = round.flatMap(\.ids).filter { seen.insert($0).inserted }
            do {
                let found = try await load(ids)
                for request in round {
                    var subset: [Int64: Entity] = [:]
                    for id in request.ids { subset[id] = found[id] }
                    request.continuation.resume(returning: subset)
                }
            } catch {
                for request in round { request.continuation.resume(throwing: error) }
            }
        }
        running = false
    }
}
