import EventMapping
import Foundation
import KommoModels
import SegmentModels
import KommoSegmentTesting

/// The fictional Kommo account of the fixtures, as the pipeline would have fetched it: leads, contacts, companies,
/// pipelines, users and the account currency. Golden cases start from it and change what they need.
struct GoldenWorld {
    var leads: [Int64: Lead] = [:]
    var contacts: [Int64: Contact] = [:]
    var companies: [Int64: Company] = [:]
    var pipelines: [Pipeline] = []
    var users: [User] = []
    var accountCurrency: String? = "USD"

    /// The shared fixtures of `KommoSegmentTesting` (the samples and the Kommo API fixture directory); lead 24000017 as
    /// `api-lead-with-contacts-companies.json` has it (stage 61000004).
    static func standard() throws -> GoldenWorld {
        var world = GoldenWorld()
        for lead in [
            try decode(Lead.self, try Fixtures.kommo("api-lead-with-contacts-companies.json")),
            try decode(Lead.self, try Fixtures.kommo("api-lead-lost-with-loss-reason.json")),
            try decode(Lead.self, try Fixtures.kommoAPI("leads/24000018.json")),
            try decode(Lead.self, try Fixtures.kommoAPI("leads/24000019.json")),
            try decode(Lead.self, try Fixtures.kommoAPI("leads/24000040.json")),
            try decode(Lead.self, try Fixtures.kommoAPI("leads/24000050.json")),
        ] { world.leads[lead.id] = lead }
        for contact in [
            try decode(Contact.self, try Fixtures.kommo("api-contact.json")),
            try decode(Contact.self, try Fixtures.kommoAPI("contacts/35000030.json")),
            try decode(Contact.self, try Fixtures.kommoAPI("contacts/35000040.json")),
            try decode(Contact.self, try Fixtures.kommoAPI("contacts/35000050.json")),
        ] { world.contacts[contact.id] = contact }
        let company = try decode(Company.self, try Fixtures.kommo("api-company.json"))
        world.companies[company.id] = company
        world.pipelines = try decode(PipelinesPage.self, try Fixtures.kommo("api-pipelines.json")).embedded.pipelines
        world.users = [try decode(User.self, try Fixtures.kommo("api-user.json")),
                       try decode(User.self, try Fixtures.kommoAPI("users/9000002.json"))]
        world.accountCurrency = try decode(Account.self, try Fixtures.kommo("api-account.json")).currency
        return world
    }

    /// What the pipeline would fetch for `event`: the lead, its main contact and company; or the contact and its
    /// company.
    func context(for event: KommoWebhookEvent, accountID: Int64) -> DealContext {
        var lead: Lead?
        var contact: Contact?
        var company: Company?
        switch event {
        case .lead(let item):
            lead = leads[item.id]
            contact = lead?.mainContactID.flatMap { contacts[$0] }
            company = lead?.companyID.flatMap { companies[$0] }
        case .contact(let item):
            contact = contacts[item.id]
            company = contact?.companyID.flatMap { companies[$0] }
        default:
            break
        }
        return DealContext(accountID: accountID, lead: lead, contact: contact, company: company,
                           pipelines: pipelines, users: users, accountCurrency: accountCurrency)
    }

    /// A file of `Golden/input`: what the shared fixtures lack (lead 24000017 once won, and webhook bodies).
    static func input(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Golden/input") else {
            throw MissingInput(name: name)
        }
        return try Data(contentsOf: url)
    }

    struct MissingInput: Error { var name: String }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }

    struct PipelinesPage: Decodable {
        struct Embedded: Decodable { var pipelines: [Pipeline] }
        var embedded: Embedded
        enum CodingKeys: String, CodingKey { case embedded = "_embedded" }
    }
}

/// The JSON of a mapping outcome as the golden files hold it: every message exactly as `SegmentWireEncoder` writes it
/// (with a fixed `context.library`), and every skip reason.
enum GoldenJSON {
    static let encoder = SegmentWireEncoder(library: SegmentLibraryInfo(name: "kommo-segment-swift", version: "0.1.0"))

    static func value(of results: [MappingResult]) throws -> JSONValue {
        .object(["results": .array(try results.map(value(of:)))])
    }

    static func value(of result: MappingResult) throws -> JSONValue {
        let messages = try result.messages.map { message in
            try JSONDecoder().decode(JSONValue.self, from: Data(encoder.encode(message)))
        }
        let skipped: [JSONValue] = result.skipped.map { reason in
            ["code": .string(reason.code.rawValue), "call": reason.call.map { .string($0.rawValue) } ?? .null,
             "detail": .string(reason.detail)]
        }
        return ["messages": .array(messages), "skipped": .array(skipped)]
    }

    static func pretty(_ value: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        return data
    }
}
