import Foundation
import HTTPCore
import JSONCore
import KommoSegment
import KommoSegmentTesting
import Testing

/// An account with many won leads, as in-memory fixture files: won lead `i` has its own main contact and, for every
/// other lead, a company.
enum WonAccount {
    static let firstLead: Int64 = 25_000_000
    static let firstContact: Int64 = 35_100_000
    static let firstCompany: Int64 = 36_100_000
    /// Closed at `closedBase + i` seconds.
    static let closedBase: Int64 = 1_767_300_000

    static func files(won: Int, open: Int = 10) throws -> [String: Data] {
        var files = try Fixtures.kommoAPIFiles()
        for key in files.keys where key.hasPrefix("leads/") || key.hasPrefix("contacts/") || key.hasPrefix("companies/") {
            files[key] = nil
        }
        files["events.json"] = nil
        let lead = try object(Fixtures.kommoAPI("leads/24000017.json"))
        let contact = try object(Fixtures.kommoAPI("contacts/35000021.json"))
        let company = try object(Fixtures.kommoAPI("companies/36000005.json"))
        for index in 0..<(won + open) {
            let id = firstLead + Int64(index)
            let contactID = firstContact + Int64(index)
            var copy = lead
            copy["id"] = id
            copy["status_id"] = index < won ? 142 : 61_000_003
            copy["pipeline_id"] = index % 3 == 0 ? 7_654_400 : 7_654_321
            copy["closed_at"] = index < won ? closedBase + Int64(index) : NSNull()
            var embedded = copy["_embedded"] as? [String: Any] ?? [:]
            embedded["contacts"] = [["id": contactID, "is_main": true]]
            embedded["companies"] = index % 2 == 0 ? [["id": firstCompany + Int64(index / 2)]] : []
            copy["_embedded"] = embedded
            files["leads/\(id).json"] = try JSONSerialization.data(withJSONObject: copy)
            var person = contact
            person["id"] = contactID
            files["contacts/\(contactID).json"] = try JSONSerialization.data(withJSONObject: person)
            if index % 2 == 0 {
                var firm = company
                firm["id"] = firstCompany + Int64(index / 2)
                files["companies/\(firstCompany + Int64(index / 2)).json"] = try JSONSerialization.data(withJSONObject: firm)
            }
        }
        return files
    }

    private static func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// A transport that remembers the length of every URL it forwards.
final class MeasuringTransport: HTTPTransport {
    private let wrapped: any HTTPTransport
    private let lengths = LockedValue<[Int]>([])
    init(_ wrapped: any HTTPTransport) { self.wrapped = wrapped }
    var longestURL: Int { lengths.withLock { $0.max() ?? 0 } }
    var count: Int { lengths.withLock { $0.count } }

    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        lengths.withLock { $0.append(request.url.absoluteString.utf8.count) }
        return try await wrapped.send(request, body: body)
    }
}

/// Backfill through the real pipeline: every won lead's identify and group, in few requests.
@Suite("Backfill", .timeLimit(.minutes(2)))
struct BackfillTests {
    @Test("600 won leads: 3 pages of leads, contacts and companies in batches, at most 20 requests, URLs under 8 KB")
    func sixHundredWonLeads() async throws {
        let kommo = KommoFixtureTransport(files: try WonAccount.files(won: 600))
        let measuring = MeasuringTransport(kommo)
        let world = try World(kommoTransport: measuring)
        var pages: [Int] = []
        let report = try await world.pipeline.backfill(BackfillRequest(accountID: EventLog.account)) {
            pages.append($0.pages)
        }
        try await world.stop()
        #expect(report.pages == 3)
        #expect(report.leads.count == 600)
        #expect(report.sent == 600)
        #expect(report.failed == 0)
        #expect(measuring.count <= 20, "Kommo requests: \(measuring.count)")
        #expect(measuring.longestURL <= 8_000)
        #expect(kommo.requestCount(path: "/api/v4/leads") == 3)
        #expect(kommo.requestCount(path: "/api/v4/contacts") <= 3)
        #expect(kommo.requestCount(path: "/api/v4/companies") <= 2)
        let messages = world.segment.messages
        #expect(messages.filter { $0.type == .identify }.count == 600)
        #expect(messages.filter { $0.type == .group }.count == 300)
        #expect(messages.filter { $0.type == .track }.isEmpty)
        let ids = messages.compactMap(\.messageID)
        #expect(Set(ids).count == ids.count)
        #expect(await world.pipeline.statistics.backfillLeadsSent == 600)
    }

    @Test("running it again sends the same ids; --with-track adds the historical Deal Won at closed_at")
    func deterministicAndWithTrack() async throws {
        let files = try WonAccount.files(won: 30)
        let first = try World(files: files)
        _ = try await first.pipeline.backfill(BackfillRequest(accountID: EventLog.account))
        try await first.stop()
        let second = try World(files: files)
        let report = try await second.pipeline.backfill(BackfillRequest(accountID: EventLog.account, includeTrack: true))
        try await second.stop()
        let firstIDs = Set(first.segment.messages.compactMap(\.messageID))
        let secondIDs = Set(second.segment.messages.filter { $0.type != .track }.compactMap(\.messageID))
        #expect(firstIDs == secondIDs)
        let tracks = second.segment.messages.filter { $0.type == .track }
        #expect(tracks.count == 30)
        #expect(report.sent == 30)
        let lead = try #require(report.leads.first { $0.leadID == WonAccount.firstLead + 7 })
        let track = try #require(lead.messages.first { $0.type == .track })
        #expect(track.timestamp == Date(timeIntervalSince1970: TimeInterval(WonAccount.closedBase + 7)))
        #expect(track.event == "Deal Won")
    }

    @Test("closed since and until: only the leads closed in between, both ends included")
    func closedWindow() async throws {
        let world = try World(files: try WonAccount.files(won: 40))
        let since = Date(timeIntervalSince1970: TimeInterval(WonAccount.closedBase + 30))
        let until = Date(timeIntervalSince1970: TimeInterval(WonAccount.closedBase + 35))
        let report = try await world.pipeline.backfill(BackfillRequest(accountID: EventLog.account, closedSince: since))
        let window = try await world.pipeline.backfill(BackfillRequest(accountID: EventLog.account, closedSince: since,
                                                                       closedUntil: until))
        try await world.stop()
        #expect(report.leads.map(\.leadID) == (30..<40).map { WonAccount.firstLead + Int64($0) })
        #expect(window.leads.map(\.leadID) == (30...35).map { WonAccount.firstLead + Int64($0) })
    }
}
