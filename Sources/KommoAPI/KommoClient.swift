import Foundation

/// The Kommo API v4 calls a deal-event pipeline needs.
///
/// List calls return **every** page: they follow `_links.next` (250 items per page) until it is absent or Kommo
/// answers 204, and return the items in Kommo's order. Calls by id never fail because ids are unknown or deleted:
/// those ids are simply missing from the result (Kommo answers 204 or leaves them out).
///
/// ``HTTPKommoClient`` is the implementation; conveniences such as ``contact(id:)`` live in an extension, so test
/// doubles get them for free.
public protocol KommoClient: Sendable {
    /// The leads with these ids, with their contacts (`is_main`) and loss reason embedded.
    ///
    /// Duplicate ids are sent once; ids go out in chunks of at most 50 per request (`filter[id][]`).
    func leads(ids: [Int64]) async throws -> [Lead]
    /// One lead with contacts and loss reason embedded; `nil` when Kommo answers 204 (unknown or deleted).
    func lead(id: Int64) async throws -> Lead?
    /// The contacts with these ids (chunked like ``leads(ids:)``).
    func contacts(ids: [Int64]) async throws -> [Contact]
    /// The companies with these ids (chunked like ``leads(ids:)``).
    func companies(ids: [Int64]) async throws -> [Company]
    /// Every pipeline with its stages (cached by ``HTTPKommoClient``).
    func pipelines() async throws -> [Pipeline]
    /// Every user, or `nil` when the token may not list users (Kommo answers 403 to non-admin tokens).
    ///
    /// `nil` means "no users known", not an error: callers fall back to user ids. ``HTTPKommoClient`` caches the
    /// list and the `nil` alike.
    func users() async throws -> [User]?
    /// The account's loss reasons (cached by ``HTTPKommoClient``).
    func lossReasons() async throws -> [LossReason]
    /// The account: name, subdomain, currency (cached by ``HTTPKommoClient``).
    func account() async throws -> Account
    /// Adds notes to leads (`POST /api/v4/leads/notes`) and returns the created notes (id, lead id, request id).
    ///
    /// Writing a note fires a `note_lead` webhook: make sure the receiver ignores its own notes.
    func addNotes(_ notes: [NewNote]) async throws -> [Note]
    /// The client's own request statistics: requests, retries, 429s, cache hits. A client that does not count
    /// them reports zeros (the default implementation).
    var statistics: KommoClientStatistics { get async }
    /// Waits until a request started now would not wait for the rate limiter, without reserving that start, so
    /// that a caller can gather more work for the request meanwhile (the pipeline's batch fetchers do). A client
    /// without a limiter returns at once (the default implementation).
    func waitForNextStart() async throws
    /// One page of Kommo's events log (`GET /api/v4/events`), newest first, at most 100 events; an empty last page
    /// when Kommo answers 204. Clients that do not implement it throw ``KommoAPIError/Code/invalidArgument``.
    func events(_ query: KommoEventQuery, page: Int) async throws -> KommoPage<KommoEvent>
    /// One page of leads listed by stage and close time (`GET /api/v4/leads` with `filter[statuses]`), contacts
    /// and loss reason embedded, up to 250 a page; an empty last page on 204. Clients that do not implement it throw
    /// ``KommoAPIError/Code/invalidArgument``.
    func leads(_ query: KommoLeadQuery, page: Int) async throws -> KommoPage<Lead>
}

extension KommoClient {
    /// Returns at once: this client has no rate limiter to wait for.
    public func waitForNextStart() async throws {}

    /// Throws ``KommoAPIError/Code/invalidArgument``: this client does not read the events log.
    public func events(_ query: KommoEventQuery, page: Int) async throws -> KommoPage<KommoEvent> {
        throw KommoAPIError(code: .invalidArgument, request: "GET /api/v4/events",
                            detail: "\(Self.self) does not read Kommo's events log; implement events(_:page:)")
    }

    /// Throws ``KommoAPIError/Code/invalidArgument``: this client does not list leads by stage.
    public func leads(_ query: KommoLeadQuery, page: Int) async throws -> KommoPage<Lead> {
        throw KommoAPIError(code: .invalidArgument, request: "GET /api/v4/leads",
                            detail: "\(Self.self) does not list leads by stage; implement leads(_:page:)")
    }

    /// Zeros: this client does not count its requests.
    public var statistics: KommoClientStatistics {
        get async { KommoClientStatistics() }
    }

    /// One contact, or `nil` when unknown or deleted.
    public func contact(id: Int64) async throws -> Contact? {
        try await contacts(ids: [id]).first { $0.id == id }
    }

    /// One company, or `nil` when unknown or deleted.
    public func company(id: Int64) async throws -> Company? {
        try await companies(ids: [id]).first { $0.id == id }
    }

    /// One user from ``users()``; `nil` when unknown or when the token may not read users.
    public func user(id: Int64) async throws -> User? {
        try await users()?.first { $0.id == id }
    }

    /// One pipeline from ``pipelines()``.
    public func pipeline(id: Int64) async throws -> Pipeline? {
        try await pipelines().first { $0.id == id }
    }

    /// The stage `statusID` of pipeline `pipelineID` (stages 142/143 exist in every pipeline, hence both ids).
    public func status(id statusID: Int64, pipelineID: Int64) async throws -> Status? {
        try await pipeline(id: pipelineID)?.status(id: statusID)
    }

    /// One loss reason from ``lossReasons()``.
    public func lossReason(id: Int64) async throws -> LossReason? {
        try await lossReasons().first { $0.id == id }
    }

    /// Adds one note and returns it as created.
    @discardableResult
    public func addNote(_ note: NewNote) async throws -> Note? {
        try await addNotes([note]).first
    }

    /// The main contact of `lead` (flagged `is_main`, else the first), fetched; `nil` when the lead has none.
    public func mainContact(of lead: Lead) async throws -> Contact? {
        guard let id = lead.mainContactID else { return nil }
        return try await contact(id: id)
    }
}
