import Foundation
import KommoAPI

/// What one pass over the inbox did.
public struct InboxPass: Sendable, Hashable {
    /// Records processed and deleted: every item delivered, skipped or a duplicate.
    public var completed = 0
    /// Records kept for another attempt after a passing failure (Kommo or Segment unreachable, shutdown, a claim
    /// held by another worker).
    public var retried = 0
    /// Records moved to the dead letters.
    public var deadLettered = 0
    /// Records left for later without an attempt: their backoff has not passed, another worker holds them, the
    /// pipeline was busy or shutting down, or the inbox could not settle them.
    public var deferred = 0
    /// The report of every record processed.
    public var reports: [WebhookReport] = []

    /// An empty pass.
    public init() {}
}

extension KommoSegmentPipeline {
    /// Checks a webhook and keeps it in the inbox without processing it: the journal step of a replay, which keeps
    /// every file before processing any. ``processInbox()`` or ``run()`` processes it later.
    ///
    /// - Returns: the acknowledgement; ``WebhookAcknowledgement/Outcome/inboxUnavailable`` when the pipeline has no
    ///   inbox or the inbox could not keep the webhook.
    public func keep(body: Data, contentType: String?, requestTarget: String) async -> WebhookAcknowledgement {
        guard let keeper else {
            counters.update { $0.webhooks += 1 }
            return reject(.inboxUnavailable, "the pipeline has no inbox")
        }
        let decision = gate.check(body: body, contentType: contentType, requestTarget: requestTarget)
        counters.update { $0.webhooks += 1 }
        switch decision {
        case .rejected(let acknowledgement):
            counters.update { $0.webhooksRejected += 1 }
            return acknowledgement
        case .accepted(_, let accountID, let acknowledgement):
            do {
                _ = try await keeper.append(body: body, contentType: contentType, accountID: accountID)
            } catch {
                return .rejected(.inboxUnavailable, "the inbox could not keep the webhook (\(error.code))",
                                 accountID: accountID)
            }
            return acknowledgement
        }
    }

    /// Processes every inbox record that is due, oldest first, at most ``Configuration/inboxConcurrency`` at once,
    /// on the caller's task; returns what became of them.
    ///
    /// ``run()`` must be running (it delivers the messages). ``run()`` itself calls this when it starts and then
    /// every ``Configuration/inboxScanInterval``. A record already done once is harmless to process again: its
    /// message ids are deterministic.
    /// - Throws: ``InboxError`` when the inbox cannot list its records.
    public func processInbox() async throws(InboxError) -> InboxPass {
        guard let keeper else { return InboxPass() }
        let ids = try await keeper.inbox.pending(limit: Int.max)
        var pass = InboxPass()
        let concurrency = max(1, configuration.inboxConcurrency)
        await withTaskGroup(of: (InboxKeeper.Settlement?, WebhookReport?).self) { group in
            var running = 0
            for id in ids {
                if running >= concurrency, let done = await group.next() {
                    running -= 1
                    pass.add(done)
                }
                group.addTask { await self.processRecord(id, keeper: keeper) }
                running += 1
            }
            for await done in group { pass.add(done) }
        }
        return pass
    }

    /// What the inbox holds now; `nil` without an inbox, or when the inbox cannot answer.
    public var inboxStatus: InboxStatus? {
        get async { try? await keeper?.inbox.status() }
    }

    /// Leases, checks and processes one record, then settles it.
    private func processRecord(_ id: String, keeper: InboxKeeper) async -> (InboxKeeper.Settlement?, WebhookReport?) {
        guard let (record, lease) = await keeper.lease(id) else { return (nil, nil) }
        if let notBefore = record.notBefore, notBefore > keeper.wallClock.now {
            await keeper.release(lease)
            return (nil, nil)
        }
        switch state.begin(bytes: record.body.count, maxWebhooks: configuration.maxWebhooksInFlight,
                           maxBytes: configuration.maxBytesInFlight) {
        case .admitted: break
        case .closed, .busy:
            await keeper.release(lease)
            return (nil, nil)
        }
        defer { state.end(bytes: record.body.count) }
        counters.update { $0.inboxRecordsResumed += 1 }
        let webhook: KommoWebhook
        do {
            webhook = try gate.parser.parse(body: record.body, contentType: record.contentType)
        } catch {
            return (await keeper.deadLetter(lease, record: record, reason: "webhook: the record is not a readable "
                                                + "Kommo webhook (\(error.code))"), nil)
        }
        guard webhook.account.id == record.accountID, let runtime = runtimes[record.accountID] else {
            let failure = PipelineError(code: .accountNotServed, detail: "account \(record.accountID) is not "
                                            + "served by this pipeline")
            return (await keeper.deadLetter(lease, record: record, reason: InboxKeeper.reason(failure)), nil)
        }
        let acknowledgement = WebhookAcknowledgement(outcome: .accepted, httpStatus: 200, accountID: record.accountID,
                                                     eventCount: webhook.events.count, detail: "resumed from the inbox")
        let state = self.state
        let processor = self.processor
        let report = await keeper.holding(lease) {
            await processor.process(webhook, runtime: runtime, acknowledgement: acknowledgement,
                                    flushPromptly: { true })
        }
        let settlement = await keeper.settle(report, record: record, lease: lease)
        state.publish(report)
        return (settlement, report)
    }

    /// The inbox scan of ``run()``: a pass at once, then one every scan interval, until shutdown begins; dead letters
    /// past their retention are purged on each pass.
    func scanInbox(_ keeper: InboxKeeper, every interval: Duration) async {
        let draining = self.draining
        let clock = self.clock
        while draining.value == nil && !Task.isCancelled {
            do {
                let pass = try await processInbox()
                if pass.completed + pass.retried + pass.deadLettered > 0 {
                    logger.log(.info, "inbox records processed", [
                        "completed": String(pass.completed), "retried": String(pass.retried),
                        "deadLettered": String(pass.deadLettered), "deferred": String(pass.deferred),
                    ])
                }
                let cutoff = keeper.wallClock.now.addingTimeInterval(-configuration.deadLetterRetention.seconds)
                let purged = try await keeper.inbox.purgeDeadLetters(diedBefore: cutoff)
                if purged > 0 { logger.log(.info, "dead letters purged", ["records": String(purged)]) }
            } catch {
                logger.log(.error, "inbox scan failed; retried at the next interval", [
                    "code": error.code.description, "cause": error.detail,
                ])
            }
            // Sleep until the next pass or until shutdown begins, whichever comes first.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await clock.sleep(for: interval) }
                group.addTask { _ = await draining.wait() }
                await group.next()
                group.cancelAll()
            }
        }
    }
}

extension InboxPass {
    fileprivate mutating func add(_ done: (InboxKeeper.Settlement?, WebhookReport?)) {
        if let report = done.1 { reports.append(report) }
        switch done.0 {
        case .completed?: completed += 1
        case .retried?: retried += 1
        case .deadLettered?: deadLettered += 1
        case .unsettled?, nil: deferred += 1
        }
    }
}
