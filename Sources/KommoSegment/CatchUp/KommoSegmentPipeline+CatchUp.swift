import Foundation
import SDKCore

extension KommoSegmentPipeline {
    /// Recovers what the webhooks missed: reads Kommo's events log for a window of time, and processes every lead
    /// change in it (oldest first) through the same claim, fetch, map and delivery as a webhook, batched.
    ///
    /// - **Same change, same ids.** Each event becomes the webhook item that reports the same change
    ///   (``LeadEvent/init(catchUp:)``), so a change seen by a webhook and by the log gets the same message ids,
    ///   and a change the deduplication store already knows is not sent again: not even at a neighbouring second
    ///   (``Configuration/changeTimeTolerance``).
    /// - **The window**: from ``CatchUpRequest/since`` (else the second after the account's checkpoint, else
    ///   ``CatchUpConfiguration/lookBack`` ago) to ``CatchUpRequest/until`` (else
    ///   ``CatchUpConfiguration/settleDelay`` ago). Every page is read under the Kommo client's rate limiter.
    /// - **The checkpoint** moves as batches of events finish, to the last second before which every event is
    ///   processed; a failed event holds it before its second, and later batches are then not processed. A stage
    ///   "change" whose stages are equal is skipped, as with webhooks.
    ///
    /// - **One run per account at a time** across the instances that share the checkpoint store: the run holds the
    ///   account's lease (``CatchUpCheckpointStore/holdRun(_:owner:for:)``), renewing it as it goes, and ends it when
    ///   it returns. Without the lease it throws ``CatchUpError/Code/runningElsewhere`` and reads nothing.
    ///
    /// ``run()`` must be running (it delivers the messages).
    /// - Parameters:
    ///   - request: the account, the window, whether the checkpoint moves.
    ///   - progress: called on the caller's task after each page and each batch.
    /// - Returns: what became of every event of the window.
    /// - Throws: ``CatchUpError`` when Kommo cannot be read, the checkpoint cannot be kept, the account is not
    ///   served, another instance is catching it up, or the pipeline is shutting down.
    public func catchUp(_ request: CatchUpRequest,
                        progress: (CatchUpProgress) -> Void = { _ in }) async throws(CatchUpError) -> CatchUpReport {
        do {
            let report = try await holdingLease(request.accountID) { () async throws(CatchUpError) -> CatchUpReport in
                try await runCatchUp(request, progress: progress)
            }
            counters.update {
                $0.catchUpRuns += 1
                $0.catchUpRecovered += report.recovered
                $0.catchUpAlreadyProcessed += report.alreadyProcessed
                $0.catchUpSkipped += report.skipped
                $0.catchUpFailed += report.failed
                $0.catchUpHeldElsewhere += report.heldElsewhere
            }
            // Changes held elsewhere (and the batches after them) are read again next run: not an error.
            let level: LogLevel = report.failed > 0 ? .error : report.isComplete ? .info : .notice
            logger.log(level, "catch-up finished", [
                "account": String(request.accountID), "from": String(report.from), "to": String(report.to),
                "pages": String(report.pages), "events": String(report.eventsRead),
                "recovered": String(report.recovered), "alreadyProcessed": String(report.alreadyProcessed),
                "skipped": String(report.skipped), "failed": String(report.failed),
                "heldElsewhere": String(report.heldElsewhere), "notProcessed": String(report.eventsNotProcessed),
                "checkpoint": report.checkpoint.map(String.init) ?? "-",
            ])
            return report
        } catch where error.code == .runningElsewhere {
            counters.update { $0.catchUpRunsDeferred += 1 }
            logger.log(.info, "catch-up left to another instance", [
                "account": String(request.accountID), "code": error.code.description,
            ])
            throw error
        } catch {
            counters.update { $0.catchUpRunsFailed += 1 }
            logger.log(.error, "catch-up failed", [
                "account": String(request.accountID), "code": error.code.description, "cause": error.description,
            ])
            throw error
        }
    }

