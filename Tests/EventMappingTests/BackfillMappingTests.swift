import EventMapping
import Foundation
import KommoModels
import SegmentModels
import Testing

/// ``KommoEventMapper/mapWonLead(_:context:includeTrack:)``: what a backfill sends for a lead that is won now.
@Suite("Backfill mapping", .timeLimit(.minutes(1)))
struct BackfillMappingTests {
    typealias Fixture = KommoEventMapperTests
    static let closedAt = Date(timeIntervalSince1970: 1_768_912_200)

    static func wonLead(company: Int64? = 36_000_005) -> Lead {
        var lead = Fixture.lead(status: 142, company: company)
        lead.closedAt = closedAt
        return lead
    }

    static func context(company: Bool = true) -> DealContext {
        DealContext(accountID: Fixture.account, contact: Fixture.contact,
                    company: company ? Company(id: 36_000_005, name: "Northwind Traders LLC") : nil,
                    pipelines: [Fixture.sales])
    }

    @Test("a won lead: the identify with the won traits and the group, ids of the backfill recipe at closed_at")
    func identifyAndGroup() throws {
        let result = KommoEventMapper().mapWonLead(Self.wonLead(), context: Self.context())
        #expect(result.skipped.isEmpty)
        #expect(result.messages.map(\.type) == [.identify, .group])
        let identify = try #require(result.messages.first)
        #expect(identify.messageID == "5b950f45-2a63-5454-8ef6-71ba01745cf2")
        #expect(identify.timestamp == Self.closedAt)
        #expect(identify.userID == "olivia@example.com")
        #expect(identify.traits?["customer"] == .bool(true))
        #expect(identify.traits?["kommo_deal_id"] == .int(24_000_017))
        #expect(result.messages[1].groupID == "36000005")
        #expect(result.messages[1].messageID == "3b11e6d1-34d8-5ad1-a849-7f90d9326546")
    }

    @Test("with the track: the historical Deal Won, marked as a backfill, stamped with closed_at")
    func withTrack() throws {
        let result = KommoEventMapper().mapWonLead(Self.wonLead(), context: Self.context(), includeTrack: true)
        #expect(result.messages.map(\.type) == [.identify, .track, .group])
        let track = result.messages[1]
        #expect(track.event == "Deal Won")
        #expect(track.messageID == "24d5369a-5b30-5a03-a6c0-de6759022ee0")
        #expect(track.timestamp == Self.closedAt)
        #expect(track.properties?["backfill"] == .bool(true))
        #expect(track.properties?["stage_id"] == .int(142))
    }

    @Test("the same lead maps to the same ids every time; closed_at absent falls back to updated_at")
    func deterministic() {
        let mapper = KommoEventMapper()
        let first = mapper.mapWonLead(Self.wonLead(), context: Self.context(), includeTrack: true)
        let second = mapper.mapWonLead(Self.wonLead(), context: Self.context(), includeTrack: true)
        #expect(first == second)
        var open = Self.wonLead()
        open.closedAt = nil
        let fallback = mapper.mapWonLead(open, context: Self.context())
        #expect(fallback.messages.first?.timestamp == open.updatedAt)
    }

    @Test("not won, no contact, no company: the reasons")
    func reasons() {
        let mapper = KommoEventMapper()
        let notWon = mapper.mapWonLead(Fixture.lead(status: 61_000_005), context: Self.context())
        #expect(notWon.messages.isEmpty)
        #expect(notWon.skipped.map(\.code) == [.notWon])
        var noContact = Self.context()
        noContact.contact = nil
        #expect(mapper.mapWonLead(Self.wonLead(), context: noContact).skipped.map(\.code) == [.contactNotFound])
        let noCompany = mapper.mapWonLead(Self.wonLead(company: nil), context: Self.context(company: false))
        #expect(noCompany.messages.map(\.type) == [.identify])
        #expect(noCompany.skipped.map(\.code) == [.noCompany])
    }

    @Test("a disabled Deal Won still sends the identify and the group, and says why the track is left out")
    func disabledDealWon() throws {
        var configuration = MappingConfiguration()
        configuration.disabledEvents.insert(.dealWon)
        let result = KommoEventMapper(configuration: configuration)
            .mapWonLead(Self.wonLead(), context: Self.context(), includeTrack: true)
        #expect(result.messages.map(\.type) == [.identify, .group])
        #expect(result.skipped.map(\.code) == [.eventDisabled])
    }
}
