import Foundation
import HTTPCore
import JSONCore
import KommoAPI

/// An ``HTTPTransport`` that answers Kommo API v4 requests from JSON files instead of the network.
///
/// Give it to ``HTTPKommoClient`` (any account host works; only the path and query are read) to run the client,
/// a replay or a demo without credentials, and to count the requests a piece of code makes. It never opens a
/// connection.
///
/// ## Fixture directory layout
///
/// Paths are relative to the directory (or are the keys of the in-memory source):
///
/// | File | Answers |
/// | --- | --- |
/// | `leads/<id>.json` | `GET /api/v4/leads/<id>` and the lead's entry in `GET /api/v4/leads` (by ids, stage, close) |
/// | `contacts/<id>.json` | `GET /api/v4/contacts/<id>` and `GET /api/v4/contacts?filter[id][]=…` |
/// | `companies/<id>.json` | `GET /api/v4/companies/<id>` and `GET /api/v4/companies?filter[id][]=…` |
/// | `users/<id>.json` | `GET /api/v4/users/<id>` and `GET /api/v4/users` (every file, by id) |
/// | `users.forbidden` | (any content) every users request answers 403, as for a token without admin rights |
/// | `pipelines.json` | `GET /api/v4/leads/pipelines`, verbatim (the HAL list the API returns) |
/// | `loss_reasons.json` | `GET /api/v4/leads/loss_reasons`, verbatim (the HAL list the API returns) |
/// | `account.json` | `GET /api/v4/account`, verbatim |
/// | `events.json` | `GET /api/v4/events`: `{"_embedded": {"events": [...]}}`, every event of the account, any order |
///
/// An entity file holds the API's single-entity shape (as `GET /api/v4/leads/<id>?with=contacts,loss_reason`
/// returns it). Other files (a README, for instance) are ignored.
///
/// ## Behaviour
///
/// - **Lists** (`/api/v4/leads`, `/contacts`, `/companies`, `/users`) are paged HAL collections: `limit`
///   (1...250, default 250) items per page, `page` (from 1, default 1); the answer has `_page`, `_links.self` (the
///   request's URL), `_links.next` only when the next page has items (the same absolute URL with `page` counted
///   up), and `_embedded.<entity>`; users add `_total_items`. A page without items answers 204 with an empty body.
///   With `filter[id][]` (or the indexed form `filter[id][0]`, or comma-separated ids) the items are the files that
///   exist, in the requested order, each id once; without it every file is listed, by ascending id.
/// - **Leads** also take `filter[statuses][<i>][pipeline_id]` with `filter[statuses][<i>][status_id]` (a lead
///   matches when its `pipeline_id` and `status_id` equal one pair; a pair missing either half answers 400) and
///   `filter[closed_at][from]` / `filter[closed_at][to]` (Unix seconds, inclusive; a lead whose `closed_at` is
///   `null` or absent never matches), combined with each other and with `filter[id][]`. They follow `with`:
///   `_embedded.contacts` is dropped unless `with` names `contacts`, and `_embedded.loss_reason` unless it names
///   `loss_reason`.
/// - **Events** (`GET /api/v4/events`) are the events of `events.json`, newest first (`created_at` descending,
///   then `id` descending), paged as lists are with `limit` 1...100 (default 100). Filters: `filter[type][]` and
///   `filter[entity][]` (repeatable, indexed `[0]` or comma-separated; an event matches one of the values of each,
///   `entity_type` holding the singular name such as `lead`), `filter[created_at][from]` / `[to]` (Unix seconds,
///   inclusive; an event whose `created_at` is not a number matches none). Events are served as written; without
///   `events.json` the log is empty (204).
/// - **A single entity** whose file does not exist answers 204, as Kommo does for an unknown or deleted id.
/// - **Users** answer 403 `application/problem+json` when `users.forbidden` exists or `usersForbidden` is set.
/// - **`POST /api/v4/leads/notes`** takes a JSON array of notes, each with an integer `entity_id` and a
///   `note_type`; it records them and answers 200 with `_embedded.notes[]` holding `id` (sequential from
///   ``firstNoteID``), `entity_id` and `request_id`. A malformed body answers 400 with `validation-errors`.
/// - **Strictness**: a request without `Authorization: Bearer …` (or with another token than `acceptedToken`)
///   answers 401; a query parameter the route does not take (or a `limit`, `page`, id or time that is out of range
///   or not a number) answers 400; a known path with another method answers 405; any other path answers 404.
///   Every error body is `application/problem+json`.
/// - A fixture file that is not valid JSON (or an `events.json` without an `_embedded.events` array of objects)
///   makes ``send(_:body:)`` throw an ``HTTPTransportError`` with code ``HTTPTransportError/Code/invalidResponse``
///   naming the file, which the client does not retry.
///
/// ```swift
/// let api = try KommoFixtureTransport(directory: URL(fileURLWithPath: "fixtures/kommo-api"))
/// let client = HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"),
///                              tokenProvider: LongLivedToken("fixture-token"), transport: api)
/// let leads = try await client.leads(ids: [24000017, 24000099])  // one lead: 24000099 has no file
/// #expect(api.requestCount(path: "/api/v4/leads") == 1)
///
/// // Catch-up and backfill: the events log and the won leads, page by page.
/// let events = try await client.events(KommoEventQuery(createdFrom: 1768650000), page: 1)
/// let won = try await client.leads(KommoLeadQuery(statuses: [.init(pipelineID: 7654321, statusID: 142)]), page: 1)
/// #expect(api.requestCount(path: "/api/v4/events") == 1)
/// ```
public final class KommoFixtureTransport: HTTPTransport, Sendable {
    /// Where the fixture files come from.
    public enum Source: Sendable, Hashable {
        /// A directory on disk, read at every request (so a test may change files between calls).
        case directory(URL)
        /// Files in memory, keyed by relative path such as `leads/24000017.json`.
        case files([String: Data])
    }

