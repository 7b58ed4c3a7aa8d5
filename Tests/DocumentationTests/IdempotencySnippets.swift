// The ```swift blocks of Documentation/Idempotency.md, compiled; the first runs as a test. GuideSnippetTests checks
// that each block appears here verbatim: edit both together.

import Foundation
import KommoSegment
import Testing

@Suite("Idempotency.md snippets")
struct IdempotencySnippets {
    /// "Keys": the key of a stage change, and the string the guide shows.
    @Test("Idempotency.md: a stage change's key is the one the guide shows")
    func snippet1() {
        let key = DeduplicationKey(accountID: 31234567, entity: .lead, entityID: 24000017,
                                   change: .stageChanged(fromStatus: 61000005, fromPipeline: 7654321,
                                                         toStatus: 142, toPipeline: 7654321),
                                   eventTime: 1768912200)
        print(key.rawValue)
        // kommo-segment:v1:event:31234567:lead:24000017:stage:7654321:61000005>7654321:142:1768912200
        #expect(key.rawValue
                    == "kommo-segment:v1:event:31234567:lead:24000017:stage:7654321:61000005>7654321:142:1768912200")
    }
}

/// "The in-memory store": the default store and a smaller one on an injected clock.
private func snippet2(clock: any Clock<Duration>) -> [InMemoryDeduplicationStore] {
    let store = InMemoryDeduplicationStore()                      // 100,000 keys, 100,000 lead times
    let smaller = InMemoryDeduplicationStore(capacity: 10_000,
                                             changeTimeCapacity: 10_000,
                                             clock: clock,           // any Clock<Duration>; ContinuousClock() by default
                                             makeToken: { UUID().uuidString.lowercased() })
    return [store, smaller]
}

/// Stands for a Redis client, as the guide says: `command` sends one command and returns its reply.
private struct RedisClient {
    struct Reply {
        var string: String?
    }

    func command(_ arguments: String...) async throws -> Reply { Reply(string: nil) }
}

/// "Running the scripts": the sketch of a Redis-backed claim.
private struct RedisDeduplicationSketch {
    let redis: RedisClient

    func claim(_ key: DeduplicationKey, for duration: Duration) async throws -> DeduplicationClaim {
        let token = UUID().uuidString.lowercased()
        let milliseconds = max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        let reply = try await redis.command("SET", key.rawValue, token, "NX", "GET", "PX", String(milliseconds))
        switch reply.string {
        case nil: return .claimed(token)
        case "done": return .alreadyDone
        default: return .inFlight
        }
    }
}
