import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

/// `GET /api/v4/events` from `events.json`, and the lead lists by stage and close time with real paging.
@Suite("KommoFixtureTransport: events log and paged lists", .timeLimit(.minutes(1)))
struct FixtureTransportEventsTests {
    // MARK: Events

    @Test("the bundled log comes newest first, by created_at then id, on one page")
    func bundledNewestFirst() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let page = try await Self.page(transport, "/api/v4/events")
        #expect(page["_page"] == 1)
        #expect(page["_links"]?["self"]?["href"] == "https://acme.kommo.com/api/v4/events")
        #expect(page["_links"]?["next"] == nil)
        let events = try #require(page["_embedded"]?["events"]?.arrayValue)
        // The file lists them oldest first; 09 and 10 share 1768650000, so the larger id comes first.
        #expect(Self.ids(page) == (1...16).reversed().map(Self.eventID))
        let times = events.compactMap { $0["created_at"]?.intValue }
        #expect(times.count == 16)
        #expect(times == times.sorted(by: >))
        #expect(times.first == 1_768_912_200 && times.last == 1_768_390_800)
        #expect(transport.requestCount(path: "/api/v4/events") == 1)
        #expect(transport.requestCountsByPath == ["/api/v4/events": 1])
    }

    @Test("ties on created_at are broken by id, descending; an event without a numeric time sorts last")
    func tieBreak() async throws {
        let transport = KommoFixtureTransport(files: try Self.log([
            Self.event("01b", at: 100), Self.event("01a", at: 100), Self.event("01z", at: nil),
            Self.event("01c", at: 100), Self.event("01d", at: 99), Self.event("01e", at: 101),
        ]))
        let all = try await Self.page(transport, "/api/v4/events")
        #expect(Self.ids(all) == ["01e", "01c", "01b", "01a", "01d", "01z"])
        // An event without a number for created_at matches no time window.
        let window = try await Self.page(transport, "/api/v4/events?filter%5Bcreated_at%5D%5Bfrom%5D=0")
        #expect(Self.ids(window) == ["01e", "01c", "01b", "01a", "01d"])
    }

    @Test("filter[type][]: one type, several types, the indexed form and a comma-separated value")
    func typeFilter() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let stages = try await Self.page(transport, "/api/v4/events?filter%5Btype%5D%5B%5D=lead_status_changed")
        #expect(Self.ids(stages) == [16, 14, 13, 11, 10, 9, 8, 6, 4, 3, 2].map(Self.eventID))
        let events = try #require(stages["_embedded"]?["events"]?.arrayValue)
        #expect(events.allSatisfy { $0["type"] == "lead_status_changed" })

        let two = try await Self.page(transport,
                                      "/api/v4/events?filter[type][]=lead_added&filter[type][]=lead_deleted")
        #expect(Self.ids(two) == [15, 7].map(Self.eventID))
        let indexed = try await Self.page(transport,
                                          "/api/v4/events?filter[type][0]=lead_restored&filter[type][1]=lead_added")
        #expect(Self.ids(indexed) == [12, 7].map(Self.eventID))
        let commas = try await Self.page(transport,
                                         "/api/v4/events?filter[type][]=entity_responsible_changed,lead_added")
        #expect(Self.ids(commas) == [7, 5].map(Self.eventID))
        let (none, body) = try await transport.send(Self.get("/api/v4/events?filter[type][]=task_added"), body: nil)
        #expect(none.status == 204)
        #expect(body.isEmpty)
    }

    @Test("filter[entity][]: singular entity names; the chat message is the only contact event")
    func entityFilter() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let leads = try await Self.page(transport, "/api/v4/events?filter%5Bentity%5D%5B%5D=lead")
        #expect(Self.ids(leads) == (2...16).reversed().map(Self.eventID))
        let contacts = try await Self.page(transport, "/api/v4/events?filter[entity][0]=contact")
        #expect(Self.ids(contacts) == [Self.eventID(1)])
        #expect(contacts["_embedded"]?["events"]?[0]?["type"] == "incoming_chat_message")
        #expect(contacts["_embedded"]?["events"]?[0]?["_embedded"]?["entity"]?["id"] == 35_000_021)
        let both = try await Self.page(transport, "/api/v4/events?filter[entity][]=lead&filter[entity][]=contact")
        #expect(Self.ids(both).count == 16)
        // Both filters apply: no contact event is a lead_added.
        let combined = try await Self.page(transport,
                                           "/api/v4/events?filter[entity][]=contact&filter[type][]=lead_added")
        #expect(combined.isNull)
    }

    @Test("filter[created_at][from] and [to] are inclusive Unix seconds")
    func createdAtFilter() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let window = try await Self.page(
            transport, "/api/v4/events?filter[created_at][from]=1768650000&filter[created_at][to]=1768740600")
        #expect(Self.ids(window) == [13, 12, 11, 10, 9].map(Self.eventID))
        let since = try await Self.page(transport, "/api/v4/events?filter[created_at][from]=1768822900")
        #expect(Self.ids(since) == [16, 15, 14].map(Self.eventID))
        let until = try await Self.page(transport, "/api/v4/events?filter[created_at][to]=1768394100")
        #expect(Self.ids(until) == [2, 1].map(Self.eventID))
        let catchUp = try await Self.page(transport, "/api/v4/events?filter[type][]=lead_status_changed"
            + "&filter[entity][]=lead&filter[created_at][from]=1768470000&filter[created_at][to]=1768557600")
        #expect(Self.ids(catchUp) == [8, 6, 4].map(Self.eventID))
        let (empty, _) = try await transport.send(
            Self.get("/api/v4/events?filter[created_at][from]=1768912201"), body: nil)
        #expect(empty.status == 204)
    }

    @Test("paging: limit 3 over 7 events gives pages of 3, 3 and 1; _links.next only while a page follows; 204 after")
    func eventPaging() async throws {
        let transport = KommoFixtureTransport(files: try Self.log((1...7).map { Self.event("e\($0)", at: Int64($0)) }))
        let first = "/api/v4/events?filter%5Btype%5D%5B%5D=lead_status_changed&limit=3"
        var pages: [[String]] = []
        var numbers: [JSONValue] = []
        var target: String? = first
        while let current = target {
            let page = try await Self.page(transport, current)
            pages.append(Self.ids(page))
            numbers.append(page["_page"] ?? .null)
            target = page["_links"]?["next"]?["href"]?.stringValue.map { href in
                #expect(href.hasPrefix("https://acme.kommo.com/api/v4/events?"))
                return String(href.dropFirst("https://acme.kommo.com".count))
            }
            #expect(pages.count <= 3)
            if pages.count > 3 { break }
        }
        #expect(pages == [["e7", "e6", "e5"], ["e4", "e3", "e2"], ["e1"]])
        #expect(numbers == [1, 2, 3])
        // The next link is the same query with page counted up.
        let second = try await Self.page(transport, first)
        #expect(second["_links"]?["next"]?["href"]
            == "https://acme.kommo.com/api/v4/events?filter%5Btype%5D%5B%5D=lead_status_changed&limit=3&page=2")
        let third = try await Self.page(transport, first + "&page=2")
        #expect(third["_links"]?["next"]?["href"]
            == "https://acme.kommo.com/api/v4/events?filter%5Btype%5D%5B%5D=lead_status_changed&limit=3&page=3")
        let (past, body) = try await transport.send(Self.get(first + "&page=4"), body: nil)
        #expect(past.status == 204)
        #expect(body.isEmpty)
        #expect(transport.requestCount(path: "/api/v4/events") == 6)
    }

    @Test("paging: a last page that is exactly full has no _links.next; limit 2 over the bundled stage changes")
    func eventPagingExactlyFull() async throws {
        let six = KommoFixtureTransport(files: try Self.log((1...6).map { Self.event("e\($0)", at: Int64($0)) }))
        let last = try await Self.page(six, "/api/v4/events?page=2&limit=3")
        #expect(Self.ids(last) == ["e3", "e2", "e1"])
        #expect(last["_page"] == 2)
        #expect(last["_links"]?["next"] == nil)
        #expect(last["_links"]?["self"]?["href"] == "https://acme.kommo.com/api/v4/events?page=2&limit=3")
        let first = try await Self.page(six, "/api/v4/events?page=1&limit=3")
        #expect(first["_links"]?["next"]?["href"] == "https://acme.kommo.com/api/v4/events?page=2&limit=3")

        let bundled = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let target = "/api/v4/events?filter[type][]=lead_status_changed&filter[created_at][from]=1768650000&limit=2"
        let one = try await Self.page(bundled, target)
        let two = try await Self.page(bundled, target + "&page=2")
        let three = try await Self.page(bundled, target + "&page=3")
        #expect([Self.ids(one), Self.ids(two), Self.ids(three)]
            == [[16, 14], [13, 11], [10, 9]].map { $0.map(Self.eventID) })
        #expect(one["_links"]?["next"] != nil && two["_links"]?["next"] != nil)
        #expect(three["_links"]?["next"] == nil)
    }

    @Test("events answer 400 for a limit outside 1...100, a bad page or time, an unknown parameter; 405 for POST",
          arguments: [
              ("GET", "/api/v4/events?limit=101", 400),
              ("GET", "/api/v4/events?limit=0", 400),
              ("GET", "/api/v4/events?limit=ten", 400),
              ("GET", "/api/v4/events?page=0", 400),
              ("GET", "/api/v4/events?filter[created_at][from]=yesterday", 400),
              ("GET", "/api/v4/events?filter[type][]=", 400),
              ("GET", "/api/v4/events?filter[entity_id][]=24000017", 400),
              ("GET", "/api/v4/events?with=lead_name", 400),
              ("POST", "/api/v4/events", 405),
              ("GET", "/api/v4/events/01jh0000000000000000000001", 404),
              ("GET", "/api/v4/events?limit=100", 200),
              ("GET", "/api/v4/events?limit=1&page=16", 200),
              ("GET", "/api/v4/events?limit=1&page=17", 204),
          ])
    func eventRefusals(method: String, target: String, status: Int) async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        var request = Self.get(target)
        request.method = HTTPMethod(rawValue: method)
        let (response, body) = try await transport.send(request, body: nil)
        #expect(response.status == status)
        if status >= 400 {
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(try JSONDecoder().decode(JSONValue.self, from: body)["status"] == .int(Int64(status)))
        }
        #expect(transport.requestCount(path: String(target.prefix { $0 != "?" })) == 1)
    }

    @Test("without events.json the log is empty (204); an events.json of the wrong shape fails naming the file")
    func missingAndMalformedLog() async throws {
        let empty = KommoFixtureTransport(files: ["leads/1.json": Data(#"{"id": 1}"#.utf8)])
        let (response, body) = try await empty.send(Self.get("/api/v4/events"), body: nil)
        #expect(response.status == 204)
        #expect(body.isEmpty)
        #expect(empty.requestCount(path: "/api/v4/events") == 1)

        for (content, detail) in [
            ("{not json", "the fixture file 'events.json' is not valid JSON"),
            (#"{"events": []}"#, "the fixture file 'events.json' has no _embedded.events array"),
            (#"{"_embedded": {"events": [1]}}"#, "event 0 of the fixture file 'events.json' is not an object"),
        ] {
            let broken = KommoFixtureTransport(files: ["events.json": Data(content.utf8)])
            let error = await #expect(throws: HTTPTransportError.self) {
                try await broken.send(Self.get("/api/v4/events"), body: nil)
            }
            #expect(error?.code == .invalidResponse)
            #expect(error?.detail == detail)
        }
    }

    @Test("respond(to:) links the next page on the Host of the request (the loopback server's port)")
    func nextLinkOnLoopbackHost() throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let headers: HTTPHeaders = ["Host": "127.0.0.1:54321", "Authorization": "Bearer \(KommoAPIFake.token)"]
        let response = transport.respond(to: .init(method: "GET", target: "/api/v4/events?limit=5", headers: headers))
        #expect(response.status == 200)
        let page = try JSONDecoder().decode(JSONValue.self, from: response.body)
        #expect(page["_links"]?["next"]?["href"] == "http://127.0.0.1:54321/api/v4/events?limit=5&page=2")
        #expect(page["_links"]?["self"]?["href"] == "http://127.0.0.1:54321/api/v4/events?limit=5")
        #expect(Self.ids(page) == (12...16).reversed().map(Self.eventID))
        #expect(transport.requestCount(path: "/api/v4/events") == 1)
    }

    // MARK: Lead lists

    @Test("leads by filter[statuses] pairs: the pipeline and the stage must both match one pair")
    func leadsByStatuses() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let sales = "filter[statuses][0][pipeline_id]=7654321&filter[statuses][0][status_id]=142"
        let partners = "filter[statuses][1][pipeline_id]=7654400&filter[statuses][1][status_id]=142"
        #expect(Self.leadIDs(try await Self.page(transport, "/api/v4/leads?" + sales)) == [24_000_050])
        #expect(Self.leadIDs(try await Self.page(transport, "/api/v4/leads?" + partners)) == [24_000_019])
        let won = try await Self.page(transport, "/api/v4/leads?\(sales)&\(partners)&with=contacts")
        #expect(Self.leadIDs(won) == [24_000_019, 24_000_050])
        #expect(won["_embedded"]?["leads"]?[0]?["_embedded"]?["contacts"]?[0]?["id"] == 35_000_021)
        let lost = "filter%5Bstatuses%5D%5B0%5D%5Bpipeline_id%5D=7654321&filter%5Bstatuses%5D%5B0%5D%5Bstatus_id%5D=143"
        #expect(Self.leadIDs(try await Self.page(transport, "/api/v4/leads?" + lost)) == [24_000_018, 24_000_031])
        // A stage of one pipeline does not match the same stage id in another pipeline.
        let (none, _) = try await transport.send(Self.get(
            "/api/v4/leads?filter[statuses][0][pipeline_id]=7654400&filter[statuses][0][status_id]=143"), body: nil)
        #expect(none.status == 204)
        // Stage and ids together.
        let both = try await Self.page(transport,
                                       "/api/v4/leads?\(sales)&\(partners)&filter[id][]=24000050&filter[id][]=24000017")
        #expect(Self.leadIDs(both) == [24_000_050])
    }

    @Test("leads by filter[closed_at]: inclusive, and a lead without closed_at never matches")
    func leadsByClosedAt() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let closed = try await Self.page(transport, "/api/v4/leads?filter[closed_at][from]=0")
        #expect(Self.leadIDs(closed) == [24_000_018, 24_000_019, 24_000_031, 24_000_050])
        let window = try await Self.page(
            transport, "/api/v4/leads?filter[closed_at][from]=1768650001&filter[closed_at][to]=1768822900")
        #expect(Self.leadIDs(window) == [24_000_019, 24_000_031, 24_000_050])
        let wonSince = "/api/v4/leads?filter[statuses][0][pipeline_id]=7654321&filter[statuses][0][status_id]=142"
            + "&filter[statuses][1][pipeline_id]=7654400&filter[statuses][1][status_id]=142"
            + "&filter[closed_at][from]=1768700000&with=contacts,loss_reason"
        #expect(Self.leadIDs(try await Self.page(transport, wonSince)) == [24_000_050])
        let (none, _) = try await transport.send(Self.get("/api/v4/leads?filter[closed_at][to]=1768649999"), body: nil)
        #expect(none.status == 204)
    }

    @Test("lead lists page for real: limit 3 by ascending id, _links.next while a page follows, 204 after the end")
    func leadPaging() async throws {
        var files: [String: Data] = [:]
        for id in 1...9 {
            let won = id != 4 && id != 8
            files["leads/\(id).json"] = try Self.lead(Int64(id), statusID: won ? 142 : 143,
                                                      closedAt: id == 9 ? nil : 1_768_000_000 + Int64(id))
        }
        let transport = KommoFixtureTransport(files: files)
        let query = "/api/v4/leads?filter[statuses][0][pipeline_id]=7654321&filter[statuses][0][status_id]=142"
            + "&filter[closed_at][from]=1768000000&with=contacts,loss_reason&limit=3"
        var pages: [[Int64]] = []
        var target: String? = query
        while let current = target, pages.count < 4 {
            let page = try await Self.page(transport, current)
            pages.append(Self.leadIDs(page))
            #expect(page["_page"] == .int(Int64(pages.count)))
            target = page["_links"]?["next"]?["href"]?.stringValue.map {
                String($0.dropFirst("https://acme.kommo.com".count))
            }
        }
        // 4 and 8 are lost, 9 has no closed_at: 1, 2, 3, 5, 6, 7 on two full pages, and no third.
        #expect(pages == [[1, 2, 3], [5, 6, 7]])
        let (past, body) = try await transport.send(Self.get(query + "&page=3"), body: nil)
        #expect(past.status == 204)
        #expect(body.isEmpty)

        // Without filters every file is listed, paged the same way.
        let all = "/api/v4/leads?limit=4"
        let one = try await Self.page(transport, all)
        let two = try await Self.page(transport, all + "&page=2")
        let three = try await Self.page(transport, all + "&page=3")
        #expect([Self.leadIDs(one), Self.leadIDs(two), Self.leadIDs(three)] == [[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        #expect(one["_links"]?["next"]?["href"] == "https://acme.kommo.com/api/v4/leads?limit=4&page=2")
        #expect(three["_links"]?["next"] == nil)
    }

    @Test("filter[id][] lists page the same way, in the requested order; contacts and companies page too")
    func idListPaging() async throws {
        var files: [String: Data] = [:]
        for id in 1...5 {
            files["leads/\(id).json"] = try Self.lead(Int64(id), statusID: 142, closedAt: nil)
            files["contacts/\(id).json"] = Data(#"{"id": \#(id), "name": "Contact \#(id)"}"#.utf8)
            files["companies/\(id).json"] = Data(#"{"id": \#(id), "name": "Company \#(id)"}"#.utf8)
        }
        let transport = KommoFixtureTransport(files: files)
        let ids = "/api/v4/leads?filter[id][]=5&filter[id][]=3&filter[id][]=99&filter[id][]=1&filter[id][]=3"
            + "&filter[id][]=2&limit=2"
        let one = try await Self.page(transport, ids)
        let two = try await Self.page(transport, ids + "&page=2")
        #expect(Self.leadIDs(one) == [5, 3])
        #expect(Self.leadIDs(two) == [1, 2])
        #expect(one["_links"]?["next"] != nil)
        #expect(two["_links"]?["next"] == nil)
        #expect(try await transport.send(Self.get(ids + "&page=3"), body: nil).0.status == 204)

        let contacts = try await Self.page(transport, "/api/v4/contacts?limit=2&page=3")
        #expect(contacts["_embedded"]?["contacts"]?.arrayValue?.compactMap { $0["id"]?.intValue } == [5])
        #expect(contacts["_links"]?["next"] == nil)
        let companies = try await Self.page(transport, "/api/v4/companies?limit=2")
        #expect(companies["_embedded"]?["companies"]?.arrayValue?.compactMap { $0["id"]?.intValue } == [1, 2])
        #expect(companies["_links"]?["next"]?["href"] == "https://acme.kommo.com/api/v4/companies?limit=2&page=2")
    }

    @Test("lead list refusals: half a stage pair, a bad id or time, and lead filters on other entities", arguments: [
        "/api/v4/leads?filter[statuses][0][pipeline_id]=7654321",
        "/api/v4/leads?filter[statuses][0][status_id]=142&filter[statuses][1][pipeline_id]=7654321"
            + "&filter[statuses][1][status_id]=142",
        "/api/v4/leads?filter[statuses][0][status_id]=won&filter[statuses][0][pipeline_id]=7654321",
        "/api/v4/leads?filter[statuses][0][stage]=142",
        "/api/v4/leads?filter[closed_at][from]=last-week",
        "/api/v4/leads?filter[closed_at][after]=1",
        "/api/v4/leads?limit=251",
        "/api/v4/leads?page=0",
        "/api/v4/contacts?filter[closed_at][from]=1",
        "/api/v4/companies?filter[statuses][0][pipeline_id]=1&filter[statuses][0][status_id]=142",
    ])
    func leadListRefusals(target: String) async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let (response, body) = try await transport.send(Self.get(target), body: nil)
        #expect(response.status == 400)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(try JSONDecoder().decode(JSONValue.self, from: body)["status"] == 400)
    }

    // MARK: The bundled log and the samples

    @Test("every stage change, owner change and new lead of the webhook samples has its event, at the item's time")
    func bundledLogMirrorsTheSamples() async throws {
        let transport = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let events = try #require(try await Self.page(transport, "/api/v4/events")["_embedded"]?["events"]?.arrayValue)
        let parser = KommoWebhookParser()
        var mirrored = Set<String>()
        for name in Fixtures.sampleWebhookNames {
            let hook = try parser.parse(body: try Fixtures.kommo(name), contentType: KommoWebhookBuilder.contentType)
            for case .lead(let lead) in hook.events {
                guard let time = lead.eventTime.map({ Int64($0.timeIntervalSince1970) }) else { continue }
                let wanted: (type: String, before: JSONValue?, after: JSONValue?)
                if lead.action == .status && lead.isStageChange {
                    wanted = ("lead_status_changed", lead.oldStatusID.map { .int($0) }, lead.statusID.map { .int($0) })
                } else if lead.action == .responsible {
                    wanted = ("entity_responsible_changed", lead.oldResponsibleUserID.map { .int($0) },
                              lead.responsibleUserID.map { .int($0) })
                } else if lead.action == .add {
                    wanted = ("lead_added", nil, nil)
                } else {
                    continue
                }
                let match = events.first { event in
                    guard event["type"]?.stringValue == wanted.type, event["entity_id"]?.intValue == lead.id,
                          event["created_at"]?.intValue == time, event["entity_type"] == "lead" else { return false }
                    let key = wanted.type == "lead_status_changed" ? "lead_status" : "responsible_user"
                    return wanted.before == nil
                        || event["value_before"]?[0]?[key]?["id"] == wanted.before
                        && event["value_after"]?[0]?[key]?["id"] == wanted.after
                }
                let found = try #require(match, "\(name): lead \(lead.id) \(wanted.type) at \(time)")
                mirrored.insert(found["id"]?.stringValue ?? "")
                if wanted.type == "lead_status_changed" {
                    let pipeline = found["value_after"]?[0]?["lead_status"]?["pipeline_id"]
                    #expect(pipeline == lead.pipelineID.map { .int($0) })
                }
            }
        }
        #expect(mirrored == Set([2, 5, 7, 9, 10, 11, 13, 16].map(Self.eventID)))
    }

    @Test("the bundled log: unique ids, every stage exists in its pipeline, and the current stages of the lead files")
    func bundledLogIsConsistent() throws {
        let files = try Fixtures.kommoAPIFiles()
        let log = try JSONDecoder().decode(JSONValue.self, from: try #require(files["events.json"]))
        let events = try #require(log["_embedded"]?["events"]?.arrayValue)
        #expect(events.count == 16)
        let ids = events.compactMap { $0["id"]?.stringValue }
        #expect(Set(ids).count == 16)
        #expect(ids.allSatisfy { $0.count == 26 && $0.hasPrefix("01jh") })

        let pipelines = try JSONDecoder().decode(JSONValue.self, from: try #require(files["pipelines.json"]))
        var stages = Set<[Int64]>()
        for pipeline in pipelines["_embedded"]?["pipelines"]?.arrayValue ?? [] {
            for status in pipeline["_embedded"]?["statuses"]?.arrayValue ?? [] {
                stages.insert([pipeline["id"]?.intValue ?? 0, status["id"]?.intValue ?? 0])
            }
        }
        var lastStage: [Int64: [Int64]] = [:]
        for event in events {
            let time = try #require(event["created_at"]?.intValue)
            #expect((1_767_225_600..<1_769_904_000).contains(time), "January 2026")
            #expect(event["_embedded"]?["entity"]?["id"] == event["entity_id"])
            #expect(event["account_id"] == 31_234_567)
            guard event["type"] == "lead_status_changed" else { continue }
            for key in ["value_before", "value_after"] {
                let stage = try #require(event[key]?[0]?["lead_status"])
                let pair = [stage["pipeline_id"]?.intValue ?? 0, stage["id"]?.intValue ?? 0]
                #expect(stages.contains(pair), "\(event["id"] ?? .null) \(key) \(pair)")
            }
            if let lead = event["entity_id"]?.intValue, let after = event["value_after"]?[0]?["lead_status"] {
                lastStage[lead] = [after["pipeline_id"]?.intValue ?? 0, after["id"]?.intValue ?? 0]
            }
        }
        // The last stage change of each lead (the file is in time order) is the stage its file has now, except
        // 24000017, whose file is the sample of `GET /api/v4/leads/24000017` at 61000004 (before its win).
        for (lead, stage) in lastStage where lead != 24_000_017 {
            let file = try JSONDecoder().decode(JSONValue.self, from: try #require(files["leads/\(lead).json"]))
            #expect([file["pipeline_id"]?.intValue ?? 0, file["status_id"]?.intValue ?? 0] == stage, "lead \(lead)")
        }
        #expect(lastStage[24_000_017] == [7_654_321, 142])
    }

    // MARK: Helpers

    static func eventID(_ number: Int) -> String {
        let digits = String(number)
        return "01jh" + String(repeating: "0", count: 22 - digits.count) + digits
    }

    static func get(_ target: String) -> HTTPRequest {
        HTTPRequest(method: .get, url: URL(string: "https://acme.kommo.com" + target) ?? URL(fileURLWithPath: "/"),
                    headers: ["Authorization": "Bearer \(KommoAPIFake.token)"])
    }

    /// The decoded body of a GET of `target`; `.null` for 204. Records an issue for any other status.
    static func page(_ transport: KommoFixtureTransport, _ target: String) async throws -> JSONValue {
        let (response, body) = try await transport.send(get(target), body: nil)
        if response.status == 204 {
            #expect(body.isEmpty)
            return .null
        }
        #expect(response.status == 200, "\(target)")
        #expect(response.headers["Content-Type"] == "application/hal+json")
        return try JSONDecoder().decode(JSONValue.self, from: body)
    }

    static func ids(_ page: JSONValue) -> [String] {
        page["_embedded"]?["events"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }

    static func leadIDs(_ page: JSONValue) -> [Int64] {
        page["_embedded"]?["leads"]?.arrayValue?.compactMap { $0["id"]?.intValue } ?? []
    }

    /// A `lead_status_changed` event of lead 1 (Sales, 61000005 → 142) at `at` (no `created_at` when `nil`).
    static func event(_ id: String, at: Int64?) -> JSONValue {
        var event: [String: JSONValue] = [
            "id": .string(id), "type": "lead_status_changed", "entity_id": 1, "entity_type": "lead",
            "created_by": 9_000_001, "account_id": 31_234_567,
            "value_before": [["lead_status": ["id": 61_000_005, "pipeline_id": 7_654_321]]],
            "value_after": [["lead_status": ["id": 142, "pipeline_id": 7_654_321]]],
            "_embedded": ["entity": ["id": 1]],
        ]
        if let at { event["created_at"] = .int(at) }
        return .object(event)
    }

    /// An in-memory fixture set holding only `events.json` with `events`.
    static func log(_ events: [JSONValue]) throws -> [String: Data] {
        ["events.json": try JSONEncoder().encode(JSONValue.object(["_embedded": ["events": .array(events)]]))]
    }

    /// A minimal lead file in pipeline Sales.
    static func lead(_ id: Int64, statusID: Int64, closedAt: Int64?) throws -> Data {
        let lead: JSONValue = [
            "id": .int(id), "name": .string("Lead \(id)"), "status_id": .int(statusID), "pipeline_id": 7_654_321,
            "closed_at": closedAt.map { .int($0) } ?? .null,
            "_embedded": ["contacts": [["id": .int(35_000_000 + id), "is_main": true]], "tags": []],
        ]
        return try JSONEncoder().encode(lead)
    }
}
