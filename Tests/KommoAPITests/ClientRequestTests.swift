import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

@Suite("Kommo client requests", .timeLimit(.minutes(1)))
struct ClientRequestTests {
    @Test("leads(ids:) sends filter[id][], with and limit exactly; duplicates once")
    func leadsQuery() async throws {
        let transport = ScriptedTransport([try K.fixture("api-lead-with-contacts-companies.json").asPage("leads")])
        let client = try K.client(transport)
        let leads = try await client.leads(ids: [24_000_017, 24_000_018, 24_000_017])
        #expect(leads.map(\.id) == [24_000_017])
        let request = try #require(transport.requests.first)
        #expect(request.request.method == .get)
        #expect(request.request.url.absoluteString == "https://acme.kommo.com/api/v4/leads?"
            + "filter%5Bid%5D%5B%5D=24000017&filter%5Bid%5D%5B%5D=24000018&with=contacts,loss_reason&limit=250")
        #expect(request.bearer == K.accessToken)
        #expect(request.request.headers["User-Agent"] == SDKInfo.userAgent)
        #expect(request.request.headers["Accept"] == "application/json")
        #expect(request.request.timeout == .seconds(15))
        #expect(request.body == nil)
    }

    /// The ids of each request, in order.
    private func sentIDs(_ transport: ScriptedTransport) -> [[Int64]] {
        transport.requests.map { request in
            URLComponents(url: request.request.url, resolvingAgainstBaseURL: false)?.queryItems?
                .filter { $0.name == "filter[id][]" }.compactMap { $0.value.flatMap { Int64($0) } } ?? []
        }
    }

    @Test("600 ids go out as 250, 250 and 100 in order, each URL under 8,000 bytes")
    func chunking() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in K.noContent })
        let client = try K.client(transport)
        let ids: [Int64] = (1...600).map { 24_000_000 + $0 }
        #expect(try await client.leads(ids: ids).isEmpty)
        let requests = transport.requests
        let sent = sentIDs(transport)
        #expect(sent.map(\.count) == [250, 250, 100])
        #expect(sent.flatMap { $0 } == ids)
        #expect(requests.allSatisfy { $0.request.url.absoluteString.utf8.count <= 8_000 })
        for request in requests {
            #expect(request.query?.hasSuffix("&with=contacts,loss_reason&limit=250") == true)
        }
    }

    @Test("long ids are split by URL length: every URL within maxURLLength, no id lost, none twice")
    func urlBudget() async throws {
        for limit in [1_024, 2_000, 8_000] {
            let transport = ScriptedTransport(fallback: { _, _ in K.noContent })
            let client = try K.client(transport, configuration: .init(maxURLLength: limit))
            // 19-digit ids: 250 of them would make a URL of about 10 KB.
            let ids: [Int64] = (1...400).map { Int64.max - 1_000 + $0 }
            #expect(try await client.contacts(ids: ids).isEmpty)
            let lengths = transport.requests.map { $0.request.url.absoluteString.utf8.count }
            #expect(lengths.allSatisfy { $0 <= limit })
            #expect(sentIDs(transport).flatMap { $0 } == ids)
            // Each request but the last is full: one more id would not have fitted.
            #expect(lengths.dropLast().allSatisfy { $0 + 42 > limit })
        }
    }

    @Test("chunk size follows the configuration and empty input sends nothing")
    func chunkSize() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in K.noContent })
        let client = try K.client(transport, configuration: .init(idsPerRequest: 2, pageLimit: 900))
        _ = try await client.contacts(ids: [1, 2, 3])
        #expect(transport.requests.map(\.query) == [
            "filter%5Bid%5D%5B%5D=1&filter%5Bid%5D%5B%5D=2&limit=250", "filter%5Bid%5D%5B%5D=3&limit=250",
        ])
        #expect(try await client.companies(ids: []).isEmpty)
        #expect(try await client.addNotes([]).isEmpty)
        #expect(transport.requests.count == 2)
    }

    @Test("pages are followed through _links.next until it is absent")
    func paging() async throws {
        let page1 = try K.fixture("api-leads-list-by-ids-page1.json")
        let page2 = K.page("leads", [["id": 24_000_019, "name": "Third", "status_id": 142, "pipeline_id": 7_654_400]])
        let transport = ScriptedTransport([page1, page2])
        let client = try K.client(transport)
        let leads = try await client.leads(ids: [24_000_017, 24_000_018, 24_000_019])
        #expect(leads.map(\.id) == [24_000_017, 24_000_018, 24_000_019])
        #expect(leads[2].isWon)
        #expect(transport.requests.count == 2)
        #expect(transport.requests[1].request.url.absoluteString == "https://acme.kommo.com/api/v4/leads?"
            + "filter%5Bid%5D%5B0%5D=24000017&filter%5Bid%5D%5B1%5D=24000018&filter%5Bid%5D%5B2%5D=24000019"
            + "&with=contacts&limit=2&page=2")
        #expect(transport.requests[1].bearer == K.accessToken)
    }

    @Test("a 204 on a later page ends paging with the items so far")
    func pagingStopsOn204() async throws {
        let transport = ScriptedTransport([try K.fixture("api-leads-list-by-ids-page1.json"), K.noContent])
        let leads = try await K.client(transport).leads(ids: [24_000_017])
        #expect(leads.map(\.id) == [24_000_017, 24_000_018])
        #expect(transport.requests.count == 2)
    }

    @Test("a next link to another host is refused before any token is sent there")
    func foreignNextLink() async throws {
        let transport = ScriptedTransport([K.page("leads", [["id": 1]], next: "https://evil.example.com/api/v4/leads?page=2")])
        let error = await #expect(throws: KommoAPIError.self) {
            try await K.client(transport).leads(ids: [1])
        }
        #expect(error?.code == .invalidPaging)
        #expect(transport.requests.count == 1)
    }

    @Test("a next link equal to a page already read ends paging")
    func pagingLoop() async throws {
        let transport = ScriptedTransport([
            K.page("leads", [["id": 1]], next: "https://acme.kommo.com/api/v4/leads?page=2"),
            K.page("leads", [["id": 2]], next: "https://acme.kommo.com/api/v4/leads?page=2"),
        ])
        let leads = try await K.client(transport).leads(ids: [1, 2])
        #expect(leads.map(\.id) == [1, 2])
        #expect(transport.requests.count == 2)
    }

    @Test("lead(id:) asks for contacts and loss reason; 204 gives nil")
    func singleLead() async throws {
        let transport = ScriptedTransport([try K.fixture("api-lead-lost-with-loss-reason.json"), K.noContent])
        let client = try K.client(transport)
        let lead = try #require(try await client.lead(id: 24_000_031))
        #expect(lead.lossReason?.name == "Chose a competitor")
        #expect(transport.requests[0].request.url.absoluteString
            == "https://acme.kommo.com/api/v4/leads/24000031?with=contacts,loss_reason")
        #expect(try await client.lead(id: 24_000_099) == nil)
    }

    @Test("204 with a body that claims JSON is never decoded")
    func noContentIgnoresBody() async throws {
        let transport = ScriptedTransport([
            .respond(status: 204, headers: ["Content-Type": "application/hal+json"], body: Data("garbage".utf8)),
        ])
        #expect(try await K.client(transport).leads(ids: [99_999_999]).isEmpty)
    }

    @Test("contacts and companies by id decode and use their paths")
    func contactsAndCompanies() async throws {
        let transport = ScriptedTransport([
            K.page("contacts", [try K.fixtureJSON("api-contact.json")]),
            K.page("companies", [try K.fixtureJSON("api-company.json")]),
            K.noContent,
        ])
        let client = try K.client(transport)
        let contact = try #require(try await client.contact(id: 35_000_021))
        #expect(contact.primaryEmail == "olivia.bennett@example.com")
        let company = try #require(try await client.company(id: 36_000_005))
        #expect(company.website == "https://northwind.example.com")
        #expect(try await client.contact(id: 1) == nil)
        #expect(transport.requests.map(\.path) == ["/api/v4/contacts", "/api/v4/companies", "/api/v4/contacts"])
        #expect(transport.requests[1].query == "filter%5Bid%5D%5B%5D=36000005&limit=250")
    }

    @Test("reference data endpoints: pipelines, users, loss reasons, account")
    func referenceData() async throws {
        let transport = ScriptedTransport([
            try K.fixture("api-pipelines.json"),
            K.page("users", [try K.fixtureJSON("api-user.json")]),
            K.page("loss_reasons", [["id": 8_000_003, "name": "Chose a competitor", "sort": 100_000]]),
            try K.fixture("api-account.json"),
        ])
        let client = try K.client(transport)
        #expect(try await client.status(id: 61_000_004, pipelineID: 7_654_321)?.name == "Decision making")
        #expect(try await client.user(id: 9_000_001)?.name == "Maria Lopez")
        #expect(try await client.lossReason(id: 8_000_003)?.name == "Chose a competitor")
        #expect(try await client.account().currency == "USD")
        #expect(transport.requests.map { $0.request.url.absoluteString } == [
            "https://acme.kommo.com/api/v4/leads/pipelines",
            "https://acme.kommo.com/api/v4/users?limit=250",
            "https://acme.kommo.com/api/v4/leads/loss_reasons",
            "https://acme.kommo.com/api/v4/account",
        ])
    }

    @Test("addNotes posts the fixture body and returns the created notes")
    func addNotes() async throws {
        let transport = ScriptedTransport([try K.fixture("api-note-create-response.json")])
        let client = try K.client(transport, configuration: .init(contextUserID: 9_000_002))
        let notes = try await client.addNotes([
            .common(leadID: 24_000_017, text: "Analytics sync: stage changed to \"Decision making\" (Sales pipeline)."),
        ])
        #expect(notes == [Note(id: 91_000_077, entityID: 24_000_017, requestID: "0")])
        let request = try #require(transport.requests.first)
        #expect(request.request.method == .post)
        #expect(request.request.url.absoluteString == "https://acme.kommo.com/api/v4/leads/notes")
        #expect(request.request.headers["Content-Type"] == "application/json")
        #expect(request.request.headers["X-Context-User-ID"] == "9000002")
        let sent = try JSONDecoder().decode(JSONValue.self, from: try #require(request.body))
        #expect(sent == (try K.fixtureJSON("api-note-create-request.json")))
    }

    @Test("more than 50 notes go out in batches of 50")
    func noteBatches() async throws {
        let transport = ScriptedTransport(fallback: { _, body in
            let count = (try? JSONDecoder().decode([JSONValue].self, from: body ?? Data()))?.count ?? 0
            return K.page("notes", (0..<count).map { ["id": .int(Int64($0)), "entity_id": 1] })
        })
        let notes = try await K.client(transport).addNotes((0..<120).map { .common(leadID: $0, text: "n") })
        #expect(notes.count == 120)
        #expect(transport.requests.map { (try? JSONDecoder().decode([JSONValue].self, from: $0.body ?? Data()))?.count }
            == [50, 50, 20])
    }
}

extension ScriptedTransport.Answer {
    /// Wraps a single-entity answer into a one-item HAL collection.
    func asPage(_ key: String) throws -> ScriptedTransport.Answer {
        guard case .respond(_, _, let body) = self else { return self }
        let item = try JSONDecoder().decode(JSONValue.self, from: body)
        return K.page(key, [item])
    }
}
