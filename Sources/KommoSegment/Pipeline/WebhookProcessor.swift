import Foundation
import KommoAPI
import SegmentAPI

/// Processes one accepted webhook: claim, fetch in batches, map, keep the newest change, deliver, finish.
///
/// A value without state of its own; it runs on the task of the webhook it processes (a child of the pipeline's
/// `run()`, or the caller of `process`).
struct WebhookProcessor: Sendable {
    let configuration: KommoSegmentPipeline.Configuration
    let store: any DeduplicationStore
    let logger: SDKLogger
    let clock: MonotonicClock
    let counters: PipelineCounterBox

    /// One item on its way through the pipeline.
    struct Item {
        let index: Int
        let event: KommoWebhookEvent
        var claim: (key: DeduplicationKey, token: String)?
        var outcome: EventOutcome?
        var messages: [SegmentMessage] = []
        var partialSkips: [SkipReason] = []
        var ticket: SegmentDeliveryTicket?
    }

    func process(_ webhook: KommoWebhook, runtime: AccountRuntime, acknowledgement: WebhookAcknowledgement,
                 flushPromptly: @Sendable () -> Bool) async -> WebhookReport {
        let accountID = webhook.account.id
        var items = webhook.events.enumerated().map { Item(index: $0.offset, event: $0.element) }
        counters.update { $0.events += items.count }
        await claim(&items, accountID: accountID)
        // Never awaited: leaving the function cancels the renewal loop and waits for it. The claims are read here:
        // an `async let` evaluates its expression in the child task, which would read `items` while this task
        // changes it (a race the thread sanitizer found in the instrumented executable).
        let claims = items.compactMap(\.claim)
        async let _ = renewClaims(claims)
        let open = items.indices.filter { items[$0].outcome == nil }
        let fetched: FetchedContext
        do {
            fetched = try await runtime.fetch(for: open.map { items[$0].event })
        } catch {
            let failure = Self.failure(error, code: .kommo, detail: "reading from Kommo failed")
            for index in open { items[index].outcome = .failed(failure) }
            return await finish(items, runtime: runtime, acknowledgement: acknowledgement)
        }
        map(&items, open: open, webhook: webhook, runtime: runtime, fetched: fetched)
        await keepNewest(&items, open: open, accountID: accountID)
        await deliver(&items, open: open, queue: runtime.queue, flushPromptly: flushPromptly)
        return await finish(items, runtime: runtime, acknowledgement: acknowledgement)
    }

    /// Claims every item that can be keyed, before any request.
    private func claim(_ items: inout [Item], accountID: Int64) async {
        var keysOfThisWebhook = Set<String>()
        for index in items.indices {
            guard let key = DeduplicationKey(item: items[index].event, accountID: accountID) else { continue }
            // A second item of the same change in this webhook (a status and an update item) is a duplicate of the
            // first, whose claim this webhook holds.
            guard keysOfThisWebhook.insert(key.rawValue).inserted else {
                items[index].outcome = .duplicate
                continue
            }
            do {
                switch try await store.claim(key, for: configuration.claimDuration) {
                case .claimed(let token): items[index].claim = (key, token)
                case .alreadyDone: items[index].outcome = .duplicate
                case .inFlight:
                    // Not a duplicate: the other attempt may still fail. The inbox keeps the record for later.
                    items[index].outcome = .failed(PipelineError(
                        code: .claimedElsewhere, detail: "another worker is processing the same change"))
                }
            } catch {
                // A store that cannot answer must not stop delivery: message ids still de-duplicate in Segment.
                logger.log(.warning, "deduplication store failed; processing anyway",
                           ["account": String(accountID), "operation": "claim", "cause": String(describing: error)])
            }
        }
    }

    /// Renews the claims every third of their duration until cancelled.
    private func renewClaims(_ claims: [(key: DeduplicationKey, token: String)]) async {
        guard !claims.isEmpty else { return }
        let duration = configuration.claimDuration
        await clock.repeating(every: duration / 3) {
            for claim in claims {
                do {
                    _ = try await store.renew(claim.key, token: claim.token, for: duration)
                } catch {
                    logger.log(.warning, "deduplication store failed to renew a claim", [
                        "key": claim.key.rawValue, "cause": String(describing: error),
                    ])
                }
            }
            return true
        }
    }

