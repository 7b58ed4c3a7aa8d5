import Foundation
import SDKCore

/// What a backfill sends: the won leads of an account, optionally only those closed since a time.
public struct BackfillRequest: Sendable, Hashable {
    /// The Kommo account; the pipeline must serve it.
    public var accountID: Int64
    /// Only leads closed at or after this time (`filter[closed_at][from]`); `nil`: every won lead.
    public var closedSince: Date?
    /// Only leads closed at or before this time (`filter[closed_at][to]`); `nil`: up to now. With
    /// ``includeTrack``, end it where the webhooks took over, so that no Deal Won is sent both ways.
    public var closedUntil: Date?
    /// Whether the historical Deal Won `track` is sent too, its `timestamp` the lead's `closed_at`. Default: `false`.
    public var includeTrack: Bool

    /// A request.
    public init(accountID: Int64, closedSince: Date? = nil, closedUntil: Date? = nil, includeTrack: Bool = false) {
        self.accountID = accountID
        self.closedSince = closedSince
        self.closedUntil = closedUntil
        self.includeTrack = includeTrack
    }
}

/// How far a backfill has got.
public struct BackfillProgress: Sendable, Hashable {
    /// Pages of won leads read.
    public var pages: Int
    /// Won leads read.
    public var leads: Int
    /// Leads whose messages Segment accepted (known once delivery is done).
    public var sent: Int
}

/// What became of one won lead in a backfill.
public struct BackfillLeadReport: Sendable, Hashable {
    /// The lead's id.
    public var leadID: Int64
    /// Delivered, skipped (no contact, no email...) or failed.
    public var outcome: EventOutcome
    /// The messages sent, or that would have been.
    public var messages: [SegmentMessage]
    /// Calls left out while others were sent (a `group` without a company).
    public var partialSkips: [SkipReason]
}

/// What a backfill did.
public struct BackfillReport: Sendable, Hashable {
    /// The account.
    public var accountID: Int64
    /// Pages of won leads read.
    public var pages: Int
    /// One report per won lead, in Kommo's order.
    public var leads: [BackfillLeadReport]

    /// Leads whose messages were delivered.
    public var sent: Int { leads.filter { if case .delivered = $0.outcome { true } else { false } }.count }
    /// Leads skipped on purpose.
    public var skipped: Int { leads.filter { if case .skipped = $0.outcome { true } else { false } }.count }
    /// Leads whose messages failed.
    public var failed: Int { leads.filter { if case .failed = $0.outcome { true } else { false } }.count }
}

