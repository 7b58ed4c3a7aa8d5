import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

/// The events log and the lead lists by stage: exact requests, decoding, paging signals.
@Suite("Kommo events log and lead lists", .timeLimit(.minutes(1)))
struct EventsAndListsTests {
    static let statusEvent: JSONValue = [
        "id": "01jh0000000000000000000016", "type": "lead_status_changed", "entity_id": 24_000_017,
        "entity_type": "lead", "created_by": 9_000_001, "created_at": 1_768_912_200, "account_id": 31_234_567,
        "value_before": [["lead_status": ["id": 61_000_005, "pipeline_id": 7_654_321]]],
        "value_after": [["lead_status": ["id": 142, "pipeline_id": 7_654_321]]],
        "_embedded": ["entity": ["id": 24_000_017]],
    ]

    @Test("events(_:page:) sends the types, the entity, the window, limit and page exactly")
    func eventsQuery() async throws {
        let transport = ScriptedTransport([K.page("events", [Self.statusEvent], next: "https://acme.kommo.com/api/v4/events?page=3")])
        let client = try K.client(transport)
        let query = KommoEventQuery(createdFrom: 1_768_000_000, createdTo: 1_769_000_000)
        let page = try await client.events(query, page: 2)
        #expect(page.number == 2)
        #expect(page.hasNext)
        let request = try #require(transport.requests.first)
        #expect(request.request.url.absoluteString == "https://acme.kommo.com/api/v4/events?"
            + "filter%5Btype%5D%5B%5D=lead_status_changed&filter%5Btype%5D%5B%5D=entity_responsible_changed"
            + "&filter%5Btype%5D%5B%5D=lead_added&filter%5Btype%5D%5B%5D=lead_deleted"
            + "&filter%5Btype%5D%5B%5D=lead_restored&filter%5Bentity%5D%5B%5D=lead"
            + "&filter%5Bcreated_at%5D%5Bfrom%5D=1768000000&filter%5Bcreated_at%5D%5Bto%5D=1769000000"
            + "&limit=100&page=2")
        let event = try #require(page.items.first)
        #expect(event.id == "01jh0000000000000000000016")
        #expect(event.type == .leadStatusChanged)
        #expect(event.entityID == 24_000_017)
        #expect(event.entityType == "lead")
        #expect(event.createdAt == Date(timeIntervalSince1970: 1_768_912_200))
        #expect(event.accountID == 31_234_567)
        #expect(event.statusBefore == KommoEvent.Stage(statusID: 61_000_005, pipelineID: 7_654_321))
        #expect(event.statusAfter == KommoEvent.Stage(statusID: 142, pipelineID: 7_654_321))
        #expect(event.responsibleAfter == nil)
    }

    @Test("a 204 is an empty last page; a page without a next link is the last")
    func emptyAndLastPages() async throws {
        let transport = ScriptedTransport([K.noContent, K.page("events", [Self.statusEvent])])
        let client = try K.client(transport)
        let empty = try await client.events(KommoEventQuery(), page: 1)
        #expect(empty.items.isEmpty)
        #expect(!empty.hasNext)
        let last = try await client.events(KommoEventQuery(), page: 1)
        #expect(last.items.count == 1)
        #expect(!last.hasNext)
    }

    @Test("owner events, numbers as strings, an object instead of an array; a malformed event fails the page")
    func decoding() throws {
        let owner = Data("""
            {"id": "e1", "type": "entity_responsible_changed", "entity_id": "24000017", "entity_type": "lead",
             "created_at": "1768480500", "value_before": {"responsible_user": {"id": 9000001}},
             "value_after": [{"responsible_user": {"id": "9000002"}}]}
            """.utf8)
        let event = try JSONDecoder().decode(KommoEvent.self, from: owner)
        #expect(event.entityID == 24_000_017)
        #expect(event.createdAt == Date(timeIntervalSince1970: 1_768_480_500))
        #expect(event.responsibleBefore == 9_000_001)
        #expect(event.responsibleAfter == 9_000_002)
        #expect(event.accountID == nil)
        for broken in [#"{"type": "lead_added", "entity_id": 1, "created_at": 1}"#,
                       #"{"id": "x", "entity_id": 1, "created_at": 1}"#,
                       #"{"id": "x", "type": "lead_added", "entity_id": 1}"#,
                       #"{"id": "x", "type": "lead_added", "created_at": 1}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(KommoEvent.self, from: Data(broken.utf8)) }
        }
    }

    @Test("leads(_:page:) sends each stage pair, the close window, with, limit and page")
    func leadsByStage() async throws {
        let transport = ScriptedTransport([try K.fixture("api-lead-with-contacts-companies.json").asPage("leads")])
        let client = try K.client(transport)
        let query = KommoLeadQuery(statuses: [.init(pipelineID: 7_654_321, statusID: 142),
                                              .init(pipelineID: 7_654_400, statusID: 142)],
                                   closedFrom: 1_767_225_600)
        let page = try await client.leads(query, page: 1)
        #expect(page.items.map(\.id) == [24_000_017])
        #expect(!page.hasNext)
        let request = try #require(transport.requests.first)
        #expect(request.request.url.absoluteString == "https://acme.kommo.com/api/v4/leads?"
            + "filter%5Bstatuses%5D%5B0%5D%5Bpipeline_id%5D=7654321&filter%5Bstatuses%5D%5B0%5D%5Bstatus_id%5D=142"
            + "&filter%5Bstatuses%5D%5B1%5D%5Bpipeline_id%5D=7654400&filter%5Bstatuses%5D%5B1%5D%5Bstatus_id%5D=142"
            + "&filter%5Bclosed_at%5D%5Bfrom%5D=1767225600&with=contacts,loss_reason&limit=250&page=1")
    }
}
