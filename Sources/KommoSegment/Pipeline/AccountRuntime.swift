import KommoAPI
import SegmentAPI

/// What the pipeline holds for one account: the account, its mapper, its Segment queue and its batch fetchers.
struct AccountRuntime: Sendable {
    let account: KommoSegmentAccount
    let mapper: KommoEventMapper
    let queue: SegmentQueue
    let leads: CoalescingFetcher<Lead>
    let contacts: CoalescingFetcher<Contact>
    let companies: CoalescingFetcher<Company>

    init(account: KommoSegmentAccount, clock: any Clock<Duration>, wallClock: WallClock, log: (any LogSink)?) {
        self.account = account
        mapper = KommoEventMapper(configuration: account.mapping)
        queue = SegmentQueue(client: account.segment, configuration: account.queueConfiguration, clock: clock,
                             wallClock: wallClock, log: log)
        let kommo = account.kommo
        leads = CoalescingFetcher { ids in Self.byID(try await kommo.leads(ids: ids), id: \.id) }
        contacts = CoalescingFetcher { ids in Self.byID(try await kommo.contacts(ids: ids), id: \.id) }
        companies = CoalescingFetcher { ids in Self.byID(try await kommo.companies(ids: ids), id: \.id) }
    }

    private static func byID<Entity>(_ entities: [Entity], id: KeyPath<Entity, Int64>) -> [Int64: Entity] {
        Dictionary(entities.map { ($0[keyPath: id], $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// What one webhook's items need from Kommo, read in batches shared with the webhooks in flight.
    func fetch(for events: [KommoWebhookEvent]) async throws -> FetchedContext {
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
        guard !leadIDs.isEmpty || !contactIDs.isEmpty else { return fetched }
        fetched.leads = try await leads.fetch(leadIDs)
        contactIDs += fetched.leads.values.compactMap(\.mainContactID)
        fetched.contacts = try await contacts.fetch(contactIDs)
        let companyIDs = fetched.leads.values.compactMap(\.companyID) + fetched.contacts.values.compactMap(\.companyID)
        fetched.companies = try await companies.fetch(companyIDs)
        let kommo = account.kommo
        fetched.pipelines = try await kommo.pipelines()
        for user in try await kommo.users() ?? [] { fetched.usersByID[user.id] = user }
        if account.mapping.currency == nil {
            fetched.currency = try await kommo.account().currency
        }
        return fetched
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