extension KommoSegmentPipeline {
    /// Tells Segment about the customers the account already has: for every lead in a won stage now (in any
    /// pipeline), the `identify` of its main contact with the traits of a Deal Won and the `group` of its company,
    /// and with ``BackfillRequest/includeTrack`` the historical Deal Won
    /// (``KommoEventMapper/mapWonLead(_:context:includeTrack:)``).
    ///
    /// Requests: the pipelines (cached), the won leads 250 a page with their contacts embedded, then their main
    /// contacts and their companies by id in batches of up to 250 (each URL under the client's
    /// ``HTTPKommoClient/Configuration/maxURLLength``), and the users and the account (cached): 600 won leads take
    /// about a dozen requests, all under the rate limiter. Message ids are deterministic, so running it again
    /// sends the same ids (`Documentation/MessageIDs.md`); the deduplication store is not used.
    ///
    /// ``run()`` must be running (it delivers the messages).
    /// - Throws: ``CatchUpError`` when Kommo cannot be read or the account is not served. Leads that fail one by
    ///   one are in the report.
    public func backfill(_ request: BackfillRequest,
                         progress: (BackfillProgress) -> Void = { _ in }) async throws(CatchUpError) -> BackfillReport {
        guard let runtime = runtimes[request.accountID] else {
            throw CatchUpError(code: .accountNotServed,
                               detail: "account \(request.accountID) is not served by this pipeline")
        }
        let kommo = runtime.account.kommo
        var live = BackfillProgress(pages: 0, leads: 0, sent: 0)
        var report = BackfillReport(accountID: request.accountID, pages: 0, leads: [])
        let leads: [Lead]
        var fetched = FetchedContext(accountID: request.accountID)
        do {
            let pipelines = try await kommo.pipelines()
            let won = runtime.mapper.configuration.wonStatusIDs.sorted()
            let stages = pipelines.flatMap { pipeline in
                won.map { KommoLeadQuery.StageFilter(pipelineID: pipeline.id, statusID: $0) }
            }
            let query = KommoLeadQuery(statuses: stages, closedFrom: request.closedSince.map(Self.seconds),
                                       closedTo: request.closedUntil.map(Self.seconds))
            var found: [Lead] = []
            var seen = Set<Int64>()
            var page = 1
            while !stages.isEmpty {
                let read = try await kommo.leads(query, page: page)
                report.pages += 1
                for lead in read.items where seen.insert(lead.id).inserted { found.append(lead) }
                live.pages = report.pages
                live.leads = found.count
                progress(live)
                guard read.hasNext, !read.items.isEmpty, page < configuration.catchUp.maxPages else { break }
                page += 1
            }
            leads = found
            for lead in leads { fetched.leads[lead.id] = lead }
            fetched.contacts = AccountRuntime.byID(try await kommo.contacts(ids: leads.compactMap(\.mainContactID)),
                                                   id: \.id)
            fetched.companies = AccountRuntime.byID(try await kommo.companies(ids: leads.compactMap(\.companyID)),
                                                    id: \.id)
            fetched.pipelines = pipelines
            for user in try await kommo.users() ?? [] { fetched.usersByID[user.id] = user }
            if runtime.account.mapping.currency == nil { fetched.currency = try await kommo.account().currency }
        } catch {
            let failure = CatchUpError(code: .kommo, detail: "reading the won leads from Kommo failed",
                                       underlyingError: error)
            logger.log(.error, "backfill failed", ["account": String(request.accountID), "cause": failure.description])
            throw failure
        }

        // Map every lead, queue every message, flush once, then wait for each lead's ticket.
        var tickets: [SegmentDeliveryTicket?] = []
        for lead in leads {
            let event = KommoWebhookEvent.lead(LeadEvent(action: .status, id: lead.id))
            let result = runtime.mapper.mapWonLead(lead, context: fetched.context(for: event),
                                                   includeTrack: request.includeTrack)
            guard !result.messages.isEmpty else {
                report.leads.append(BackfillLeadReport(leadID: lead.id, outcome: .skipped(result.skipped), messages: [],
                                                       partialSkips: []))
                tickets.append(nil)
                continue
            }
            report.leads.append(BackfillLeadReport(leadID: lead.id, outcome: .delivered, messages: result.messages,
                                                   partialSkips: result.skipped))
            do {
                tickets.append(try await runtime.queue.enqueueWaiting(result.messages))
            } catch {
                report.leads[report.leads.count - 1].outcome = .failed(PipelineError(
                    code: .segment, detail: "queueing failed", underlyingError: error))
                tickets.append(nil)
            }
        }
        _ = await runtime.queue.flush()
        for (index, ticket) in tickets.enumerated() {
            guard let ticket else { continue }
            do {
                if case .failed(let error) = try await ticket.outcome() {
                    report.leads[index].outcome = .failed(PipelineError(
                        code: .segment, detail: "Segment did not accept the messages", underlyingError: error))
                }
            } catch {
                report.leads[index].outcome = .failed(PipelineError(
                    code: .shutdown, detail: "the pipeline stopped waiting for delivery", underlyingError: error))
            }
        }
        live.sent = report.sent
        progress(live)
        counters.update {
            $0.backfillLeadsSent += report.sent
            $0.messagesDelivered += report.leads.reduce(0) {
                if case .delivered = $1.outcome { $0 + $1.messages.count } else { $0 }
            }
        }
        for lead in report.leads {
            if case .failed(let error) = lead.outcome {
                logger.log(.error, "backfill lead not delivered", [
                    "account": String(request.accountID), "lead": String(lead.leadID), "code": error.code.description,
                    "messageIDs": lead.messages.compactMap(\.messageID).joined(separator: ","),
                    "cause": error.underlyingError.map { String(describing: $0) } ?? error.detail,
                ])
            }
        }
        logger.log(report.failed == 0 ? .info : .error, "backfill finished", [
            "account": String(request.accountID), "pages": String(report.pages), "leads": String(report.leads.count),
            "sent": String(report.sent), "skipped": String(report.skipped), "failed": String(report.failed),
        ])
        return report
    }
}
