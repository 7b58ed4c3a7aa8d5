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
    /// The deduplication keys this pipeline holds a claim on, until each is settled.
    let heldHere = HeldClaims()

    /// One item on its way through the pipeline.
    struct Item {
        let index: Int
        /// The item; a lead change matched to the same change at a neighbouring second takes that one's time.
        var event: KommoWebhookEvent
        var claim: (key: DeduplicationKey, token: String)?
        var outcome: EventOutcome?
        var messages: [SegmentMessage] = []
        var partialSkips: [SkipReason] = []
        var ticket: SegmentDeliveryTicket?
        /// The change's place in its lead's order, until its newest-change check is done.
        var turn: ChangeSequencer.Ticket?
    }

    /// A webhook's entry into its account's burst: its place in the stages and the order tickets of its lead
    /// changes (by item index).
    struct Entry: Sendable {
        var place: BurstStages.Place
        var turns: [Int: ChangeSequencer.Ticket]
        /// The order this webhook queues its messages in, among those of one batch call.
        var order: (queueing: QueueingOrder, position: Int)?
    }

    /// Enters a webhook into its account's burst before it is processed: a caller that starts many webhooks at
    /// once enters them all first, so that the first to be fetched already gathers for the others.
    func enter(_ webhook: KommoWebhook, runtime: AccountRuntime, prompt: Bool,
               order: (queueing: QueueingOrder, position: Int)? = nil) -> Entry {
        var turns: [Int: ChangeSequencer.Ticket] = [:]
        for (index, event) in webhook.events.enumerated() {
            if case .lead(let lead) = event, let time = lead.eventTime {
                turns[index] = runtime.sequencer.register(lead: lead.id, time: Int64(time.timeIntervalSince1970))
            }
        }
        return Entry(place: runtime.stages.enter(prompt: prompt), turns: turns, order: order)
    }

    /// Where an item came from: a webhook, or Kommo's events log (catch-up).
    enum Origin: Sendable {
        case webhook, eventLog
    }

    func process(_ webhook: KommoWebhook, runtime: AccountRuntime, acknowledgement: WebhookAcknowledgement,
                 entry: Entry? = nil, origin: Origin = .webhook,
                 flushPromptly: @Sendable () -> Bool) async -> WebhookReport {
        let accountID = webhook.account.id
        var items = webhook.events.enumerated().map { Item(index: $0.offset, event: $0.element) }
        counters.update { $0.events += items.count }
        let entry = entry ?? enter(webhook, runtime: runtime, prompt: flushPromptly())
        var place = entry.place
        for (index, turn) in entry.turns { items[index].turn = turn }
        await claim(&items, accountID: accountID, origin: origin)
        // A change that is a duplicate, or claimed elsewhere, is not checked: later changes of its lead need not
        // wait for it.
        for index in items.indices where items[index].outcome != nil {
            if let turn = items[index].turn { runtime.sequencer.finish(turn) }
            items[index].turn = nil
        }
        // Never awaited: leaving the function cancels the renewal loop and waits for it. The claims are read here:
        // an `async let` evaluates its expression in the child task, which would read `items` while this task
        // changes it (a race the thread sanitizer found in the instrumented executable).
        let claims = items.compactMap(\.claim)
        async let _ = renewClaims(claims)
        let open = items.indices.filter { items[$0].outcome == nil }
        let fetched: FetchedContext
        do {
            fetched = try await runtime.fetch(for: open.map { items[$0].event }, place: &place)
        } catch {
            let failure = Self.failure(error, code: .kommo, detail: "reading from Kommo failed")
            for index in open { items[index].outcome = .failed(failure) }
            await leave(&place, order: entry.order, runtime: runtime, flushPromptly: flushPromptly)
            return await finish(items, runtime: runtime, acknowledgement: acknowledgement)
        }
        map(&items, open: open, webhook: webhook, runtime: runtime, fetched: fetched)
        await keepNewest(&items, open: open, accountID: accountID, sequencer: runtime.sequencer)
        await deliver(&items, open: open, runtime: runtime, place: &place, order: entry.order,
                      flushPromptly: flushPromptly)
        return await finish(items, runtime: runtime, acknowledgement: acknowledgement)
    }

    /// The webhook has queued its messages (or will queue none): the next position of its batch call may queue,
    /// and when it is the last of its account's prompt webhooks in flight, it flushes the queue for every webhook
    /// waiting on it, so that webhooks processed together share their Segment requests.
    private func leave(_ place: inout BurstStages.Place, order: (queueing: QueueingOrder, position: Int)?,
                       runtime: AccountRuntime, flushPromptly: @Sendable () -> Bool) async {
        order.map { $0.queueing.finish($0.position) }
        let remaining = runtime.stages.leave(&place)
        if remaining == 0 && flushPromptly() { await runtime.queue.flush() }
    }

    /// Claims every item that can be keyed, before any request.
    private func claim(_ items: inout [Item], accountID: Int64, origin: Origin) async {
        var keysOfThisWebhook = Set<String>()
        for index in items.indices {
            guard var key = DeduplicationKey(item: items[index].event, accountID: accountID) else { continue }
            if let (event, known) = await knownNeighbour(of: items[index].event, key: key, accountID: accountID,
                                                         origin: origin) {
                items[index].event = event
                key = known
            }
            // A second item of the same change in this webhook (a status and an update item) is a duplicate of the
            // first, whose claim this webhook holds.
            guard keysOfThisWebhook.insert(key.rawValue).inserted else {
                items[index].outcome = .duplicate
                continue
            }
            do {
                switch try await store.claim(key, for: configuration.claimDuration) {
                case .claimed(let token):
                    items[index].claim = (key, token)
                    heldHere.insert(key.rawValue)
                    if origin == .eventLog { await leaveLoggedMarker(for: key, accountID: accountID) }
                case .alreadyDone: items[index].outcome = .duplicate
                case .inFlight where heldHere.contains(key.rawValue):
                    // Another webhook of this burst holds the same change (a file replayed twice, a redelivery in
                    // flight with the first delivery): it is processed once, there. Should that attempt fail, its
                    // own webhook says so (and stays in the inbox, when there is one), with the same change.
                    items[index].outcome = .duplicate
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

    /// The same lead change already known at a neighbouring second, within
    /// ``KommoSegmentPipeline/Configuration/changeTimeTolerance``: the item with that change's time (so that it gets
    /// that change's message ids), and that change's key. `nil` when the change itself is known, none is, the
    /// tolerance is zero, or the item is not a tracked lead change.
    ///
    /// An item of the events log looks for the change's keys, whoever claimed them; a webhook item looks only for
    /// the markers catch-up leaves (``DeduplicationKey/loggedMarker``), so that two webhooks of one transition at
    /// nearby seconds (a lead moved to a stage, away and back) stay two changes. Nearest seconds first, the earlier of
    /// two equally near; the store is asked once, for all of them.
    private func knownNeighbour(of event: KommoWebhookEvent, key: DeduplicationKey, accountID: Int64,
                                origin: Origin) async -> (KommoWebhookEvent, DeduplicationKey)? {
        let tolerance = configuration.changeTimeTolerance.components.seconds
        guard tolerance > 0, case .lead(var lead) = event,
              let change = KommoChange.changes(of: event, accountID: accountID).first,
              let time = change.eventTime else { return nil }
        switch change.kind {
        case .stage, .owner, .added, .restored: break
        case .deleted, .updated, .untracked: return nil
        }
        var offsets: [Int64] = []
        for distance in 1...min(tolerance, 60) { offsets += [-distance, distance] }
        let neighbours = offsets.map {
            DeduplicationKey(accountID: accountID, entity: change.entity.rawValue, entityID: change.entityID,
                             change: change.deduplicationChange, eventTime: time + $0)
        }
        let probes = origin == .eventLog ? neighbours : neighbours.map(\.loggedMarker)
        let known: Set<DeduplicationKey>
        do {
            known = try await store.knownKeys(among: [key] + probes)
        } catch {
            logger.log(.warning, "deduplication store failed; matching at the exact time only",
                       ["account": String(accountID), "operation": "knownKeys", "cause": String(describing: error)])
            return nil
        }
        guard !known.contains(key),
              let position = probes.firstIndex(where: { known.contains($0) }) else { return nil }
        let offset = offsets[position]
        lead.updatedAt = Date(timeIntervalSince1970: TimeInterval(time + offset))
        counters.update { $0.changeTimesMatched += 1 }
        logger.log(.info, "change matched at a neighbouring second", [
            "account": String(accountID), "lead": String(lead.id), "change": change.deduplicationChange,
            "time": String(time), "matched": String(time + offset),
        ])
        return (.lead(lead), neighbours[position])
    }

    /// Leaves the marker of a change catch-up claimed, for a webhook of the same change at a neighbouring second to
    /// find. It lasts the retention; a store that cannot keep it only narrows the matching to equal times.
    private func leaveLoggedMarker(for key: DeduplicationKey, accountID: Int64) async {
        guard configuration.changeTimeTolerance.components.seconds > 0 else { return }
        do {
            _ = try await store.claim(key.loggedMarker, for: configuration.retention)
        } catch {
            logger.log(.warning, "deduplication store failed to keep a catch-up marker", [
                "account": String(accountID), "key": key.rawValue, "cause": String(describing: error),
            ])
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
    ///
    /// The changes of one lead that are in flight together are checked in event-time order (the sequencer's), and
    /// this webhook's own changes in the same order, so the outcome does not depend on which webhook was fetched
    /// first.
    private func keepNewest(_ items: inout [Item], open: [Int], accountID: Int64, sequencer: ChangeSequencer) async {
        let ordered = open.compactMap { index in items[index].turn.map { (index, $0) } }.sorted { $0.1 < $1.1 }
        for (index, turn) in ordered {
            defer {
                sequencer.finish(turn)
                items[index].turn = nil
            }
            guard !items[index].messages.isEmpty, case .lead(let lead) = items[index].event,
                  let time = lead.eventTime else { continue }
            await sequencer.waitForTurn(turn)
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

    /// Queues each item's calls together (in the batch call's order, when there is one), leaves the burst's
    /// stages, then waits for their tickets.
    private func deliver(_ items: inout [Item], open: [Int], runtime: AccountRuntime, place: inout BurstStages.Place,
                         order: (queueing: QueueingOrder, position: Int)?, flushPromptly: @Sendable () -> Bool) async {
        let queue = runtime.queue
        if let order { await order.queueing.waitForTurn(order.position) }
        for index in open where items[index].outcome == nil {
            do {
                items[index].ticket = try await queue.enqueueWaiting(items[index].messages)
            } catch {
                items[index].outcome = .failed(Self.failure(error, code: .segment, detail: "queueing failed"))
            }
        }
        let waiting = open.filter { items[$0].ticket != nil }
        await leave(&place, order: order, runtime: runtime, flushPromptly: flushPromptly)
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
