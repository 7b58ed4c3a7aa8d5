import Foundation
import KommoAPI
import SegmentAPI

extension WebhookProcessor {
    /// Completes or releases claims, logs every failure, writes notes, counts, and builds the report.
    func finish(_ items: [Item], runtime: AccountRuntime, acknowledgement: WebhookAcknowledgement) async -> WebhookReport {
        let accountID = runtime.account.accountID
        var reports: [EventReport] = []
        var notes: [NewNote] = []
        for item in items {
            // A change that failed before its newest-change check lets the later changes of its lead go.
            if let turn = item.turn { runtime.sequencer.finish(turn) }
            let outcome = item.outcome ?? .failed(PipelineError(code: .webhook, detail: "not processed"))
            await settleClaim(item, outcome: outcome, accountID: accountID)
            let description = Self.describe(item.event)
            count(outcome, messages: item.messages.count)
            switch outcome {
            case .delivered:
                if runtime.account.writesNotes, case .lead(let lead) = item.event,
                   let track = item.messages.first(where: { $0.type == .track }) {
                    notes.append(.common(leadID: lead.id,
                                         text: configuration.noteText(track.event ?? "", track.messageID ?? "")))
                }
            case .failed(let error):
                logFailure(error, item: item, description: description, accountID: accountID)
            case .skipped(let reasons):
                logSkip(reasons, item: item, description: description, accountID: accountID)
            case .duplicate:
                logger.log(.debug, "event duplicate", ["account": String(accountID), "item": description])
            }
            reports.append(EventReport(index: item.index, item: description, outcome: outcome,
                                       messages: item.messages, partialSkips: item.partialSkips))
        }
        let (written, noteError) = await writeNotes(notes, runtime: runtime)
        return WebhookReport(acknowledgement: acknowledgement, events: reports, notesWritten: written,
                             noteError: noteError)
    }

    private func settleClaim(_ item: Item, outcome: EventOutcome, accountID: Int64) async {
        guard let claim = item.claim else { return }
        defer { heldHere.remove(claim.key.rawValue) }
        do {
            if case .failed = outcome {
                _ = try await store.release(claim.key, token: claim.token)
            } else {
                _ = try await store.complete(claim.key, token: claim.token, retention: configuration.retention)
            }
        } catch {
            logger.log(.warning, "deduplication store failed to record an outcome", [
                "account": String(accountID), "key": claim.key.rawValue, "cause": String(describing: error),
            ])
        }
    }

    private func count(_ outcome: EventOutcome, messages: Int) {
        counters.update { counters in
            switch outcome {
            case .delivered:
                counters.eventsDelivered += 1
                counters.messagesDelivered += messages
            case .skipped: counters.eventsSkipped += 1
            case .duplicate: counters.eventsDuplicate += 1
            case .failed:
                counters.eventsFailed += 1
                counters.messagesFailed += messages
            }
        }
    }

    /// One record per failed item, with everything needed to find and replay it; never a body value.
    private func logFailure(_ error: PipelineError, item: Item, description: String, accountID: Int64) {
        // A claim held elsewhere is another attempt at work, not a failure of it.
        logger.log(error.code == .claimedElsewhere ? .warning : .error, "event not delivered", {
            var metadata = [
                "account": String(accountID), "item": description, "code": error.code.description,
                "cause": error.underlyingError.map { String(describing: $0) } ?? error.detail,
            ]
            if case .lead(let lead) = item.event { metadata["lead"] = String(lead.id) }
            if let track = item.messages.first(where: { $0.type == .track }), let event = track.event {
                metadata["event"] = event
            }
            if !item.messages.isEmpty {
                metadata["messageIDs"] = item.messages.compactMap(\.messageID).joined(separator: ",")
            }
            if let segment = error.segmentError { metadata["segmentCode"] = segment.code.description }
            if let kommo = error.kommoError { metadata["kommoCode"] = kommo.code.description }
            return metadata
        }())
    }

    /// One record per item skipped on purpose (a deleted lead, a pipeline not mapped...), at `debug`: the reasons,
    /// so that an event that never reached Segment can be explained from the logs too.
    private func logSkip(_ reasons: [SkipReason], item: Item, description: String, accountID: Int64) {
        logger.log(.debug, "event skipped", {
            var metadata = ["account": String(accountID), "item": description,
                            "reasons": reasons.map(\.code.rawValue).joined(separator: ",")]
            if case .lead(let lead) = item.event { metadata["lead"] = String(lead.id) }
            return metadata
        }())
    }

    private func writeNotes(_ notes: [NewNote], runtime: AccountRuntime) async -> (Int, PipelineError?) {
        guard !notes.isEmpty else { return (0, nil) }
        do {
            let written = try await runtime.account.kommo.addNotes(notes).count
            counters.update { $0.notesWritten += written }
            return (written, nil)
        } catch {
            let failure = PipelineError(code: .kommo, detail: "writing notes failed", underlyingError: error)
            logger.log(.warning, "notes not written", [
                "account": String(runtime.account.accountID), "notes": String(notes.count),
                "cause": String(describing: error),
            ])
            return (0, failure)
        }
    }

    /// The item as logs and reports name it, e.g. `leads[status] 24000017`.
    static func describe(_ event: KommoWebhookEvent) -> String {
        switch event {
        case .lead(let lead): "leads[\(lead.action)] \(lead.id)"
        case .contact(let item): "contacts[\(item.action)] \(item.id)"
        case .company(let item): "companies[\(item.action)] \(item.id)"
        case .note(let note): "\(note.section)[note] \(note.id)"
        case .unknown(let item): "\(item.section)[\(item.action?.rawValue ?? "?")]"
        }
    }
}

extension DeduplicationKey {
    /// The store key of a webhook item: its first change (``KommoChange``) and its time; `nil` for items without a
    /// time (Digital Pipeline hooks), which then rely on the message ids alone, and for notes and unknown sections.
    public init?(item: KommoWebhookEvent, accountID: Int64) {
        guard let change = KommoChange.changes(of: item, accountID: accountID).first,
              let eventTime = change.eventTime else { return nil }
        self.init(accountID: accountID, entity: change.entity.rawValue, entityID: change.entityID,
                  change: change.deduplicationChange, eventTime: eventTime)
    }
}
