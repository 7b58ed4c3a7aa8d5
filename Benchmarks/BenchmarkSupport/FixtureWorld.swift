import Foundation
import KommoSegment
import KommoSegmentTesting

// What the benchmarks share: the fixture account and the sample bodies of the whole-path figures.

/// The fictional account of the fixtures, as the pipeline would have fetched it.
public struct FixtureWorld: Sendable {
    public var leads: [Int64: Lead] = [:]
    public var contacts: [Int64: Contact] = [:]
    public var companies: [Int64: Company] = [:]
    public var pipelines: [Pipeline] = []
    public var usersByID: [Int64: User] = [:]
    public var currency: String?

    /// Decodes every file of the bundled Kommo API fixture directory.
    public static func load() throws -> FixtureWorld {
        var world = FixtureWorld()
        let decoder = JSONDecoder()
        for (path, data) in try Fixtures.kommoAPIFiles() {
            if path.hasPrefix("leads/") {
                let lead = try decoder.decode(Lead.self, from: data)
                world.leads[lead.id] = lead
            } else if path.hasPrefix("contacts/") {
                let contact = try decoder.decode(Contact.self, from: data)
                world.contacts[contact.id] = contact
            } else if path.hasPrefix("companies/") {
                let company = try decoder.decode(Company.self, from: data)
                world.companies[company.id] = company
            } else if path.hasPrefix("users/") {
                let user = try decoder.decode(User.self, from: data)
                world.usersByID[user.id] = user
            } else if path == "pipelines.json" {
                world.pipelines = try decoder.decode(PipelinesPage.self, from: data).embedded.pipelines
            } else if path == "account.json" {
                world.currency = try decoder.decode(Account.self, from: data).currency
            }
        }
        return world
    }

    public func context(for event: KommoWebhookEvent, accountID: Int64) -> DealContext {
        guard case .lead(let item) = event else {
            return DealContext(accountID: accountID, pipelines: pipelines, usersByID: usersByID,
                               accountCurrency: currency)
        }
        let lead = leads[item.id]
        return DealContext(accountID: accountID, lead: lead, contact: lead?.mainContactID.flatMap { contacts[$0] },
                           company: lead?.companyID.flatMap { companies[$0] }, pipelines: pipelines,
                           usersByID: usersByID, accountCurrency: currency)
    }

    private struct PipelinesPage: Decodable {
        struct Embedded: Decodable { var pipelines: [Pipeline] }
        var embedded: Embedded
        enum CodingKeys: String, CodingKey { case embedded = "_embedded" }
    }
}

extension FixtureWorld {
    /// The bundled sample webhooks that hold a lead item the Python peer handles, in file-name order (10 files):
    /// the cycle of `pipeline-benchmark --whole-path`, `path-instructions` and `Benchmarks/python_pipeline_peer.py`.
    public static func leadSampleBodies() throws -> [Data] {
        let parser = KommoWebhookParser()
        return try Fixtures.sampleWebhookNames.sorted().map { try Fixtures.webhook($0) }.filter { body in
            (try? parser.parse(body: body, contentType: "application/x-www-form-urlencoded"))?.events
                .contains(where: isCounted) ?? false
        }
    }

    /// A lead item of the kinds the Python peer handles: status, add, update, responsible change.
    public static func isCounted(_ event: KommoWebhookEvent) -> Bool {
        guard case .lead(let lead) = event else { return false }
        return [.status, .add, .update, .responsible].contains(lead.action)
    }
}
