import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

@Suite("Kommo client over real TCP", .timeLimit(.minutes(1)))
struct LoopbackTests {
    @Test("leads by ids (two pages) and their contacts from a loopback server")
    func leadsAndContacts() async throws {
        let page1 = try K.fixtureJSON("api-leads-list-by-ids-page1.json")
        let contact = try K.fixtureJSON("api-contact.json")
        let server = try LoopbackHTTPServer { request in
            let host = request.headers["Host"] ?? "127.0.0.1"
            if request.target.hasPrefix("/api/v4/leads?") && !request.target.contains("page=2") {
                var body = page1
                if case .object(var root) = body {
                    root["_links"] = ["next": ["href": .string("http://\(host)/api/v4/leads?page=2")]]
                    body = .object(root)
                }
                return .json(body.description)
            }
            if request.target == "/api/v4/leads?page=2" {
                return .json(#"{"_page":2,"_links":{},"_embedded":{"leads":[{"id":24000019,"status_id":142}]}}"#)
            }
            if request.target.hasPrefix("/api/v4/contacts?") {
                let body: JSONValue = ["_embedded": ["contacts": [contact]]]
                return .json(body.description)
            }
            return LoopbackHTTPServer.Response(status: 204)
        }
        defer { server.stop() }

        let client = HTTPKommoClient(host: try KommoAccountHost(url: server.baseURL),
                                     tokenProvider: LongLivedToken(K.accessToken),
                                     configuration: .init(rateLimit: .init(requestsPerSecond: 1_000)),
                                     clock: ImmediateClock())
        let leads = try await client.leads(ids: [24_000_017, 24_000_018])
        #expect(leads.map(\.id) == [24_000_017, 24_000_018, 24_000_019])
        let mainContactIDs = leads.compactMap(\.mainContactID)
        #expect(mainContactIDs == [35_000_021, 35_000_040])
        let contacts = try await client.contacts(ids: mainContactIDs)
        #expect(contacts.map(\.id) == [35_000_021])
        #expect(contacts.first?.primaryEmail == "olivia.bennett@example.com")
        #expect(try await client.lead(id: 1) == nil)

        let requests = server.requests
        #expect(requests.map(\.target) == [
            "/api/v4/leads?filter%5Bid%5D%5B%5D=24000017&filter%5Bid%5D%5B%5D=24000018&with=contacts,loss_reason"
                + "&limit=250",
            "/api/v4/leads?page=2",
            "/api/v4/contacts?filter%5Bid%5D%5B%5D=35000021&filter%5Bid%5D%5B%5D=35000040&limit=250",
            "/api/v4/leads/1?with=contacts,loss_reason",
        ])
        #expect(requests.allSatisfy { $0.method == "GET" })
        #expect(requests.allSatisfy { $0.headers["Authorization"] == "Bearer \(K.accessToken)" })
        #expect(requests.allSatisfy { $0.headers["User-Agent"] == SDKInfo.userAgent })
    }
}
