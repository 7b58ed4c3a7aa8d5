import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

@Suite("KommoFixtureTransport through HTTPKommoClient", .timeLimit(.minutes(1)))
struct FixtureTransportTests {
    @Test("leads by ids: found leads in the requested order, a missing id left out, one request")
    func leadsByIDs() async throws {
        let fake = try KommoAPIFake()
        let leads = try await fake.client.leads(ids: [24000031, 24000099, 24000017])
        #expect(leads.map(\.id) == [24000031, 24000017])
        #expect(fake.transport.requestCount == 1)
        #expect(fake.transport.requestCount(path: "/api/v4/leads") == 1)
        let query = try #require(fake.transport.requests.first?.url.query)
        #expect(query.contains("filter[id][]=24000031") || query.contains("filter%5Bid%5D%5B%5D=24000031"))
        // with=contacts,loss_reason keeps the embedded references.
        #expect(leads[0].lossReason?.id == 8000003)
        #expect(leads[0].lossReason?.name == "Chose a competitor")
        #expect(leads[1].contactIDs == [35000021, 35000022])
        #expect(leads[1].companyID == 36000005)
    }

    @Test("no file for any id answers 204: an empty list, not an error")
    func leadsAllMissing() async throws {
        let fake = try KommoAPIFake()
        let leads = try await fake.client.leads(ids: [24000099, 24000098])
        #expect(leads.isEmpty)
        #expect(fake.transport.requestCount == 1)
    }

    @Test("single-entity GET: the file, or 204 (nil) for a deleted lead")
    func singleLead() async throws {
        let fake = try KommoAPIFake()
        let lead = try await fake.client.lead(id: 24000050)
        #expect(lead?.name == "Поставка оборудования — ООО «Ромашка» 🚀")
        #expect(lead?.mainContactID == 35000050)
        #expect(try await fake.client.lead(id: 24000099) == nil)
        #expect(fake.transport.requestCountsByPath == ["/api/v4/leads/24000050": 1, "/api/v4/leads/24000099": 1])
    }

    @Test("contacts and companies by ids")
    func contactsAndCompanies() async throws {
        let fake = try KommoAPIFake()
        let contacts = try await fake.client.contacts(ids: [35000022, 35000021, 35000099])
        #expect(contacts.map(\.name) == ["Noah Fischer", "Olivia Bennett"])
        let companies = try await fake.client.companies(ids: [36000005])
        #expect(companies.map(\.name) == ["Northwind Traders LLC"])
        #expect(try await fake.client.companies(ids: [36000099]).isEmpty)
        #expect(fake.transport.requestCountsByPath == ["/api/v4/contacts": 1, "/api/v4/companies": 2])
    }

