import Foundation
import KommoAPI
import SegmentAPI

/// What the pipeline does with its inbox: keeps each accepted webhook before the acknowledgement, holds a record's
/// lease while it is processed, and settles the record from the report.
///
/// A value without state of its own, like ``WebhookProcessor``.
struct InboxKeeper: Sendable {
    let inbox: any WebhookInbox
    let configuration: KommoSegmentPipeline.Configuration
    let logger: SDKLogger
    let counters: PipelineCounterBox
    let clock: MonotonicClock
    let wallClock: WallClock

    /// What became of a record.
    enum Settlement: Sendable, Hashable {
        /// Done and deleted.
        case completed
        /// Kept for another attempt, not before the date.
        case retried(notBefore: Date)
        /// Moved to the dead letters, with the reason.
        case deadLettered(String)
        /// Could not be settled (the inbox failed or the lease was lost): the lease expires and the record is tried
        /// again.
        case unsettled
    }

    /// Keeps the webhook durably; returns the record's id.
    func append(body: Data, contentType: String?, accountID: Int64) async throws(InboxError) -> String {
        let now = wallClock.now
        let record = InboxRecord(id: InboxRecord.makeID(receivedAt: now), accountID: accountID, receivedAt: now,
                                 contentType: contentType, body: body)
        do {
            try await inbox.append(record)
        } catch {
            counters.update { $0.inboxAppendFailures += 1 }
            logger.log(.error, "webhook not kept in the inbox; answered 503", [
                "account": String(accountID), "code": error.code.description, "cause": error.detail,
            ])
            throw error
        }
        return record.id
    }

    /// Takes a record for processing; `nil` when another worker holds it, it is gone, or the inbox failed (logged).
    func lease(_ id: String) async -> (InboxRecord, InboxLease)? {
        do {
            return try await inbox.lease(id, for: configuration.inboxLeaseDuration)
        } catch {
            logger.log(.error, "inbox record could not be leased", [
                "record": id, "code": error.code.description, "cause": error.detail,
            ])
            return nil
        }
    }

    /// Gives a record back untouched.
    func release(_ lease: InboxLease) async {
        do {
            try await inbox.release(lease)
        } catch {
            logger.log(.warning, "inbox lease not released; it expires on its own", [
                "record": lease.recordID, "code": error.code.description,
            ])
        }
    }

    /// Runs `body` while renewing the lease every third of its duration.
    func holding<Result: Sendable>(_ lease: InboxLease, _ body: () async -> Result) async -> Result {
        // Never awaited: leaving the scope cancels the renewal loop and waits for it.
        async let _ = renew(lease)
        return await body()
    }

    private func renew(_ lease: InboxLease) async {
        let duration = configuration.inboxLeaseDuration
        await clock.repeating(every: duration / 3) {
            do throws(InboxError) {
                guard try await inbox.renew(lease, for: duration) != nil else {
                    logger.log(.warning, "inbox lease lost; another worker may take the record over",
                               ["record": lease.recordID])
                    return false
                }
            } catch {
                logger.log(.warning, "inbox lease not renewed", [
                    "record": lease.recordID, "code": error.code.description,
                ])
            }
            return true
        }
    }

    /// Settles a processed record from its report: deleted, kept with backoff, or a dead letter.
    func settle(_ report: WebhookReport, record: InboxRecord, lease: InboxLease) async -> Settlement {
        switch Self.verdict(for: report) {
        case .complete:
            do {
                try await inbox.complete(lease)
            } catch {
                return unsettled(record, error)
            }
            counters.update { $0.inboxRecordsCompleted += 1 }
            return .completed
        case .retry(let reason, let immediately):
            let delay = immediately ? .zero : backoff(afterAttempts: record.attempts)
            let notBefore = wallClock.now.addingTimeInterval(delay.seconds)
            do {
                try await inbox.retryLater(lease, failure: reason, notBefore: notBefore)
            } catch {
                return unsettled(record, error)
            }
            counters.update { $0.inboxRecordsRetried += 1 }
            logger.log(.warning, "inbox record kept for another attempt", [
                "record": record.id, "account": String(record.accountID), "attempts": String(record.attempts + 1),
                "retryIn": "\(Int(delay.seconds)) s", "cause": reason,
            ])
            return .retried(notBefore: notBefore)
        case .dead(let reason):
            return await deadLetter(lease, record: record, reason: reason)
        }
    }

    private func unsettled(_ record: InboxRecord, _ error: InboxError) -> Settlement {
        logger.log(.error, "inbox record not settled; its lease expires and it is tried again", [
            "record": record.id, "code": error.code.description, "cause": error.detail,
        ])
        return .unsettled
    }

    /// Moves a record that cannot be processed at all to the dead letters.
    func deadLetter(_ lease: InboxLease, record: InboxRecord, reason: String) async -> Settlement {
        do {
            try await inbox.deadLetter(lease, reason: reason)
        } catch {
            return unsettled(record, error)
        }
        counters.update { $0.inboxRecordsDeadLettered += 1 }
        logger.log(.error, "inbox record moved to the dead letters", [
            "record": record.id, "account": String(record.accountID), "reason": reason,
        ])
        return .deadLettered(reason)
    }

    /// The wait before attempt `attempts + 1`: the initial backoff doubled per attempt, up to the maximum.
    func backoff(afterAttempts attempts: Int) -> Duration {
        var delay = configuration.inboxRetryBackoff
        for _ in 0..<min(max(attempts, 0), 32) where delay < configuration.inboxMaximumRetryBackoff {
            delay *= 2
        }
        return min(delay, configuration.inboxMaximumRetryBackoff)
    }

    enum Verdict: Equatable {
        case complete
        case retry(String, immediately: Bool)
        case dead(String)
    }

    /// A record is done when every item is delivered, skipped or a duplicate; it is retried when any item failed in
    /// passing; it is a dead letter when every failure is permanent.
    static func verdict(for report: WebhookReport) -> Verdict {
        let failures = report.events.compactMap { event -> PipelineError? in
            if case .failed(let error) = event.outcome { error } else { nil }
        }
        if !report.acknowledgement.isAccepted {
            return .dead("\(report.acknowledgement.outcome): \(report.acknowledgement.detail)")
        }
        guard !failures.isEmpty else { return .complete }
        let passing = failures.filter { !isPermanent($0) }
        if let first = passing.first {
            return .retry(reason(first), immediately: passing.allSatisfy { $0.code == .shutdown })
        }
        return .dead(reason(failures[0]))
    }

    /// A 4xx from Segment other than 429, a message Segment can never take, or an account no longer served.
    static func isPermanent(_ error: PipelineError) -> Bool {
        if error.code == .accountNotServed { return true }
        guard error.code == .segment, let segment = error.segmentError else { return false }
        let permanent: [SegmentError.Code] = [.rejected, .missingIdentity, .missingEvent, .missingGroupID,
                                              .missingPreviousID, .invalidMessageID, .invalidType, .messageTooLarge,
                                              .invalidConfiguration]
        return permanent.contains(segment.code)
    }

    /// The code, the static detail and, for Segment and Kommo, their code and status: never a body value.
    static func reason(_ error: PipelineError) -> String {
        var reason = "\(error.code): \(error.detail)"
        if let segment = error.segmentError {
            reason += " (Segment \(segment.code)\(segment.status.map { ", HTTP \($0)" } ?? ""))"
        } else if let kommo = error.kommoError {
            reason += " (Kommo \(kommo.code)\(kommo.status.map { ", HTTP \($0)" } ?? ""))"
        }
        return reason
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
