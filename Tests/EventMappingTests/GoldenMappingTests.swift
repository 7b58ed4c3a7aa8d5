import EventMapping
import Foundation
import KommoModels
import SegmentModels
import Testing
import KommoSegmentTesting

/// One golden case: a webhook body, the account state the pipeline fetched, a configuration, and the expected Segment
/// JSON in `Golden/<name>.json`.
struct GoldenCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// A shared fixture (`webhook-….txt`) or, with the `input/` prefix, a body in `Golden/input`.
    var webhook: String
    var configuration: String = "{}"
    var adjust: @Sendable (inout GoldenWorld) throws -> Void = { _ in }

    var testDescription: String { name }

    func body() throws -> Data {
        if webhook.hasPrefix("input/") { return try GoldenWorld.input(String(webhook.dropFirst(6))) }
        return try Fixtures.kommo(webhook)
    }

    func run() throws -> (results: [MappingResult], json: JSONValue) {
        let hook = try KommoWebhookParser().parse(body: body(), contentType: "application/x-www-form-urlencoded")
        var world = try GoldenWorld.standard()
        try adjust(&world)
        let config = try MappingConfiguration.load(from: Data(configuration.utf8))
        let results = KommoEventMapper(configuration: config).map(hook) { event in
            world.context(for: event, accountID: hook.account.id)
        }
        return (results, try GoldenJSON.value(of: results))
    }
}

/// A configuration that uses every mapping key: plan and source fields, the three field maps, integrations and a
/// renamed won event.
let configuredMapping = """
    {
      "customFields": {"plan": 1100030, "source": 1100010},
      "leadFields": {"1100001": "budget_range", "1100002": "expected_close", "1100099": "not_on_this_lead"},
      "contactFields": {"1200001": "title", "1200011": "newsletter_opt_in"},
      "companyFields": {"1200021": "industry", "1200022": "employees"},
      "eventNames": {"dealWon": "Order Completed"},
      "integrations": {"All": true, "Salesforce": false}
    }
    """

/// Every custom field type of the Cyrillic deal mapped to a property, and a configured currency.
let unicodeMapping = """
    {
      "currency": "RUB",
      "leadFields": {"1100020": "comment", "1100021": "source_option", "1100022": "interests",
                     "1100023": "delivery_date", "1100024": "needs_contract", "1100025": "spec_url",
                     "1100026": "priority", "1100027": "area_m2", "1100028": "address"},
      "contactFields": {"1200005": "all_email_values"}
    }
    """

func leadWon17(_ world: inout GoldenWorld) throws {
    let lead = try GoldenWorld.decode(Lead.self, try GoldenWorld.input("api-lead-24000017-won.json"))
    world.leads[lead.id] = lead
}

