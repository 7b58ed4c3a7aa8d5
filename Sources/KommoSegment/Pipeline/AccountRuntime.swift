import KommoAPI
import SegmentAPI

/// What the pipeline holds for one account: the account, its mapper, its Segment queue, its batch fetchers, and
/// what coordinates the webhooks of a burst (their stages and the order of their lead changes).
struct AccountRuntime: Sendable {
    let account: KommoSegmentAccount
    let mapper: KommoEventMapper
    let queue: SegmentQueue
    let leads: CoalescingFetcher<Lead>
    let contacts: CoalescingFetcher<Contact>
    let companies: CoalescingFetcher<Company>
    let stages = BurstStages()
    let sequencer = ChangeSequencer()

    init(account: KommoSegmentAccount, clock: any Clock<Duration>, wallClock: WallClock, log: (any LogSink)?,
         gatherWindow: Duration) {
        self.account = account
        mapper = KommoEventMapper(configuration: account.mapping)
        queue = SegmentQueue(client: account.segment, configuration: account.queueConfiguration, clock: clock,
                             wallClock: wallClock, log: log)
        let kommo = account.kommo
        let stages = self.stages
        let monotonic = MonotonicClock(clock)
        // A round's leader waits for the burst's other webhooks to ask (at most the window), then for the rate
        // limiter's next start, and only then takes the ids: a request that must wait carries every id asked for
        // meanwhile. A limiter that cannot answer is left to the request itself, which fails with its error.
        func gather(_ stage: BurstStages.Stage) -> @Sendable () async -> Void {
            { @Sendable in
                await stages.gather(for: stage, window: gatherWindow, clock: monotonic)
                try? await kommo.waitForNextStart()
            }
        }
        func asked(_ stage: BurstStages.Stage) -> @Sendable () -> Void { { stages.asked(at: stage) } }
        leads = CoalescingFetcher(asked: asked(.leads), gather: gather(.leads)) { ids in
            Self.byID(try await kommo.leads(ids: ids), id: \.id)
        }
        contacts = CoalescingFetcher(asked: asked(.contacts), gather: gather(.contacts)) { ids in
            Self.byID(try await kommo.contacts(ids: ids), id: \.id)
        }
        companies = CoalescingFetcher(asked: asked(.companies), gather: gather(.companies)) { ids in
            Self.byID(try await kommo.companies(ids: ids), id: \.id)
        }
    }

    static func byID<Entity>(_ entities: [Entity], id: KeyPath<Entity, Int64>) -> [Int64: Entity] {
        Dictionary(entities.map { ($0[keyPath: id], $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// What one webhook's items need from Kommo, read in batches shared with the webhooks in flight; `place` moves
    /// through the fetch stages as the webhook asks each fetcher (or has nothing to ask it).
    ///
    /// The reference data (pipelines, users, the account's currency) is read beside the contacts and companies,
    /// once the leads have been read: from the caches, or for the first webhook of a burst in requests of their
    /// own, which need not wait for the contacts.
    func fetch(for events: [KommoWebhookEvent], place: inout BurstStages.Place) async throws -> FetchedContext {
        var fetched = FetchedContext(accountID: account.accountID)
        var leadIDs: [Int64] = []
        var contactIDs: [Int64] = []
        for event in events {
            switch event {
            case .lead(let lead) where lead.action != .delete && lead.action != .note: leadIDs.append(lead.id)
            case .contact(let contact) where contact.action != .delete: contactIDs.append(contact.id)
            default: break
            }
        }
        guard !leadIDs.isEmpty || !contactIDs.isEmpty else {
            // Nothing to read: past every fetcher at once, so that no round waits for this webhook.
            stages.advance(&place, to: nil)
            return fetched
        }
        stages.advance(&place, to: .leads)
        fetched.leads = try await leads.fetch(leadIDs)
        // Only once Kommo has answered: a Kommo that refuses the leads is not asked for more. A webhook without
        // leads reads them after its contacts, for the same reason.
        async let leadReferences = leadIDs.isEmpty ? nil : referenceData()
        stages.advance(&place, to: .contacts)
        contactIDs += fetched.leads.values.compactMap(\.mainContactID)
        fetched.contacts = try await contacts.fetch(contactIDs)
        stages.advance(&place, to: .companies)
        let companyIDs = fetched.leads.values.compactMap(\.companyID) + fetched.contacts.values.compactMap(\.companyID)
        fetched.companies = try await companies.fetch(companyIDs)
        stages.advance(&place, to: nil)
        let references = if let read = try await leadReferences { read } else { try await referenceData() }
        fetched.pipelines = references.pipelines
        for user in references.users ?? [] { fetched.usersByID[user.id] = user }
        fetched.currency = references.currency
        return fetched
    }

    /// The pipelines, users and (unless the mapping fixes it) the account's currency, read at once.
    private func referenceData() async throws -> (pipelines: [Pipeline], users: [User]?, currency: String?) {
        let kommo = account.kommo
        let needsCurrency = account.mapping.currency == nil
        async let pipelines = kommo.pipelines()
        async let users = kommo.users()
        async let currency = needsCurrency ? kommo.account().currency : nil
        return try await (pipelines, users, currency)
    }
}

/// What was read from Kommo for one webhook.
struct FetchedContext {
    let accountID: Int64
    var leads: [Int64: Lead] = [:]
    var contacts: [Int64: Contact] = [:]
    var companies: [Int64: Company] = [:]
    var pipelines: [Pipeline] = []
    /// Users by id, built once per webhook rather than once per item.
    var usersByID: [Int64: User] = [:]
    var currency: String?

    func context(for event: KommoWebhookEvent) -> DealContext {
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