    /// Maps (pure), with the status/update pairs of one change collapsed by the mapper.
    private func map(_ items: inout [Item], open: [Int], webhook: KommoWebhook, runtime: AccountRuntime,
                     fetched: FetchedContext) {
        let subset = KommoWebhook(account: webhook.account, events: open.map { items[$0].event })
        let results = runtime.mapper.map(subset) { fetched.context(for: $0) }
        for (position, index) in open.enumerated() {
            let result = results[position]
            items[index].partialSkips = result.skipped
            items[index].messages = result.messages
            if result.messages.isEmpty {
                let duplicate = !result.skipped.isEmpty
                    && result.skipped.allSatisfy { $0.code == .duplicateInWebhook }
                items[index].outcome = duplicate ? .duplicate : .skipped(result.skipped)
            }
        }
    }

    /// Ordering: a change older than the newest applied one sends no identify or group.
    private func keepNewest(_ items: inout [Item], open: [Int], accountID: Int64) async {
        for index in open where !items[index].messages.isEmpty {
            guard case .lead(let lead) = items[index].event, let time = lead.eventTime else { continue }
            let entity = DeduplicationEntityKey(accountID: accountID, leadID: lead.id)
            let isNewest: Bool
            do {
                isNewest = try await store.recordChangeTime(Int64(time.timeIntervalSince1970), for: entity,
                                                            retention: configuration.retention)
            } catch {
                logger.log(.warning, "deduplication store failed; processing anyway", [
                    "account": String(accountID), "operation": "recordChangeTime", "cause": String(describing: error),
                ])
                isNewest = true
            }
            guard !isNewest else { continue }
            let kept = items[index].messages.filter { $0.type == .track }
            for dropped in items[index].messages where dropped.type != .track {
                items[index].partialSkips.append(SkipReason(
                    code: .olderThanNewestChange, call: MessageIDRecipe.Call(rawValue: dropped.type.rawValue),
                    detail: "a newer change of lead \(lead.id) was already applied"))
            }
            items[index].messages = kept
            if kept.isEmpty { items[index].outcome = .skipped(items[index].partialSkips) }
        }
    }

    /// Queues each item's calls together, then waits for their tickets.
    private func deliver(_ items: inout [Item], open: [Int], queue: SegmentQueue,
                         flushPromptly: @Sendable () -> Bool) async {
        for index in open where items[index].outcome == nil {
            do {
                items[index].ticket = try await queue.enqueueWaiting(items[index].messages)
            } catch {
                items[index].outcome = .failed(Self.failure(error, code: .segment, detail: "queueing failed"))
            }
        }
        let waiting = open.filter { items[$0].ticket != nil }
        if !waiting.isEmpty && flushPromptly() { await queue.flush() }
        for index in waiting {
            guard let ticket = items[index].ticket else { continue }
            do {
                switch try await ticket.outcome() {
                case .delivered: items[index].outcome = .delivered
                case .failed(let error):
                    let code: PipelineError.Code = error.code == .undelivered ? .shutdown : .segment
                    items[index].outcome = .failed(PipelineError(code: code, detail: "Segment did not accept the "
                                                                     + "messages", underlyingError: error))
                }
            } catch {
                items[index].outcome = .failed(PipelineError(code: .shutdown, detail: "the pipeline stopped "
                                                                 + "waiting for delivery", underlyingError: error))
            }
        }
    }

    private static func failure(_ error: any Error, code: PipelineError.Code, detail: String) -> PipelineError {
        if error is CancellationError {
            return PipelineError(code: .shutdown, detail: "the pipeline stopped before the event was delivered",
                                 underlyingError: CancellationError())
        }
        // Shutdown, not a failure of Kommo or Segment: a read cut off by the deadline's cancellation, or work that
        // outlived the deadline and found the queue closed.
        if let kommo = error as? KommoAPIError, kommo.transportCode == .cancelled {
            return PipelineError(code: .shutdown, detail: "the pipeline stopped before the event was delivered",
                                 underlyingError: kommo)
        }
        if let segment = error as? SegmentError, segment.code == .shutDown {
            return PipelineError(code: .shutdown, detail: "the pipeline shut down before the event was queued",
                                 underlyingError: segment)
        }
        return PipelineError(code: code, detail: detail, underlyingError: error)
    }
}