    /// Runs `body` holding the account's catch-up lease, renewed every third of its duration, and ends the lease
    /// when `body` returns or throws.
    private func holdingLease<T: Sendable>(_ accountID: Int64,
                                           _ body: () async throws(CatchUpError) -> T) async throws(CatchUpError) -> T {
        let owner = UUID().uuidString
        let duration = configuration.catchUp.leaseDuration
        let held: Bool
        do {
            held = try await checkpoints.holdRun(accountID, owner: owner, for: duration)
        } catch {
            throw Self.checkpointError(error, reading: true)
        }
        guard held else {
            throw CatchUpError(code: .runningElsewhere,
                               detail: "another instance is catching account \(accountID) up now; its run moves the "
                                   + "checkpoint (try again once it has finished)")
        }
        let result: Result<T, CatchUpError>
        do {
            // Never awaited: leaving the scope cancels the renewal loop and waits for it.
            async let _ = renewLease(accountID, owner: owner, duration: duration)
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        do {
            try await checkpoints.endRun(accountID, owner: owner)
        } catch {
            // The lease then lapses by itself within its duration.
            logger.log(.warning, "the catch-up lease could not be ended", [
                "account": String(accountID), "cause": String(describing: error),
            ])
        }
        return try result.get()
    }

    /// Renews the lease every third of its duration until cancelled. A lease lost (a pause longer than the lease)
    /// is logged: the run goes on, and the deduplication store keeps the other instance's run from sending twice.
    private func renewLease(_ accountID: Int64, owner: String, duration: Duration) async {
        let clock = self.clock
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: duration / 3)
            } catch {
                return
            }
            do {
                if try await !checkpoints.holdRun(accountID, owner: owner, for: duration) {
                    logger.log(.warning, "the catch-up lease was taken over by another instance", [
                        "account": String(accountID),
                    ])
                    return
                }
            } catch {
                logger.log(.warning, "the catch-up lease could not be renewed", [
                    "account": String(accountID), "cause": String(describing: error),
                ])
            }
        }
    }

    private func runCatchUp(_ request: CatchUpRequest,
                            progress: (CatchUpProgress) -> Void) async throws(CatchUpError) -> CatchUpReport {
        guard let runtime = runtimes[request.accountID] else {
            throw CatchUpError(code: .accountNotServed,
                               detail: "account \(request.accountID) is not served by this pipeline")
        }
        let settings = configuration.catchUp
        let accountID = request.accountID
        let stored: Int64?
        do {
            stored = try await checkpoints.checkpoint(for: accountID)
        } catch {
            throw Self.checkpointError(error, reading: true)
        }
        let now = wallClock.now
        let to = Self.seconds(request.until ?? now.addingTimeInterval(-settings.settleDelay.seconds))
        let from = request.since.map(Self.seconds)
            ?? stored.map { $0 + 1 }
            ?? Self.seconds(now.addingTimeInterval(-settings.lookBack.seconds))
        var report = CatchUpReport(accountID: accountID, from: from, to: to, pages: 0, eventsRead: 0, eventsIgnored: 0,
                                   events: [], eventsNotProcessed: 0, checkpoint: stored)
        guard from <= to else { return report }

        // Read every page first: the log is newest first, and changes are applied oldest first.
        var live = CatchUpProgress(phase: .reading, pages: 0, eventsRead: 0, eventsToProcess: 0, eventsProcessed: 0,
                                   delivered: 0)
        let query = KommoEventQuery(createdFrom: from, createdTo: to)
        var seen = Set<String>()
        var changes: [(event: KommoEvent, item: LeadEvent)] = []
        var page = 1
        while true {
            guard page <= max(settings.maxPages, 1) else {
                throw CatchUpError(code: .tooManyEvents,
                                   detail: "the window \(from)...\(to) holds more than \(settings.maxPages) pages of "
                                       + "events; catch up over a shorter window (a later --since, an --until)")
            }
            let read: KommoPage<KommoEvent>
            do {
                read = try await runtime.account.kommo.events(query, page: page)
            } catch {
                if let kommo = error as? KommoAPIError, kommo.transportCode == .cancelled {
                    throw CatchUpError(code: .shutdown, detail: "the catch-up was cancelled while reading events",
                                       underlyingError: kommo)
                }
                if let kommo = error as? KommoAPIError {
                    throw CatchUpError(code: .kommo, detail: "reading page \(page) of Kommo's events log failed",
                                       underlyingError: kommo)
                }
                if error is CancellationError {
                    throw CatchUpError(code: .shutdown, detail: "the catch-up was cancelled while reading events")
                }
                throw CatchUpError(code: .kommo, detail: "reading page \(page) of Kommo's events log failed: "
                                       + String(describing: error))
            }
            report.pages += 1
            counters.update {
                $0.catchUpPages += 1
                $0.catchUpEventsRead += read.items.count
            }
            for event in read.items where seen.insert(event.id).inserted {
                report.eventsRead += 1
                let time = Self.seconds(event.createdAt)
                guard time >= from, time <= to, event.accountID == nil || event.accountID == accountID,
                      let item = LeadEvent(catchUp: event) else {
                    report.eventsIgnored += 1
                    continue
                }
                changes.append((event, item))
            }
            live.pages = report.pages
            live.eventsRead = report.eventsRead
            progress(live)
            guard read.hasNext, !read.items.isEmpty else { break }
            page += 1
        }
        changes.sort { ($0.event.createdAt, $0.event.id) < ($1.event.createdAt, $1.event.id) }
        live.phase = .processing
        live.eventsToProcess = changes.count
        progress(live)

        // Process in batches; after each, the checkpoint moves to the second before the next batch's first event
        // (or to the window's end after the last), unless an event has failed.
        let batch = max(settings.checkpointEvery, 1)
        var start = 0
        var failedAt: Int64?
        while start < changes.count {
            let end = min(start + batch, changes.count)
            let slice = Array(changes[start..<end])
            let outcomes = try await processCatchUp(slice, runtime: runtime)
            for (index, outcome) in outcomes.enumerated() {
                report.events.append(outcome)
                if case .failed = outcome.outcome, failedAt == nil {
                    failedAt = Self.seconds(slice[index].event.createdAt)
                }
                if case .delivered = outcome.outcome { live.delivered += 1 }
            }
            live.eventsProcessed = end
            start = end
            if failedAt == nil, request.movesCheckpoint {
                let reached = end < changes.count ? Self.seconds(changes[end].event.createdAt) - 1 : to
                report.checkpoint = try await advanceCheckpoint(accountID, to: reached, from: from)
            }
            progress(live)
            if failedAt != nil { break }
        }
        report.eventsNotProcessed = changes.count - start
        if changes.isEmpty, request.movesCheckpoint {
            report.checkpoint = try await advanceCheckpoint(accountID, to: to, from: from)
        }
        live.phase = .finished
        progress(live)
        return report
    }

    /// Moves the checkpoint to `time` when that covers something (at least the window's first second).
    private func advanceCheckpoint(_ accountID: Int64, to time: Int64, from: Int64) async throws(CatchUpError) -> Int64? {
        do {
            guard time >= from else { return try await checkpoints.checkpoint(for: accountID) }
            return try await checkpoints.advance(accountID, to: time)
        } catch {
            throw Self.checkpointError(error, reading: false)
        }
    }

    /// Processes lead changes of the log together, each as a webhook of one item, and reports them in order.
    private func processCatchUp(_ changes: [(event: KommoEvent, item: LeadEvent)],
                                runtime: AccountRuntime) async throws(CatchUpError) -> [CatchUpEventReport] {
        let accountID = runtime.account.accountID
        let account = KommoWebhookAccount(id: accountID, subdomain: "", idSource: .items)
        var results = [CatchUpEventReport?](repeating: nil, count: changes.count)
        var closed = false
        var index = 0
        await processTogether(maxConcurrency: configuration.catchUp.concurrency, next: { () -> Int? in
            guard index < changes.count else { return nil }
            defer { index += 1 }
            return index
        }, bytes: { _ in 0 }, admit: { position in
            guard case .admitted = state.begin(bytes: 0, maxWebhooks: .max, maxBytes: .max) else {
                closed = true
                return .rejected(.rejected(.shuttingDown, "the pipeline is shutting down", accountID: accountID))
            }
            let change = changes[position]
            let acknowledgement = WebhookAcknowledgement(outcome: .accepted, httpStatus: 200, accountID: accountID,
                                                         eventCount: 1, detail: "event \(change.event.id)")
            return .accepted(Job(webhook: KommoWebhook(account: account, events: [.lead(change.item)]),
                                 runtime: runtime, acknowledgement: acknowledgement, bytes: 0, origin: .eventLog))
        }, report: { position, webhookReport in
            let change = changes[position]
            guard let event = webhookReport.events.first else {
                let failure = PipelineError(code: .shutdown, detail: webhookReport.acknowledgement.detail)
                results[position] = CatchUpEventReport(event: change.event,
                                                       item: WebhookProcessor.describe(.lead(change.item)),
                                                       outcome: .failed(failure), messages: [])
                return
            }
            results[position] = CatchUpEventReport(event: change.event, item: event.item, outcome: event.outcome,
                                                   messages: event.messages)
        })
        if closed {
            throw CatchUpError(code: .shutdown, detail: "the pipeline began shutting down during the catch-up")
        }
        return results.compactMap { $0 }
    }

    private static func checkpointError(_ error: any Error, reading: Bool) -> CatchUpError {
        if let error = error as? CatchUpError { return error }
        return CatchUpError(code: .checkpointFailed,
                            detail: reading ? "the checkpoint could not be read" : "the checkpoint could not be moved",
                            underlyingError: error)
    }

    static func seconds(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        return seconds.isFinite ? Int64(exactly: seconds) ?? 0 : 0
    }

    /// Catches every account up every `interval` until shutdown begins; a run that fails is logged and counted,
    /// and the next one tries again.
    func catchUpOnSchedule(every interval: Duration) async {
        let draining = self.draining
        let clock = self.clock
        let accounts = runtimes.keys.sorted()
        while draining.value == nil && !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await clock.sleep(for: interval) }
                group.addTask { _ = await draining.wait() }
                await group.next()
                group.cancelAll()
            }
            guard draining.value == nil && !Task.isCancelled else { return }
            for accountID in accounts {
                guard draining.value == nil else { return }
                // Never further back than the look-back, however old the checkpoint (a long outage would
                // otherwise make one run read days of events).
                let earliest = wallClock.now.addingTimeInterval(-configuration.catchUp.lookBack.seconds)
                let stored = try? await checkpoints.checkpoint(for: accountID)
                let since = stored.flatMap { $0 }.map { Date(timeIntervalSince1970: TimeInterval($0 + 1)) }
                let request = CatchUpRequest(accountID: accountID, since: max(since ?? earliest, earliest))
                // Shutdown cancels a run in progress: what it had not finished fails, keeps the checkpoint before
                // it, and is read again by the next run.
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { _ = try? await self.catchUp(request) }
                    group.addTask { _ = await draining.wait() }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
    }
}