    /// A note that was posted, as received.
    public struct RecordedNote: Sendable, Hashable {
        /// The lead the note was written to (`entity_id`).
        public var entityID: Int64
        /// The `note_type` (for example `common`).
        public var noteType: String
        /// `params.text`, when present.
        public var text: String?
        /// The whole note object as posted.
        public var json: JSONValue
        /// The id the transport answered with.
        public var assignedID: Int64
    }

    /// The id given to the first posted note; later notes count up from it.
    public let firstNoteID: Int64
    /// The fixture source.
    public let source: Source
    private let usersForbidden: Bool
    private let acceptedToken: String?

    private struct State {
        var requests: [HTTPRequest] = []
        var counts: [String: Int] = [:]
        var notes: [RecordedNote] = []
        var noteBodies: [Data] = []
        var nextNoteID: Int64
    }
    private let state: Locked<State>

    /// Creates a transport over `source`.
    ///
    /// - Parameters:
    ///   - source: a directory or in-memory files in the documented layout.
    ///   - usersForbidden: answer every users request with 403 (as the file `users.forbidden` does).
    ///   - acceptedToken: when set, only this bearer token is accepted (others answer 401); when `nil`, any
    ///     non-empty bearer token is.
    ///   - firstNoteID: the id of the first note posted.
    public init(source: Source, usersForbidden: Bool = false, acceptedToken: String? = nil,
                firstNoteID: Int64 = 91_000_100) {
        self.source = source
        self.usersForbidden = usersForbidden
        self.acceptedToken = acceptedToken
        self.firstNoteID = firstNoteID
        state = Locked(State(nextNoteID: firstNoteID))
    }