    @Test("reference data: pipelines, loss reasons, account and users, each fetched once and cached")
    func referenceData() async throws {
        let fake = try KommoAPIFake()
        let pipelines = try await fake.client.pipelines()
        #expect(pipelines.map(\.id) == [7654321, 7654400])
        #expect(try await fake.client.lossReasons().map(\.id) == [8000001, 8000002, 8000003])
        let account = try await fake.client.account()
        #expect(account.id == 31234567)
        #expect(account.subdomain == "acme")
        let users = try #require(try await fake.client.users())
        #expect(users.map(\.name) == ["Maria Lopez", "Daniel Kim"])
        _ = try await fake.client.pipelines()
        _ = try await fake.client.users()
        #expect(fake.transport.requestCountsByPath == [
            "/api/v4/leads/pipelines": 1, "/api/v4/leads/loss_reasons": 1, "/api/v4/account": 1, "/api/v4/users": 1,
        ])
    }

    @Test("users forbidden: by the init flag, or by a users.forbidden file; the client degrades to nil")
    func usersForbidden() async throws {
        let flagged = try KommoAPIFake(usersForbidden: true)
        #expect(try await flagged.client.users() == nil)

        var files = try Fixtures.kommoAPIFiles()
        files["users.forbidden"] = Data()
        let transport = KommoFixtureTransport(files: files)
        let client = try Self.client(transport)
        #expect(try await client.users() == nil)
        let (response, body) = try await transport.send(Self.get("/api/v4/users/9000001"), body: nil)
        #expect(response.status == 403)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(try JSONDecoder().decode(JSONValue.self, from: body)["status"] == 403)
    }

    @Test("notes are recorded and answered with sequential ids")
    func notes() async throws {
        let fake = try KommoAPIFake()
        let created = try await fake.client.addNotes([
            .common(leadID: 24000017, text: "Segment: Deal Won (message m-1)"),
            .common(leadID: 24000031, text: "Segment: Deal Lost (message m-2)"),
        ])
        #expect(created.map(\.id) == [91_000_100, 91_000_101])
        #expect(created.map(\.entityID) == [24000017, 24000031])
        let notes = fake.transport.recordedNotes
        #expect(notes.map(\.entityID) == [24000017, 24000031])
        #expect(notes.map(\.noteType) == ["common", "common"])
        #expect(notes.map(\.text) == ["Segment: Deal Won (message m-1)", "Segment: Deal Lost (message m-2)"])
        #expect(notes.map(\.assignedID) == [91_000_100, 91_000_101])
        #expect(fake.transport.recordedNoteBodies.count == 1)
        #expect(fake.transport.requestCountsByPath == ["/api/v4/leads/notes": 1])
    }

    @Test("a malformed note body answers 400 with validation errors and records nothing")
    func malformedNote() async throws {
        let transport = KommoFixtureTransport(files: [:])
        var request = Self.get("/api/v4/leads/notes")
        request.method = .post
        request.headers["Content-Type"] = "application/json"
        let (response, body) = try await transport.send(request, body: Data(#"[{"note_type":"common"}]"#.utf8))
        #expect(response.status == 400)
        let problem = try JSONDecoder().decode(JSONValue.self, from: body)
        #expect(problem["validation-errors"]?[0]?["errors"]?[0]?["path"] == "0.entity_id")
        #expect(transport.recordedNotes.isEmpty)
    }

    @Test("strict routing", arguments: [
        ("GET", "/api/v4/tasks", 404),
        ("GET", "/api/v4/leads/", 404),
        ("GET", "/api/v2/leads", 404),
        ("GET", "/api/v4/leads/abc", 404),
        ("GET", "/api/v4/leads/pipelines/7654321", 404),
        ("DELETE", "/api/v4/leads/24000017", 405),
        ("POST", "/api/v4/leads", 405),
        ("GET", "/api/v4/leads/notes", 405),
        ("GET", "/api/v4/leads?filter%5Bid%5D%5B%5D=24000017&unknown=1", 400),
        ("GET", "/api/v4/leads?limit=500", 400),
        ("GET", "/api/v4/leads?filter%5Bid%5D%5B%5D=x", 400),
        ("GET", "/api/v4/leads?filter%5Bid%5D%5B%5D=24000017&page=2", 204),
        ("GET", "/api/v4/leads?filter%5Bid%5D%5B0%5D=24000017", 200),
        ("GET", "/api/v4/account", 200),
    ])
    func routing(method: String, target: String, status: Int) async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        var request = Self.get(target)
        request.method = HTTPMethod(rawValue: method)
        let (response, body) = try await transport.send(request, body: nil)
        #expect(response.status == status)
        if status >= 400 {
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(try JSONDecoder().decode(JSONValue.self, from: body)["status"] == .int(Int64(status)))
        }
    }

    @Test("an unknown route reaches the client as a 404 error (a host with a path prefix matches no route)")
    func unknownRouteThroughClient() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let client = HTTPKommoClient(host: try KommoAccountHost(url: "https://acme.kommo.com/proxy"),
                                     tokenProvider: LongLivedToken(KommoAPIFake.token), transport: transport,
                                     clock: ImmediateClock())
        let error = await #expect(throws: KommoAPIError.self) { try await client.account() }
        #expect(error?.code == .notFound)
        #expect(error?.status == 404)
        #expect(transport.requestCountsByPath == ["/proxy/api/v4/account": 1])
        let (response, _) = try await transport.send(Self.get("/api/v4/customers"), body: nil)
        #expect(response.status == 404)
    }

    @Test("a wrong token answers 401 and the client reports unauthorized")
    func wrongToken() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles(), acceptedToken: "right-token")
        let client = try Self.client(transport, token: "wrong-token")
        let error = await #expect(throws: KommoAPIError.self) { try await client.lead(id: 24000017) }
        #expect(error?.code == .unauthorized)
        #expect(!String(describing: error).contains("wrong-token"))
        #expect(!String(describing: transport.requests.map(\.description)).contains("wrong-token"))
        var anonymous = Self.get("/api/v4/account")
        anonymous.headers = [:]
        #expect(try await transport.send(anonymous, body: nil).0.status == 401)
    }

    @Test("with= decides which embedded references a lead keeps")
    func withParameter() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let (_, bare) = try await transport.send(Self.get("/api/v4/leads/24000031"), body: nil)
        let lead = try JSONDecoder().decode(JSONValue.self, from: bare)
        #expect(lead["_embedded"]?["contacts"] == nil)
        #expect(lead["_embedded"]?["loss_reason"] == nil)
        #expect(lead["_embedded"]?["tags"] == [])
        let (_, full) = try await transport.send(Self.get("/api/v4/leads/24000031?with=contacts,loss_reason"),
                                                 body: nil)
        let fullLead = try JSONDecoder().decode(JSONValue.self, from: full)
        #expect(fullLead["_embedded"]?["contacts"]?[0]?["id"] == 35000030)
    }

    @Test("a directory source reads the bundled directory; files added later are seen")
    func directorySource() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-fixtures-\(UUID())")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("leads"),
                                                withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let transport = try KommoFixtureTransport(directory: root)
        let client = try Self.client(transport)
        #expect(try await client.lead(id: 24000017) == nil)
        try Fixtures.kommoAPI("leads/24000017.json").write(to: root.appendingPathComponent("leads/24000017.json"))
        #expect(try await client.leads(ids: [24000017]).map(\.id) == [24000017])

        let bundled = try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory())
        #expect(try await Self.client(bundled).users()?.count == 2)
        #expect(throws: KommoAPIError.self) { try KommoFixtureTransport(directory: root.appendingPathComponent("no")) }
    }

    @Test("a fixture that is not JSON fails the call with a transport error naming the file, without retries")
    func invalidFixture() async throws {
        let transport = KommoFixtureTransport(files: ["leads/1.json": Data("{not json".utf8)])
        let client = try Self.client(transport)
        let error = await #expect(throws: KommoAPIError.self) { try await client.lead(id: 1) }
        #expect(error?.code == .transport)
        #expect(error?.transportCode == .invalidResponse)
        let cause = try #require(error?.underlyingError as? HTTPTransportError)
        #expect(cause.detail == "the fixture file 'leads/1.json' is not valid JSON")
        #expect(transport.requestCount == 1)
    }

    @Test("every id a sample webhook names can be answered (except the deleted lead)")
    func everySampleWebhookIsAnswerable() async throws {
        let fake = try KommoAPIFake()
        let parser = KommoWebhookParser()
        var leadIDs: [Int64] = [], contactIDs: [Int64] = [], companyIDs: [Int64] = [], userIDs: Set<Int64> = []
        #expect(Fixtures.sampleWebhookNames.count == 14)
        for name in Fixtures.sampleWebhookNames {
            let hook = try parser.parse(body: try Fixtures.kommo(name), contentType: KommoWebhookBuilder.contentType)
            #expect(hook.account.id == 31234567)
            for event in hook.events {
                switch event {
                case .lead(let lead):
                    leadIDs.append(lead.id)
                    for user in [lead.responsibleUserID, lead.oldResponsibleUserID].compactMap({ $0 }) {
                        userIDs.insert(user)
                    }
                case .contact(let contact): contactIDs.append(contact.id)
                case .company(let company): companyIDs.append(company.id)
                case .note(let note): leadIDs += note.elementID.map { [$0] } ?? []
                case .unknown: break
                }
            }
        }
        let leads = try await fake.client.leads(ids: leadIDs)
        #expect(Set(leads.map(\.id)) == Set(leadIDs).subtracting([24000099]))
        for lead in leads { userIDs.insert(lead.responsibleUserID) }
        let wantedContacts = Set(contactIDs + leads.flatMap(\.contactIDs))
        let contacts = try await fake.client.contacts(ids: Array(wantedContacts).sorted())
        #expect(Set(contacts.map(\.id)) == wantedContacts)
        let wantedCompanies = Set(companyIDs + leads.compactMap(\.companyID) + contacts.flatMap {
            $0.embedded.companies.map(\.id)
        })
        let companies = try await fake.client.companies(ids: Array(wantedCompanies).sorted())
        #expect(Set(companies.map(\.id)) == wantedCompanies)
        let users = try #require(try await fake.client.users())
        #expect(userIDs.isSubset(of: Set(users.map(\.id))))
        let statuses = try await fake.client.pipelines().flatMap { pipeline in pipeline.statuses.map(\.id) }
        for lead in leads { #expect(statuses.contains(lead.statusID), "lead \(lead.id)") }
    }

    @Test("concurrent callers are all answered and counted")
    func concurrentCallers() async throws {
        let fake = try KommoAPIFake(configuration: .init(rateLimit: .init(requestsPerSecond: 1_000, burst: 1_000)))
        let ids: [Int64] = [24000017, 24000018, 24000019, 24000031, 24000040, 24000050, 24000099]
        let found = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<5 {
                for id in ids { group.addTask { try await fake.client.lead(id: id)?.id } }
            }
            var found: [Int64] = []
            for try await id in group { if let id { found.append(id) } }
            return found
        }
        #expect(found.count == 30)
        #expect(Set(found) == Set(ids).subtracting([24000099]))
        #expect(fake.transport.requestCount == 35)
        #expect(fake.transport.requestCountsByPath["/api/v4/leads/24000099"] == 5)
    }

    // MARK: Helpers

    static func client(_ transport: KommoFixtureTransport, token: String = KommoAPIFake.token) throws
        -> HTTPKommoClient {
        HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"), tokenProvider: LongLivedToken(token),
                        transport: transport, clock: ImmediateClock())
    }

    static func get(_ target: String) -> HTTPRequest {
        HTTPRequest(method: .get, url: URL(string: "https://acme.kommo.com" + target) ?? URL(fileURLWithPath: "/"),
                    headers: ["Authorization": "Bearer \(KommoAPIFake.token)"])
    }
}

