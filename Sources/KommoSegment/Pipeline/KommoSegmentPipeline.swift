import Foundation

/// The whole job, from a Kommo webhook to Segment: verify, parse, de-duplicate, fetch in batches, map, deliver, and
/// optionally write a note back.
///
/// A web service calls ``receive(body:contentType:requestTarget:)`` from its webhook route and answers with the
/// acknowledgement's ``WebhookAcknowledgement/httpStatus`` at once (Kommo waits only 2 seconds); fetching, mapping and
/// delivery go on in the background. Jobs, replays and tests call ``process(body:contentType:requestTarget:)``,
/// which returns when every item is delivered, skipped or failed. ``shutdown(timeout:)`` drains everything.
///
/// - **Authenticity.** Kommo does not sign webhooks: each account's webhook URL carries a secret
///   (``Configuration/secretLocation``), compared in constant time, and `account[id]` must be that account.
/// - **Batching.** All leads of a webhook are read in one `filter[id][]` request, then their contacts in one and their
///   companies in one; ids asked for by webhooks in flight at the same time are read together. Pipelines, users and
///   the account come from the client's cache. The client's rate limiter queues the rest.
/// - **Idempotency.** Message ids are deterministic (Segment drops repeats), and a ``DeduplicationStore`` claims each
///   item before any request, so a redelivered webhook is not even fetched again. A claim is completed when its
///   messages are delivered (or the item is skipped) and released when anything fails, so a redelivery is processed.
/// - **Ordering.** The store keeps each lead's newest change time; an older change is still tracked but sends no
///   `identify` or `group` that would overwrite newer traits.
public actor KommoSegmentPipeline {
    /// Settings shared by every account.
    public struct Configuration: Sendable {
        /// Where the secret sits in the webhook URL. Default: the query parameter `secret`.
        public var secretLocation: WebhookSecretLocation
        /// Whether an account without a secret is refused. Default: `true`.
        public var requiresSecret: Bool
        /// The webhook parser's limits (body size, depth, items).
        public var parserLimits: KommoWebhookParser.Limits
        /// How long a claim holds while an item is processed. Default: 10 minutes.
        public var claimDuration: Duration
        /// How long a processed item and a lead's newest change time are remembered. Default: 24 hours (Segment
        /// de-duplicates message ids for about as long).
        public var retention: Duration
        /// The text of a note written back, from the event name and the message id.
        public var noteText: @Sendable (_ event: String, _ messageID: String) -> String

        /// Creates a configuration.
        public init(secretLocation: WebhookSecretLocation = .queryParameter("secret"), requiresSecret: Bool = true,
                    parserLimits: KommoWebhookParser.Limits = .init(), claimDuration: Duration = .seconds(600),
                    retention: Duration = .seconds(86_400),
                    noteText: @escaping @Sendable (String, String) -> String = { event, id in
                        "Segment: \(event) sent (message \(id))"
                    }) {
            self.secretLocation = secretLocation
            self.requiresSecret = requiresSecret
            self.parserLimits = parserLimits
            self.claimDuration = claimDuration
            self.retention = retention
            self.noteText = noteText
        }
    }

    private struct AccountState {
        let account: KommoSegmentAccount
        let mapper: KommoEventMapper
        let queue: SegmentQueue
        let tracker: DeliveryTracker
        let leads: CoalescingFetcher<Lead>
        let contacts: CoalescingFetcher<Contact>
        let companies: CoalescingFetcher<Company>
    }

    /// The settings in force.
    public let configuration: Configuration
    private let accounts: [Int64: AccountState]
    private let store: any DeduplicationStore
    private let parser: KommoWebhookParser
    private let log: (@Sendable (PipelineLogRecord) -> Void)?
    private let time: any TimeSource
    private var counters = PipelineCounters()
    private var referenceReads = 0
    private var background: [UInt64: Task<Void, Never>] = [:]
    private var nextTaskID: UInt64 = 0
    private var isShuttingDown = false

    /// Creates a pipeline for one or more accounts.
    /// - Parameters:
    ///   - accounts: the Kommo accounts served, each with its Kommo client, Segment destination and mapping.
    ///   - configuration: secret location, parser limits, claim and retention times.
    ///   - deduplication: the store of processed items; an in-memory one by default (use a shared one, such as
    ///     Redis, when several instances serve the same webhooks: see `Documentation/Idempotency.md`).
    ///   - time: the clock of the Segment queues.
    ///   - log: an optional handler for log records (static messages, no secrets); silent by default.
    public init(accounts: [KommoSegmentAccount], configuration: Configuration = .init(),
                deduplication: any DeduplicationStore = InMemoryDeduplicationStore(),
                time: any TimeSource = SystemTimeSource(),
                log: (@Sendable (PipelineLogRecord) -> Void)? = nil) {
        self.configuration = configuration
        self.store = deduplication
        self.parser = KommoWebhookParser(limits: configuration.parserLimits)
        self.log = log
        self.time = time
        var states: [Int64: AccountState] = [:]
        for account in accounts {
            let tracker = DeliveryTracker()
            let queue = SegmentQueue(client: account.segment, configuration: account.queueConfiguration, time: time,
                                     onDelivery: { event in Task { await tracker.record(event) } })
            let kommo = account.kommo
            states[account.accountID] = AccountState(
                account: account, mapper: KommoEventMapper(configuration: account.mapping,
                                         integration: SegmentLibraryInfo(name: "kommo", version: SDKInfo.version)),
                queue: queue,
                tracker: tracker,
                leads: CoalescingFetcher { ids in
                    Dictionary(try await kommo.leads(ids: ids).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                },
                contacts: CoalescingFetcher { ids in
                    Dictionary(try await kommo.contacts(ids: ids).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                },
                companies: CoalescingFetcher { ids in
                    Dictionary(try await kommo.companies(ids: ids).map { ($0.id, $0) },
                               uniquingKeysWith: { a, _ in a })
                })
        }
        self.accounts = states
    }

    // MARK: - Entry points

    /// Verifies and parses a webhook and hands it to background processing; returns at once.
    ///
    /// - Parameters:
    ///   - body: the raw request body.
    ///   - contentType: the request's `Content-Type` header.
    ///   - requestTarget: the request's path and query (or full URL), where the secret is.
    /// - Returns: what to answer; only cheap checks run before it (no Kommo request).
    public func receive(body: Data, contentType: String?, requestTarget: String) -> WebhookAcknowledgement {
        let (acknowledgement, accepted) = verify(body: body, contentType: contentType, requestTarget: requestTarget)
        guard let (webhook, state) = accepted else { return acknowledgement }
        nextTaskID += 1
        let id = nextTaskID
        background[id] = Task {
            _ = await self.run(webhook, state: state, acknowledgement: acknowledgement, flush: false)
            self.background[id] = nil
        }
        return acknowledgement
    }

    /// Verifies, parses and processes a webhook to completion: every item delivered, skipped or failed.
    ///
    /// Queued messages are sent at once rather than after the queue's interval, so a replay of many files does not
    /// wait. Use it for replays, jobs and tests.
    public func process(body: Data, contentType: String?, requestTarget: String) async -> WebhookReport {
        let (acknowledgement, accepted) = verify(body: body, contentType: contentType, requestTarget: requestTarget)
        guard let (webhook, state) = accepted else {
            return WebhookReport(acknowledgement: acknowledgement, events: [], notesWritten: 0, noteError: nil)
        }
        return await run(webhook, state: state, acknowledgement: acknowledgement, flush: true)
    }

    /// A snapshot of the counters.
    public var statistics: PipelineCounters {
        get async {
            var snapshot = counters
            var requests = 0
            var fetchedReference = 0
            for state in accounts.values {
                if let counter = state.account.requestCounter {
                    let byPath = counter.byPath
                    requests += counter.total
                    fetchedReference += Self.referencePaths.reduce(0) { $0 + (byPath[$1] ?? 0) }
                }
                snapshot.segmentRetries += await state.queue.statistics.retries
            }
            snapshot.kommoRequests = requests
            snapshot.kommoCacheHits = max(referenceReads - fetchedReference, 0)
            return snapshot
        }
    }

    private static let referencePaths = ["/api/v4/leads/pipelines", "/api/v4/users", "/api/v4/account"]

    /// Stops accepting webhooks, lets the webhooks in flight finish, drains the Segment queues, and reports what
    /// could not be delivered.
    ///
    /// New webhooks are answered 503 at once. Work in flight goes on for up to `timeout`, its messages sent as soon as
    /// they are queued rather than after the queue's interval; then each account's queue shuts down with the time
    /// left (see `SegmentQueue.shutdown(timeout:)`): messages not delivered by then fail, and their items release
    /// their claims so that a redelivery or a replay processes them again. An item still reading from Kommo at that
    /// point fails to queue its messages and releases its claim too.
    /// - Parameter timeout: how long shutdown may wait for work in flight and for the queues to drain.
    /// - Returns: the messages that could not be delivered, across accounts.
    public func shutdown(timeout: Duration = .seconds(75)) async -> [SegmentMessage] {
        isShuttingDown = true
        let started = time.now
        // Messages already queued by work in flight go out now.
        for state in accounts.values { _ = await state.queue.flush(timeout: timeout) }
        let elapsed = Duration.clampedSeconds(time.now.timeIntervalSince(started))
        await waitForWorkInFlight(upTo: timeout - elapsed)
        let left = max(timeout - Duration.clampedSeconds(time.now.timeIntervalSince(started)), .zero)
        var undelivered: [SegmentMessage] = []
        for state in accounts.values {
            undelivered += await state.queue.shutdown(timeout: left).undelivered
        }
        while let (_, task) = background.first {
            await task.value
        }
        return undelivered
    }

    /// Waits until no webhook is in flight, or `limit` has passed on the pipeline's clock.
    private func waitForWorkInFlight(upTo limit: Duration) async {
        let tasks = Array(background.values)
        guard !tasks.isEmpty, limit > .zero else { return }
        let time = self.time
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for task in tasks { await task.value }
            }
            group.addTask {
                try? await time.sleep(for: limit)
            }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Verification

    private func verify(body: Data, contentType: String?, requestTarget: String)
        -> (WebhookAcknowledgement, (KommoWebhook, AccountState)?) {
        counters.webhooks += 1
        func reject(_ outcome: WebhookAcknowledgement.Outcome, _ detail: String,
                    accountID: Int64? = nil) -> (WebhookAcknowledgement, (KommoWebhook, AccountState)?) {
            counters.webhooksRejected += 1
            emit(.warning, "webhook rejected", ["outcome": outcome.rawValue, "account": accountID.map(String.init) ?? "-"])
            return (.rejected(outcome, detail, accountID: accountID), nil)
        }
        if isShuttingDown { return reject(.shuttingDown, "the pipeline is shutting down") }
        if body.count > configuration.parserLimits.maxBodyBytes {
            return reject(.tooLarge, "the body has \(body.count) bytes (limit \(configuration.parserLimits.maxBodyBytes))")
        }
        // The secret is checked before the body is parsed: a forged request costs no parsing.
        let candidate = configuration.secretLocation.candidate(in: requestTarget)
        let secretOwners = accounts.values.filter { state in
            guard let secret = state.account.secret, let candidate else { return false }
            return secret.matches(candidate)
        }
        let openAccounts = configuration.requiresSecret ? [] : accounts.values.filter { $0.account.secret == nil }
        if secretOwners.isEmpty && openAccounts.isEmpty {
            return reject(.badSecret, candidate == nil ? "the URL carries no secret" : "the URL's secret is wrong")
        }
        let webhook: KommoWebhook
        do {
            webhook = try parser.parse(body: body, contentType: contentType)
        } catch {
            switch error.code {
            case .bodyTooLarge: return reject(.tooLarge, error.description)
            case .unsupportedContentType: return reject(.unsupportedMediaType, error.description)
            default: return reject(.malformed, error.description)
            }
        }
        let accountID = webhook.account.id
        let candidates = secretOwners.isEmpty ? openAccounts : secretOwners
        guard let state = candidates.first(where: { $0.account.accountID == accountID }) else {
            // Name the secret only when one decided the candidates (replays and open routes have none).
            let reason = secretOwners.isEmpty ? "is not served by this pipeline" : "is not served with this secret"
            return reject(.otherAccount, "account \(accountID) \(reason)", accountID: accountID)
        }
        emit(.debug, "webhook accepted", ["account": String(accountID), "items": String(webhook.events.count)])
        let acknowledgement = WebhookAcknowledgement(outcome: .accepted, httpStatus: 200, accountID: accountID,
                                                     eventCount: webhook.events.count, detail: "accepted")
        return (acknowledgement, (webhook, state))
    }

    // MARK: - Processing

    /// One item on its way through the pipeline.
    private struct Item {
        let index: Int
        let event: KommoWebhookEvent
        var claim: (key: DeduplicationKey, token: String)?
        var outcome: EventOutcome?
        var messages: [SegmentMessage] = []
        var partialSkips: [SkipReason] = []
    }

    private func run(_ webhook: KommoWebhook, state: AccountState, acknowledgement: WebhookAcknowledgement,
                     flush: Bool) async -> WebhookReport {
        let accountID = webhook.account.id
        var items = webhook.events.enumerated().map { Item(index: $0.offset, event: $0.element) }
        counters.events += items.count

        // 1. Claim every item that can be keyed, before any request.
        for index in items.indices {
            guard let key = Self.deduplicationKey(for: items[index].event, accountID: accountID) else { continue }
            do {
                switch try await store.claim(key, for: configuration.claimDuration) {
                case .claimed(let token): items[index].claim = (key, token)
                case .alreadyDone, .inFlight: items[index].outcome = .duplicate
                }
            } catch {
                // A store that cannot answer must not stop delivery: message ids still de-duplicate in Segment.
                emit(.warning, "deduplication store failed; processing anyway", ["account": String(accountID)])
            }
        }

        // 2. Fetch what the remaining items need, in batches.
        let open = items.indices.filter { items[$0].outcome == nil }
        let fetched: Fetched
        do {
            fetched = try await fetch(for: open.map { items[$0].event }, state: state)
        } catch {
            let failure = PipelineError(code: .kommo, detail: String(describing: error))
            for index in open { items[index].outcome = .failed(failure) }
            emit(.error, "reading from Kommo failed", ["account": String(accountID), "error": failure.detail])
            return await finish(items, state: state, acknowledgement: acknowledgement)
        }

        // 3. Map (pure), with the status/update pairs of one change collapsed by the mapper.
        let openEvents = open.map { items[$0].event }
        let subset = KommoWebhook(account: webhook.account, events: openEvents)
        let results = state.mapper.map(subset) { event in
            fetched.context(for: event, accountID: accountID)
        }
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

        // 4. Ordering: an older change than the newest applied sends no identify or group.
        for index in open where !items[index].messages.isEmpty {
            guard case .lead(let lead) = items[index].event, let time = lead.eventTime else { continue }
            let seconds = Int64(time.timeIntervalSince1970)
            let entity = DeduplicationEntityKey(accountID: accountID, leadID: lead.id)
            let isNewest: Bool
            do {
                isNewest = try await store.recordChangeTime(seconds, for: entity, retention: configuration.retention)
            } catch {
                isNewest = true
            }
            if !isNewest {
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

        // 5. Deliver: each item's calls are queued together, then the item waits for their outcome.
        var waiting: [(index: Int, ids: [String])] = []
        for index in open where items[index].outcome == nil {
            let ids = items[index].messages.compactMap(\.messageID)
            await state.tracker.expect(ids)
            do {
                _ = try await state.queue.enqueueAllWaiting(items[index].messages)
                waiting.append((index, ids))
            } catch {
                await state.tracker.forget(ids)
                items[index].outcome = .failed(PipelineError(code: .segment, detail: String(describing: error)))
            }
        }
        if (flush || isShuttingDown) && !waiting.isEmpty { await state.queue.flush() }
        for (index, ids) in waiting {
            let outcomes = await state.tracker.outcomes(ids)
            if let failure = ids.lazy.compactMap({ outcomes[$0] ?? nil }).first {
                items[index].outcome = .failed(PipelineError(code: .segment, detail: failure.description))
            } else {
                items[index].outcome = .delivered
            }
        }
        return await finish(items, state: state, acknowledgement: acknowledgement)
    }

    /// Completes or releases claims, writes notes, counts, and builds the report.
    private func finish(_ items: [Item], state: AccountState,
                        acknowledgement: WebhookAcknowledgement) async -> WebhookReport {
        var reports: [EventReport] = []
        var notes: [NewNote] = []
        for item in items {
            let outcome = item.outcome ?? .failed(PipelineError(code: .webhook, detail: "not processed"))
            if let claim = item.claim {
                do {
                    if case .failed = outcome {
                        _ = try await store.release(claim.key, token: claim.token)
                    } else {
                        _ = try await store.complete(claim.key, token: claim.token, retention: configuration.retention)
                    }
                } catch {
                    emit(.warning, "deduplication store failed to record an outcome", [:])
                }
            }
            switch outcome {
            case .delivered:
                counters.eventsDelivered += 1
                counters.messagesDelivered += item.messages.count
                if state.account.writesNotes, case .lead(let lead) = item.event,
                   let track = item.messages.first(where: { $0.type == .track }) {
                    notes.append(.common(leadID: lead.id,
                                         text: configuration.noteText(track.event ?? "", track.messageID ?? "")))
                }
            case .skipped: counters.eventsSkipped += 1
            case .duplicate: counters.eventsDuplicate += 1
            case .failed:
                counters.eventsFailed += 1
                counters.messagesFailed += item.messages.count
            }
            reports.append(EventReport(index: item.index, item: Self.describe(item.event), outcome: outcome,
                                       messages: item.messages, partialSkips: item.partialSkips))
        }
        var written = 0
        var noteError: String?
        if !notes.isEmpty {
            do {
                written = try await state.account.kommo.addNotes(notes).count
                counters.notesWritten += written
            } catch {
                noteError = String(describing: error)
                emit(.warning, "writing notes failed", ["account": String(state.account.accountID)])
            }
        }
        return WebhookReport(acknowledgement: acknowledgement, events: reports, notesWritten: written,
                             noteError: noteError)
    }

    // MARK: - Fetching

    /// What was read from Kommo for one webhook.
    private struct Fetched {
        var leads: [Int64: Lead] = [:]
        var contacts: [Int64: Contact] = [:]
        var companies: [Int64: Company] = [:]
        var pipelines: [Pipeline] = []
        /// Users by id, built once per webhook rather than once per item.
        var usersByID: [Int64: User] = [:]
        var currency: String?

        func context(for event: KommoWebhookEvent, accountID: Int64) -> DealContext {
            switch event {
            case .lead(let item):
                let lead = leads[item.id]
                let contact = lead?.mainContactID.flatMap { contacts[$0] }
                let company = lead?.companyID.flatMap { companies[$0] }
                return DealContext(accountID: accountID, lead: lead, contact: contact, company: company,
                                   pipelines: pipelines, usersByID: usersByID, accountCurrency: currency)
            case .contact(let item), .company(let item):
                let contact = contacts[item.id]
                let company = contact?.companyID.flatMap { companies[$0] }
                return DealContext(accountID: accountID, contact: contact, company: company, pipelines: pipelines,
                                   usersByID: usersByID, accountCurrency: currency)
            default:
                return DealContext(accountID: accountID, pipelines: pipelines, usersByID: usersByID,
                                   accountCurrency: currency)
            }
        }
    }

    private func fetch(for events: [KommoWebhookEvent], state: AccountState) async throws -> Fetched {
        var fetched = Fetched()
        var leadIDs: [Int64] = []
        var contactIDs: [Int64] = []
        for event in events {
            switch event {
            case .lead(let lead) where lead.action != .delete && lead.action != .note: leadIDs.append(lead.id)
            case .contact(let contact) where contact.action != .delete: contactIDs.append(contact.id)
            default: break
            }
        }
        guard !leadIDs.isEmpty || !contactIDs.isEmpty else { return fetched }
        fetched.leads = try await state.leads.fetch(leadIDs)
        contactIDs += fetched.leads.values.compactMap(\.mainContactID)
        fetched.contacts = try await state.contacts.fetch(contactIDs)
        let companyIDs = fetched.leads.values.compactMap(\.companyID) + fetched.contacts.values.compactMap(\.companyID)
        fetched.companies = try await state.companies.fetch(companyIDs)
        let kommo = state.account.kommo
        referenceReads += 2
        fetched.pipelines = try await kommo.pipelines()
        for user in try await kommo.users() ?? [] { fetched.usersByID[user.id] = user }
        if state.account.mapping.currency == nil {
            referenceReads += 1
            fetched.currency = try await kommo.account().currency
        }
        return fetched
    }

    // MARK: - Helpers

    /// The store key of an item: account, entity, id, the change and its time; `nil` for items without a time
    /// (Digital Pipeline hooks), which then rely on the message ids alone.
    static func deduplicationKey(for event: KommoWebhookEvent, accountID: Int64) -> DeduplicationKey? {
        switch event {
        case .lead(let lead):
            guard let time = lead.eventTime else { return nil }
            let change: String
            if lead.isStageChange {
                change = "stage:\(lead.oldStatusID.map(String.init) ?? "~")>\(lead.statusID.map(String.init) ?? "~")"
            } else if lead.isOwnerChange {
                change = "owner:\(lead.oldResponsibleUserID.map(String.init) ?? "~")>"
                    + "\(lead.responsibleUserID.map(String.init) ?? "~")"
            } else {
                change = lead.action.rawValue
            }
            return DeduplicationKey(accountID: accountID, entity: "lead", entityID: lead.id, change: change,
                                    eventTime: Int64(time.timeIntervalSince1970))
        case .contact(let item), .company(let item):
            guard let time = item.eventTime else { return nil }
            return DeduplicationKey(accountID: accountID, entity: item.entityType.rawValue, entityID: item.id,
                                    change: item.action.rawValue, eventTime: Int64(time.timeIntervalSince1970))
        default:
            return nil
        }
    }

    private static func describe(_ event: KommoWebhookEvent) -> String {
        switch event {
        case .lead(let lead): "leads[\(lead.action)] \(lead.id)"
        case .contact(let item): "contacts[\(item.action)] \(item.id)"
        case .company(let item): "companies[\(item.action)] \(item.id)"
        case .note(let note): "\(note.section)[note] \(note.id)"
        case .unknown(let item): "\(item.section)[\(item.action?.rawValue ?? "?")]"
        }
    }

    private func emit(_ level: PipelineLogRecord.Level, _ message: String, _ metadata: [String: String]) {
        log?(PipelineLogRecord(level: level, message: message, metadata: metadata))
    }
}

extension SkipReason.Code {
    /// A newer change of the same lead was already applied, so this call would have overwritten newer traits.
    public static let olderThanNewestChange = SkipReason.Code(rawValue: "olderThanNewestChange")
}