    /// Creates a transport that reads the fixture directory at `directory`.
    ///
    /// - Throws: ``KommoAPIError/Code/invalidArgument`` when `directory` is not an existing directory.
    public convenience init(directory: URL, usersForbidden: Bool = false, acceptedToken: String? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw KommoAPIError(code: .invalidArgument,
                                detail: "the fixture directory '\(directory.path)' does not exist or is not a "
                                    + "directory")
        }
        self.init(source: .directory(directory), usersForbidden: usersForbidden, acceptedToken: acceptedToken)
    }

    /// Creates a transport over in-memory files keyed by relative path (`leads/24000017.json`, `pipelines.json`).
    public convenience init(files: [String: Data], usersForbidden: Bool = false, acceptedToken: String? = nil) {
        self.init(source: .files(files), usersForbidden: usersForbidden, acceptedToken: acceptedToken)
    }

    // MARK: Observations

    /// Every request received, in order (the headers include the bearer token the client sent).
    public var requests: [HTTPRequest] { state.withLock { $0.requests } }

    /// The number of requests received.
    public var requestCount: Int { state.withLock { $0.requests.count } }

    /// The number of requests per URL path (without the query), for example `["/api/v4/leads": 1]`.
    public var requestCountsByPath: [String: Int] { state.withLock { $0.counts } }

    /// The number of requests received for `path` (without the query).
    public func requestCount(path: String) -> Int { state.withLock { $0.counts[path] ?? 0 } }

    /// Every note accepted by `POST /api/v4/leads/notes`, in order.
    public var recordedNotes: [RecordedNote] { state.withLock { $0.notes } }

    /// The raw bodies of every accepted `POST /api/v4/leads/notes`, in order.
    public var recordedNoteBodies: [Data] { state.withLock { $0.noteBodies } }

    // MARK: HTTPTransport

    /// Answers `request` from the fixtures; see the type's documentation for the routes.
    ///
    /// - Throws: ``HTTPTransportError`` with ``HTTPTransportError/Code/invalidResponse`` when a fixture file is
    ///   not valid JSON; `CancellationError` when the task is cancelled.
    public func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        try Task.checkCancellation()
        return try answer(request, body: body)
    }

    /// Answers a request that a ``LoopbackHTTPServer`` received, synchronously, from the fixtures: serves them over
    /// real TCP to a process under test (point its Kommo base URL at the server's `baseURL`).
    ///
    /// ```swift
    /// let api = try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory())
    /// let kommo = try LoopbackHTTPServer { api.respond(to: $0) }
    /// ```
    ///
    /// The request is recorded and counted as by ``send(_:body:)``. A fixture file that is not valid JSON answers 500
    /// with a problem body naming the file.
    public func respond(to request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        // The Host header names the server's address and port, so that `_links.next` points back to it.
        let host = request.headers["Host"].flatMap { host in
            host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-:[]".contains($0)) } ? host : nil
        }
        guard let url = URL(string: "http://\(host ?? "127.0.0.1")" + request.target)
            ?? URL(string: "http://127.0.0.1" + request.target) else {
            return LoopbackHTTPServer.Response(status: 400)
        }
        let answered: (HTTPResponse, Data)
        do {
            answered = try answer(HTTPRequest(method: HTTPMethod(rawValue: request.method), url: url,
                                              headers: request.headers), body: request.body)
        } catch {
            answered = problem(500, "Internal Server Error", "\(error)")
        }
        return LoopbackHTTPServer.Response(status: answered.0.status,
                                           headers: answered.0.headers.map { ($0.name, $0.value) }, body: answered.1)
    }

    /// Records and routes one request (the synchronous core of ``send(_:body:)`` and ``respond(to:)``).
    private func answer(_ request: HTTPRequest, body: Data?) throws -> (HTTPResponse, Data) {
        // The path as sent (URL.path would drop a trailing slash, which must not match a route).
        let path = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.percentEncodedPath
            ?? request.url.path
        state.withLock { s in
            s.requests.append(request)
            s.counts[path, default: 0] += 1
        }
        do {
            return try route(request, path: path, body: body)
        } catch let failure as FixtureFailure {
            throw HTTPTransportError(code: .invalidResponse, request: request.description, detail: failure.detail)
        }
    }

    // MARK: Routing

    struct FixtureFailure: Error { var detail: String }

    private enum Entity: String, CaseIterable {
        case leads, contacts, companies, users
        var directory: String { rawValue }
        var collectionKey: String { rawValue }
    }

    private func route(_ request: HTTPRequest, path: String, body: Data?) throws -> (HTTPResponse, Data) {
        // "/api/v4/leads/1" → ["", "api", "v4", "leads", "1"]; a trailing or doubled slash leaves an empty segment.
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard segments.count >= 4, segments[0].isEmpty, segments[1] == "api", segments[2] == "v4",
              segments.dropFirst().allSatisfy({ !$0.isEmpty }) else {
            return problem(404, "Not Found", "no fixture route for \(request.method) \(path)")
        }
        let route = Array(segments.dropFirst(3))
        if let refusal = authorize(request) { return refusal }
        let query: [(String, String)]
        switch Self.decodeQuery(request.url) {
        case .success(let items): query = items
        case .failure(let failure): return problem(400, "Bad Request", failure.detail)
        }

        switch route.count {
        case 1:
            switch route[0] {
            case "leads", "contacts", "companies", "users":
                guard let entity = Entity(rawValue: route[0]) else { break }
                guard request.method == .get else { return methodNotAllowed(request, path: path) }
                return try list(entity, request: request, query: query)
            case "events":
                guard request.method == .get else { return methodNotAllowed(request, path: path) }
                return try events(request, query: query)
            case "account":
                guard request.method == .get else { return methodNotAllowed(request, path: path) }
                if let refusal = refuseUnknown(query, allowed: ["with"]) { return refusal }
                return try verbatim("account.json")
            default: break
            }
        case 2:
            if route[0] == "leads" && route[1] == "pipelines" {
                guard request.method == .get else { return methodNotAllowed(request, path: path) }
                if let refusal = refuseUnknown(query, allowed: ["page", "limit"]) { return refusal }
                return try verbatim("pipelines.json")
            }
            if route[0] == "leads" && route[1] == "loss_reasons" {
                guard request.method == .get else { return methodNotAllowed(request, path: path) }
                if let refusal = refuseUnknown(query, allowed: ["page", "limit"]) { return refusal }
                return try verbatim("loss_reasons.json")
            }
            if route[0] == "leads" && route[1] == "notes" {
                guard request.method == .post else { return methodNotAllowed(request, path: path) }
                if let refusal = refuseUnknown(query, allowed: []) { return refusal }
                return try addNotes(request, body: body)
            }
            if let entity = Entity(rawValue: route[0]), let id = Self.entityID(route[1]) {
                guard request.method == .get else { return methodNotAllowed(request, path: path) }
                return try single(entity, id: id, query: query)
            }
        default: break
        }
        return problem(404, "Not Found", "no fixture route for \(request.method) \(path)")
    }

    private func authorize(_ request: HTTPRequest) -> (HTTPResponse, Data)? {
        let header = request.headers["Authorization"] ?? ""
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), header.count > prefix.count else {
            return problem(401, "Unauthorized", "the request has no bearer token")
        }
        if let acceptedToken, String(header.dropFirst(prefix.count)) != acceptedToken {
            return problem(401, "Unauthorized", "the access token is missing, expired or revoked")
        }
        return nil
    }

    private func methodNotAllowed(_ request: HTTPRequest, path: String) -> (HTTPResponse, Data) {
        problem(405, "Method Not Allowed", "\(request.method) is not supported on \(path)")
    }

    private func refuseUnknown(_ query: [(String, String)], allowed: Set<String>) -> (HTTPResponse, Data)? {
        for (name, _) in query where !allowed.contains(name) {
            return problem(400, "Bad Request", "unexpected query parameter '\(name)'")
        }
        return nil
    }

    private func usersAreForbidden() -> Bool {
        usersForbidden || read("users.forbidden") != nil
    }

    // MARK: Answers

    private func single(_ entity: Entity, id: Int64, query: [(String, String)]) throws -> (HTTPResponse, Data) {
        let allowed: Set<String> = entity == .users ? [] : ["with"]
        if let refusal = refuseUnknown(query, allowed: allowed) { return refusal }
        if entity == .users && usersAreForbidden() { return forbiddenUsers() }
        let name = "\(entity.directory)/\(id).json"
        guard let data = read(name) else { return noContent() }
        if entity == .leads {
            let value = try parse(data, name: name)
            return ok(Self.applyWith(value, query: query))
        }
        _ = try parse(data, name: name)
        return (HTTPResponse(status: 200, headers: ["Content-Type": "application/hal+json"]), data)
    }

    private func list(_ entity: Entity, request: HTTPRequest, query: [(String, String)]) throws
        -> (HTTPResponse, Data) {
        var ids: [Int64] = []
        var filtered = false
        var page = 1
        var limit = 250
        var stages: [Int: (pipelineID: Int64?, statusID: Int64?)] = [:]
        var closedFrom: Int64?
        var closedTo: Int64?
        for (name, value) in query {
            if Self.isListParameter(name, named: "filter[id]") {
                filtered = true
                for part in value.split(separator: ",") {
                    guard let id = Int64(part.trimmingCharacters(in: .whitespaces)) else {
                        return problem(400, "Bad Request", "'\(value)' is not an id in \(name)")
                    }
                    ids.append(id)
                }
            } else if name == "limit" {
                guard let number = Int(value), (1...250).contains(number) else {
                    return problem(400, "Bad Request", "limit must be 1...250, not '\(value)'")
                }
                limit = number
            } else if name == "page" {
                guard let number = Int(value), number >= 1 else {
                    return problem(400, "Bad Request", "page must be a positive integer, not '\(value)'")
                }
                page = number
            } else if name == "with" && entity != .users {
                continue
            } else if entity == .leads, let (index, field) = Self.stageParameter(name) {
                guard let id = Int64(value) else {
                    return problem(400, "Bad Request", "'\(value)' is not an id in \(name)")
                }
                if field == "pipeline_id" {
                    stages[index, default: (nil, nil)].pipelineID = id
                } else {
                    stages[index, default: (nil, nil)].statusID = id
                }
            } else if entity == .leads && (name == "filter[closed_at][from]" || name == "filter[closed_at][to]") {
                guard let seconds = Int64(value) else {
                    return problem(400, "Bad Request", "\(name) must be Unix seconds, not '\(value)'")
                }
                if name.hasSuffix("[from]") { closedFrom = seconds } else { closedTo = seconds }
            } else {
                return problem(400, "Bad Request", "unexpected query parameter '\(name)'")
            }
        }
        var pairs: [(pipelineID: Int64, statusID: Int64)] = []
        for index in stages.keys.sorted() {
            guard let pipelineID = stages[index]?.pipelineID, let statusID = stages[index]?.statusID else {
                return problem(400, "Bad Request",
                               "filter[statuses][\(index)] needs both [pipeline_id] and [status_id]")
            }
            pairs.append((pipelineID, statusID))
        }
        if entity == .users && usersAreForbidden() { return forbiddenUsers() }
        if !filtered { ids = listIDs(in: entity.directory) }
        var seen = Set<Int64>()
        var items: [JSONValue] = []
        for id in ids where seen.insert(id).inserted {
            let name = "\(entity.directory)/\(id).json"
            guard let data = read(name) else { continue }
            let value = try parse(data, name: name)
            guard entity == .leads else {
                items.append(value)
                continue
            }
            if !pairs.isEmpty {
                let (pipelineID, statusID) = (value["pipeline_id"]?.intValue, value["status_id"]?.intValue)
                guard pairs.contains(where: { $0.pipelineID == pipelineID && $0.statusID == statusID }) else {
                    continue
                }
            }
            if closedFrom != nil || closedTo != nil {
                guard let closedAt = value["closed_at"]?.intValue else { continue }
                if let closedFrom, closedAt < closedFrom { continue }
                if let closedTo, closedAt > closedTo { continue }
            }
            items.append(Self.applyWith(value, query: query))
        }
        let extra: [String: JSONValue] = entity == .users ? ["_total_items": .int(Int64(items.count))] : [:]
        return halPage(items, key: entity.collectionKey, page: page, limit: limit, request: request, extra: extra)
    }

    private func verbatim(_ name: String) throws -> (HTTPResponse, Data) {
        guard let data = read(name) else { return noContent() }
        _ = try parse(data, name: name)
        return (HTTPResponse(status: 200, headers: ["Content-Type": "application/hal+json"]), data)
    }

    private func addNotes(_ request: HTTPRequest, body: Data?) throws -> (HTTPResponse, Data) {
        let contentType = request.headers["Content-Type"] ?? ""
        guard contentType.lowercased().hasPrefix("application/json") else {
            return problem(415, "Unsupported Media Type", "notes must be sent as application/json")
        }
        guard let body, let value = try? JSONDecoder().decode(JSONValue.self, from: body),
              let array = value.arrayValue, !array.isEmpty else {
            return validationProblem(path: "", detail: "the body must be a non-empty JSON array of notes")
        }
        var accepted: [(entityID: Int64, noteType: String, text: String?, json: JSONValue, requestID: String)] = []
        for (index, note) in array.enumerated() {
            guard let entityID = note["entity_id"]?.intValue, entityID > 0 else {
                return validationProblem(path: "\(index).entity_id", detail: "entity_id must be a positive integer")
            }
            guard let noteType = note["note_type"]?.stringValue, !noteType.isEmpty else {
                return validationProblem(path: "\(index).note_type", detail: "note_type is required")
            }
            let requestID = note["request_id"]?.stringValue ?? "0"
            accepted.append((entityID, noteType, note["params"]?["text"]?.stringValue, note, requestID))
        }
        let created: [JSONValue] = state.withLock { s in
            s.noteBodies.append(body)
            return accepted.map { note in
                let id = s.nextNoteID
                s.nextNoteID += 1
                s.notes.append(RecordedNote(entityID: note.entityID, noteType: note.noteType, text: note.text,
                                            json: note.json, assignedID: id))
                return [
                    "id": .int(id),
                    "entity_id": .int(note.entityID),
                    "request_id": .string(note.requestID),
                    "_links": ["self": ["href": .string("/api/v4/leads/\(note.entityID)/notes/\(id)")]],
                ]
            }
        }
        return ok([
            "_links": ["self": ["href": "/api/v4/leads/notes"]],
            "_embedded": ["notes": .array(created)],
        ])
    }

    // MARK: Responses

    func ok(_ value: JSONValue) -> (HTTPResponse, Data) {
        var writer = JSONWriter()
        writer.write(value)
        return (HTTPResponse(status: 200, headers: ["Content-Type": "application/hal+json"]), Data(writer.bytes))
    }

    func noContent() -> (HTTPResponse, Data) {
        (HTTPResponse(status: 204), Data())
    }

    private func forbiddenUsers() -> (HTTPResponse, Data) {
        problem(403, "Forbidden", "the token's user is not an account administrator")
    }

    func problem(_ status: Int, _ title: String, _ detail: String) -> (HTTPResponse, Data) {
        problemResponse(status, [
            "title": .string(title),
            "type": .string("https://httpstatus.es/\(status)"),
            "status": .int(Int64(status)),
            "detail": .string(detail),
        ])
    }

    private func validationProblem(path: String, detail: String) -> (HTTPResponse, Data) {
        problemResponse(400, [
            "title": "Bad Request",
            "type": "https://httpstatus.es/400",
            "status": 400,
            "detail": "Request validation failed",
            "validation-errors": [["request_id": "0", "errors": [["code": "InvalidType", "path": .string(path),
                                                                   "detail": .string(detail)]]]],
        ])
    }

    private func problemResponse(_ status: Int, _ members: [String: JSONValue]) -> (HTTPResponse, Data) {
        var writer = JSONWriter()
        writer.write(members)
        return (HTTPResponse(status: status, headers: ["Content-Type": "application/problem+json"]),
                Data(writer.bytes))
    }

    // MARK: Files

    func read(_ name: String) -> Data? {
        switch source {
        case .files(let files):
            return files[name]
        case .directory(let directory):
            return FileManager.default.contents(atPath: directory.appendingPathComponent(name).path)
        }
    }

    private func listIDs(in directory: String) -> [Int64] {
        let names: [String]
        switch source {
        case .files(let files):
            let prefix = directory + "/"
            names = files.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        case .directory(let root):
            names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(directory).path))
                ?? []
        }
        return names.compactMap { name in
            guard name.hasSuffix(".json") else { return nil }
            return Self.entityID(String(name.dropLast(5)))
        }.sorted()
    }

    func parse(_ data: Data, name: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw FixtureFailure(detail: "the fixture file '\(name)' is not valid JSON")
        }
    }

    // MARK: Helpers

    private static func entityID(_ text: String) -> Int64? {
        guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let id = Int64(text), id > 0
        else { return nil }
        return id
    }

    /// `filter[statuses][<n>][pipeline_id]` or `filter[statuses][<n>][status_id]`: the index and the field.
    private static func stageParameter(_ name: String) -> (index: Int, field: String)? {
        let prefix = "filter[statuses]["
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let close = rest.firstIndex(of: "]") else { return nil }
        let digits = rest[..<close]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let index = Int(digits) else {
            return nil
        }
        switch rest[close...] {
        case "][pipeline_id]": return (index, "pipeline_id")
        case "][status_id]": return (index, "status_id")
        default: return nil
        }
    }

    /// Drops the lead's embedded contacts and loss reason unless `with` asks for them.
    private static func applyWith(_ lead: JSONValue, query: [(String, String)]) -> JSONValue {
        let with = Set(query.filter { $0.0 == "with" }.flatMap { $0.1.split(separator: ",").map(String.init) })
        guard case .object(var members) = lead, case .object(var embedded)? = members["_embedded"] else {
            return lead
        }
        if !with.contains("contacts") { embedded["contacts"] = nil }
        if !with.contains("loss_reason") { embedded["loss_reason"] = nil }
        members["_embedded"] = .object(embedded)
        return .object(members)
    }

    /// The query as ordered (name, value) pairs, percent-decoded, with `+` read as a space and bracket keys kept
    /// as they are (`filter[id][]`).
    static func decodeQuery(_ url: URL) -> Result<[(String, String)], FixtureQueryError> {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let query = components.percentEncodedQuery, !query.isEmpty else { return .success([]) }
        var items: [(String, String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let rawName = String(parts[0]).replacingOccurrences(of: "+", with: " ")
            let rawValue = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
            guard let name = rawName.removingPercentEncoding, let value = rawValue.removingPercentEncoding else {
                return .failure(FixtureQueryError(detail: "the query '\(query)' is not valid percent-encoding"))
            }
            items.append((name, value))
        }
        return .success(items)
    }
}

/// A query string that could not be decoded.
struct FixtureQueryError: Error {
    var detail: String
}