let goldenCases: [GoldenCase] = [
    GoldenCase(name: "stage-changed", webhook: "webhook-lead-status-middle-stage.txt"),
    GoldenCase(name: "deal-won-default", webhook: "webhook-lead-status-won.txt", adjust: leadWon17),
    GoldenCase(name: "deal-won-configured", webhook: "webhook-lead-status-won.txt",
               configuration: configuredMapping, adjust: leadWon17),
    GoldenCase(name: "deal-won-unicode", webhook: "input/webhook-lead-status-won-unicode.txt",
               configuration: unicodeMapping),
    GoldenCase(name: "deal-lost", webhook: "webhook-lead-status-lost.txt"),
    GoldenCase(name: "owner-changed", webhook: "webhook-lead-responsible-changed.txt") { world in
        world.leads[24_000_017]?.responsibleUserID = 9_000_002
    },
    GoldenCase(name: "owner-changed-without-users", webhook: "webhook-lead-responsible-changed.txt") { world in
        world.leads[24_000_017]?.responsibleUserID = 9_000_002
        world.users = []
        world.accountCurrency = nil
    },
    GoldenCase(name: "deal-created-no-email", webhook: "webhook-lead-add.txt"),
    GoldenCase(name: "deal-created-contact-id", webhook: "webhook-lead-add.txt",
               configuration: #"{"identity": {"fallback": "contactId"}}"#),
    GoldenCase(name: "deal-restored", webhook: "input/webhook-lead-restore.txt"),
    GoldenCase(name: "deal-deleted-default", webhook: "webhook-lead-delete.txt"),
    GoldenCase(name: "deal-deleted-enabled", webhook: "webhook-lead-delete.txt",
               configuration: #"{"disabledEvents": []}"#),
    GoldenCase(name: "contact-updated", webhook: "webhook-contact-update.txt"),
    GoldenCase(name: "contact-updated-by-contact-id", webhook: "webhook-contact-update.txt",
               configuration: #"{"identity": {"userId": "contactId"}, "contactFields": {"1200011": "newsletter"}}"#),
    GoldenCase(name: "company-updated", webhook: "webhook-company-update.txt"),
    GoldenCase(name: "note-added", webhook: "webhook-lead-note-added.txt"),
    GoldenCase(name: "lead-update-without-stage-change", webhook: "webhook-lead-update-unicode-custom-fields.txt"),
    GoldenCase(name: "status-batch", webhook: "webhook-lead-status-batch.txt"),
    GoldenCase(name: "mixed-update-and-status", webhook: "webhook-mixed-update-and-status.txt") { world in
        world.leads[24_000_017]?.statusID = 61_000_005
    },
    GoldenCase(name: "digital-pipeline-minimal", webhook: "webhook-dp-lead-status-minimal.txt"),
    GoldenCase(name: "unknown-stage", webhook: "input/webhook-lead-status-unknown-stage.txt"),
    GoldenCase(name: "same-stage", webhook: "input/webhook-lead-status-same-stage.txt"),
    GoldenCase(name: "lead-not-found", webhook: "webhook-lead-status-middle-stage.txt") { world in
        world.leads[24_000_017] = nil
    },
    GoldenCase(name: "unknown-section", webhook: "input/webhook-task-add.txt"),
]

@Suite("Golden mapping", .timeLimit(.minutes(1)))
struct GoldenMappingTests {
    /// `KOMMO_RECORD_GOLDEN=1 swift test --filter GoldenMappingTests` rewrites the golden files; read every change
    /// before committing it, since the files are the specification.
    static let recording = ProcessInfo.processInfo.environment["KOMMO_RECORD_GOLDEN"] == "1"

    static func goldenURL(_ name: String, filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name).json")
    }

    @Test("the mapping of each sample webhook equals its golden file", arguments: goldenCases)
    func golden(_ goldenCase: GoldenCase) throws {
        let actual = try goldenCase.run().json
        if Self.recording {
            try GoldenJSON.pretty(actual).write(to: Self.goldenURL(goldenCase.name))
            return
        }
        let url = try #require(Bundle.module.url(forResource: goldenCase.name, withExtension: "json",
                                                 subdirectory: "Golden"))
        let expected = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url))
        #expect(actual == expected, "\(goldenCase.name): mapping differs from Golden/\(goldenCase.name).json")
    }

    @Test("Golden/input holds only what the shared fixtures lack, never a copy of one")
    func inputsAreNotCopies() throws {
        let input = try #require(Bundle.module.url(forResource: "input", withExtension: nil, subdirectory: "Golden"))
        var shared = Set(try Fixtures.kommoAPIFiles().values)
        for name in try Fixtures.kommoNames() { shared.insert(try Fixtures.kommo(name)) }
        let names = try FileManager.default.contentsOfDirectory(atPath: input.path)
        #expect(!names.isEmpty)
        for name in names {
            let data = try Data(contentsOf: input.appendingPathComponent(name))
            #expect(!shared.contains(data), "Golden/input/\(name) is a copy of a KommoSegmentTesting fixture")
        }
    }

    @Test("one result per item, and skip details name ids, never personal data", arguments: goldenCases)
    func resultsPerItem(_ goldenCase: GoldenCase) throws {
        let hook = try KommoWebhookParser().parse(body: goldenCase.body(),
                                                  contentType: "application/x-www-form-urlencoded")
        let results = try goldenCase.run().results
        #expect(results.count == hook.events.count)
        for reason in results.flatMap(\.skipped) {
            #expect(!reason.detail.contains("@"), "\(reason)")
            #expect(!reason.detail.isEmpty)
        }
    }

    @Test("the same input gives the same bytes", arguments: goldenCases)
    func deterministic(_ goldenCase: GoldenCase) throws {
        let first = try goldenCase.run().results.flatMap(\.messages).map(GoldenJSON.encoder.encode)
        let second = try goldenCase.run().results.flatMap(\.messages).map(GoldenJSON.encoder.encode)
        #expect(first == second)
    }
}