@Suite("KommoFixtureTransport over a loopback server", .timeLimit(.minutes(1)))
struct FixtureTransportLoopbackTests {
    @Test("respond(to:) serves the fixtures over TCP to HTTPKommoClient, and counts the requests")
    func servesOverTCP() async throws {
        let api = try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory(), acceptedToken: "loopback-token")
        let server = try LoopbackHTTPServer { api.respond(to: $0) }
        defer { server.stop() }
        let client = HTTPKommoClient(host: try KommoAccountHost(url: server.baseURL),
                                     tokenProvider: LongLivedToken("loopback-token"), transport: URLSessionTransport())
        let leads = try await client.leads(ids: [24000031, 24000099, 24000017])
        #expect(leads.map(\.id) == [24000031, 24000017])
        let account = try await client.account()
        #expect(account.id == 31_234_567)
        #expect(api.requestCount(path: "/api/v4/leads") == 1)
        #expect(api.requestCount(path: "/api/v4/account") == 1)
    }

    @Test("respond(to:) answers a wrong token 401 and an unknown path 404, as send does")
    func refusals() throws {
        let api = try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory(), acceptedToken: "right")
        let headers: HTTPHeaders = ["Authorization": "Bearer wrong"]
        let refused = api.respond(to: .init(method: "GET", target: "/api/v4/account", headers: headers, body: Data()))
        #expect(refused.status == 401)
        let unknown = api.respond(to: .init(method: "GET", target: "/nowhere", headers: headers, body: Data()))
        #expect(unknown.status == 404)
    }
}
