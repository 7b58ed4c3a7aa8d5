import EventMapping
import Foundation
import KommoModels
import SegmentModels
import Testing

/// Targeted rules of the mapping, on events built in code (the golden files cover whole webhooks).
@Suite("Kommo event mapper", .timeLimit(.minutes(1)))
struct KommoEventMapperTests {
    static let account: Int64 = 31_234_567
    static let sales = Pipeline(id: 7_654_321, name: "Sales", statuses: [
        Status(id: 61_000_004, name: "Decision making", pipelineID: 7_654_321),
        Status(id: 61_000_005, name: "Contract discussion", pipelineID: 7_654_321),
        Status(id: 142, name: "Closed - won", pipelineID: 7_654_321),
        Status(id: 143, name: "Closed - lost", pipelineID: 7_654_321),
    ])
    static let partners = Pipeline(id: 7_654_400, name: "Partners", statuses: [
        Status(id: 61_000_102, name: "Qualification", pipelineID: 7_654_400),
        Status(id: 142, name: "Closed - won", pipelineID: 7_654_400),
    ])

    static func email(_ value: String, _ code: String?) -> CustomFieldValue.Value {
        CustomFieldValue.Value(value: .string(value), enumCode: code)
    }

    static let contact = Contact(id: 35_000_021, name: "Olivia Bennett", customFieldsValues: [
        CustomFieldValue(fieldID: 1_200_005, fieldName: "Email", fieldCode: "EMAIL", fieldType: .multitext,
                         values: [email("home@example.com", "PRIV"), email(" Olivia@Example.com ", "WORK")]),
    ])
    static let noEmailContact = Contact(id: 35_000_040, name: "No Mail")

    static func lead(status: Int64 = 61_000_005, pipeline: Int64 = 7_654_321, updatedAt: Int = 1_768_000_000,
                     fields: [CustomFieldValue] = [], company: Int64? = nil) -> Lead {
        Lead(id: 24_000_017, name: "ACME", price: Decimal(string: "12500.50"), responsibleUserID: 9_000_001,
             statusID: status, pipelineID: pipeline, updatedAt: Date(timeIntervalSince1970: TimeInterval(updatedAt)),
             customFieldsValues: fields, accountID: 31_234_567,
             embedded: Lead.Embedded(companies: company.map { [EntityReference(id: $0)] } ?? [],
                                     contacts: [ContactReference(id: 35_000_021, isMain: true)]))
    }

    static func context(lead: Lead? = lead(), contact: Contact? = contact, company: Company? = nil,
                        account: Int64 = account) -> DealContext {
        DealContext(accountID: account, lead: lead, contact: contact, company: company,
                    pipelines: [sales, partners], accountCurrency: "EUR")
    }

    static func status(from: Int64?, to: Int64, pipeline: Int64 = 7_654_321, oldPipeline: Int64? = nil,
                       updatedAt: Int? = 1_768_912_200, lastModified: Int? = nil,
                       action: KommoWebhookAction = .status) -> KommoWebhookEvent {
        .lead(LeadEvent(action: action, id: 24_000_017, statusID: to, pipelineID: pipeline, oldStatusID: from,
                        oldPipelineID: oldPipeline,
                        lastModified: lastModified.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                        updatedAt: updatedAt.map { Date(timeIntervalSince1970: TimeInterval($0)) }))
    }

    let mapper = KommoEventMapper()
    let recipe = MessageIDRecipe()

    // MARK: - Message ids

    @Test("each call of a won deal has its own id, computed by the recipe")
    func wonIDs() throws {
        let result = mapper.map(Self.status(from: 61_000_005, to: 142),
                                context: Self.context(company: Company(id: 36_000_005, name: "Northwind")))
        #expect(result.messages.map(\.type) == [.identify, .track, .group])
        let change = MessageIDRecipe.Change.stageChanged(fromStatus: 61_000_005, fromPipeline: 7_654_321,
                                                         toStatus: 142, toPipeline: 7_654_321)
        let expected = [MessageIDRecipe.Call.identify, .track, .group].map {
            recipe.messageID(accountID: Self.account, entity: .lead, entityID: 24_000_017, change: change,
                             eventTime: 1_768_912_200, call: $0)
        }
        #expect(result.messages.map(\.messageID) == expected)
        #expect(Set(expected).count == 3)
        #expect(expected[1] == "36d8ead2-3196-59ab-a32c-069727103614")  // worked example 1
    }

    @Test("ids differ across transitions, accounts and times, and not with the configuration")
    func idsDiffer() throws {
        func trackID(_ event: KommoWebhookEvent, account: Int64 = KommoEventMapperTests.account,
                     configuration: MappingConfiguration = MappingConfiguration()) -> String? {
            KommoEventMapper(configuration: configuration)
                .map(event, context: Self.context(account: account)).messages.last?.messageID
        }
        let base = try #require(trackID(Self.status(from: 61_000_004, to: 61_000_005)))
        #expect(trackID(Self.status(from: 61_000_004, to: 61_000_005)) == base)
        #expect(trackID(Self.status(from: 61_000_005, to: 61_000_004)) != base)
        #expect(trackID(Self.status(from: 61_000_004, to: 61_000_005), account: 31_234_568) != base)
        #expect(trackID(Self.status(from: 61_000_004, to: 61_000_005, updatedAt: 1_768_912_201)) != base)
        var renamed = MappingConfiguration()
        renamed.eventNames[.stageChanged] = "Deal Moved"
        renamed.wonStatusIDs = [142, 61_000_005]
        renamed.integrations = ["All": false]
        #expect(trackID(Self.status(from: 61_000_004, to: 61_000_005), configuration: renamed) == base)
    }

    @Test("a missing old pipeline is filled in from the pipelines list")
    func oldPipeline() {
        func trackID(_ event: KommoWebhookEvent) -> String? {
            mapper.map(event, context: Self.context()).messages.last?.messageID
        }
        func expected(fromStatus: Int64, fromPipeline: Int64?, to: Int64, pipeline: Int64) -> String {
            recipe.messageID(accountID: Self.account, entity: .lead, entityID: 24_000_017,
                             change: .stageChanged(fromStatus: fromStatus, fromPipeline: fromPipeline, toStatus: to,
                                                   toPipeline: pipeline),
                             eventTime: 1_768_912_200, call: .track)
        }
        // A stage of another pipeline: that pipeline.
        #expect(trackID(Self.status(from: 61_000_102, to: 61_000_004))
            == expected(fromStatus: 61_000_102, fromPipeline: 7_654_400, to: 61_000_004, pipeline: 7_654_321))
        // 142/143 exist everywhere: the deal's current pipeline.
        #expect(trackID(Self.status(from: 143, to: 61_000_004))
            == expected(fromStatus: 143, fromPipeline: 7_654_321, to: 61_000_004, pipeline: 7_654_321))
        // Unknown stage: written as ~.
        #expect(trackID(Self.status(from: 61_999_999, to: 61_000_004))
            == expected(fromStatus: 61_999_999, fromPipeline: nil, to: 61_000_004, pipeline: 7_654_321))
        // Given by the hook: used as is.
        #expect(trackID(Self.status(from: 61_000_004, to: 61_000_005, oldPipeline: 7_654_400))
            == expected(fromStatus: 61_000_004, fromPipeline: 7_654_400, to: 61_000_005, pipeline: 7_654_321))
    }

    // MARK: - Time

    @Test("the timestamp is updated_at, else last_modified, else the lead's updated_at", arguments: [
        (Int?(1_768_000_300), Int?(1_768_000_200), Int64(1_768_000_300)),
        (nil, 1_768_000_200, 1_768_000_200),
        (nil, nil, 1_768_000_000),
    ])
    func timestamp(updatedAt: Int?, lastModified: Int?, expected: Int64) throws {
        let result = mapper.map(Self.status(from: 61_000_004, to: 61_000_005, updatedAt: updatedAt,
                                            lastModified: lastModified), context: Self.context())
        let message = try #require(result.messages.first)
        #expect(message.timestamp == Date(timeIntervalSince1970: TimeInterval(expected)))
    }

    // MARK: - Identity

    @Test("userId is the main contact's work email, trimmed and lowercased")
    func workEmail() throws {
        let message = try #require(mapper.map(Self.status(from: 61_000_004, to: 61_000_005),
                                              context: Self.context()).messages.first)
        #expect(message.userID == "olivia@example.com")
        #expect(message.context["traits"] == ["email": "olivia@example.com", "name": "Olivia Bennett"])
    }

    @Test("identity rules", arguments: [
        ("email", "skip", false, String?.none),
        ("email", "contactId", false, "kommo:31234567:contact:35000040"),
        ("contactId", "skip", false, "kommo:31234567:contact:35000040"),
        ("contactId", "skip", true, "kommo:31234567:contact:35000021"),
        ("email", "skip", true, "olivia@example.com"),
    ])
    func identity(userID: String, fallback: String, hasEmail: Bool, expected: String?) throws {
        let config = try MappingConfiguration.load(
            from: Data(#"{"identity": {"userId": "\#(userID)", "fallback": "\#(fallback)"}}"#.utf8))
        let result = KommoEventMapper(configuration: config).map(
            Self.status(from: 61_000_004, to: 61_000_005),
            context: Self.context(contact: hasEmail ? Self.contact : Self.noEmailContact))
        #expect(result.messages.first?.userID == expected)
        if expected == nil { #expect(result.skipped.map(\.code) == [.noEmail]) }
    }

    @Test("no contact fetched, or none linked")
    func noContact() {
        #expect(mapper.map(Self.status(from: 61_000_004, to: 61_000_005), context: Self.context(contact: nil))
            .skipped.map(\.code) == [.contactNotFound])
        var lonely = Self.lead()
        lonely.embedded.contacts = []
        #expect(mapper.map(Self.status(from: 61_000_004, to: 61_000_005),
                           context: Self.context(lead: lonely, contact: nil)).skipped.map(\.code) == [.noContact])
    }

    // MARK: - Events and skips

    @Test("a lead that is not the event's lead counts as not found")
    func otherLead() {
        let other = Lead(id: 1, statusID: 142, pipelineID: 7_654_321)
        #expect(mapper.map(Self.status(from: 61_000_005, to: 142), context: Self.context(lead: other))
            .skipped.map(\.code) == [.leadNotFound])
    }

    @Test("an update item with a stage and an owner change yields both tracks")
    func updateWithTwoChanges() {
        let event = KommoWebhookEvent.lead(LeadEvent(
            action: .update, id: 24_000_017, statusID: 61_000_005, pipelineID: 7_654_321, oldStatusID: 61_000_004,
            responsibleUserID: 9_000_002, oldResponsibleUserID: 9_000_001,
            updatedAt: Date(timeIntervalSince1970: 1_768_912_200)))
        let result = mapper.map(event, context: Self.context())
        #expect(result.messages.map(\.event) == ["Stage Changed", "Owner Changed"])
        #expect(result.messages[1].properties?["from_owner_id"] == 9_000_001)
        #expect(result.messages[1].properties?["to_owner_id"] == 9_000_002)
    }

    @Test("disabled events send nothing")
    func disabled() throws {
        let config = try MappingConfiguration.load(from: Data(#"{"disabledEvents": ["dealWon"]}"#.utf8))
        let result = KommoEventMapper(configuration: config).map(Self.status(from: 61_000_005, to: 142),
                                                                 context: Self.context())
        #expect(result.messages.isEmpty)
        #expect(result.skipped.map(\.code) == [.eventDisabled])
    }

    @Test("sendGroup false skips the group call; the company field is the fallback group")
    func groups() throws {
        let company = Company(id: 36_000_005, name: "Northwind")
        let off = try MappingConfiguration.load(from: Data(#"{"sendGroup": false}"#.utf8))
        let noGroup = KommoEventMapper(configuration: off).map(Self.status(from: 61_000_005, to: 142),
                                                               context: Self.context(company: company))
        #expect(noGroup.messages.map(\.type) == [.identify, .track])
        #expect(noGroup.skipped == [SkipReason(code: .groupDisabled, call: .group,
                                               detail: "lead 24000017: sendGroup is false")])

        let byField = try MappingConfiguration.load(from: Data(#"{"customFields": {"company": 1100040}}"#.utf8))
        let lead = Self.lead(status: 142, fields: [CustomFieldValue(
            fieldID: 1_100_040, fieldName: "Company", fieldType: .text, values: [.init(value: " Umbrella Corp ")])])
        let result = KommoEventMapper(configuration: byField).map(Self.status(from: 61_000_005, to: 142),
                                                                  context: Self.context(lead: lead))
        let group = try #require(result.messages.last)
        #expect(group.type == .group)
        #expect(group.groupID == "Umbrella Corp")
        #expect(group.traits?["name"] == "Umbrella Corp")
        #expect(result.messages[0].traits?["company"] == ["name": "Umbrella Corp"])
        #expect(result.messages[1].context["groupId"] == "Umbrella Corp")
    }

    @Test("loss reason: fetched, else embedded, else the configured field, else null")
    func lossReason() throws {
        func reason(_ context: DealContext, _ config: MappingConfiguration = MappingConfiguration()) -> JSONValue? {
            KommoEventMapper(configuration: config).map(Self.status(from: 61_000_005, to: 143), context: context)
                .messages.last?.properties?["loss_reason"]
        }
        var lead = Self.lead(status: 143, fields: [CustomFieldValue(
            fieldID: 1_100_050, fieldName: "Why", fieldType: .select, values: [.init(value: "Too expensive")])])
        #expect(reason(Self.context(lead: lead)) == .null)
        let config = try MappingConfiguration.load(from: Data(#"{"customFields": {"lossReason": 1100050}}"#.utf8))
        #expect(reason(Self.context(lead: lead), config) == "Too expensive")
        lead.embedded.lossReason = [LossReason(id: 8_000_003, name: "Chose a competitor")]
        #expect(reason(Self.context(lead: lead), config) == "Chose a competitor")
        var context = Self.context(lead: lead)
        context.lossReason = LossReason(id: 8_000_004, name: "No budget")
        #expect(reason(context, config) == "No budget")
    }

    @Test("a won deal without a plan value leaves plan out of every call; only the lost identify clears it")
    func planLeftOutWhenUnknown() throws {
        let config = try MappingConfiguration.load(from: Data(#"{"customFields": {"plan": 1100030}}"#.utf8))
        let mapping = KommoEventMapper(configuration: config)
        let won = mapping.map(Self.status(from: 61_000_005, to: 142),
                              context: Self.context(company: Company(id: 36_000_005, name: "Northwind")))
        #expect(won.messages.map(\.type) == [.identify, .track, .group])
        #expect(won.messages[0].traits?.keys.contains("plan") == false)
        #expect(won.messages[0].traits?["company"]?["plan"] == nil)
        #expect(won.messages[1].properties?.keys.contains("plan") == false)
        #expect(won.messages[2].traits?.keys.contains("plan") == false)
        let planned = Self.lead(status: 142, fields: [CustomFieldValue(
            fieldID: 1_100_030, fieldName: "Plan", fieldType: .select, values: [.init(value: "Enterprise")])])
        let withPlan = mapping.map(Self.status(from: 61_000_005, to: 142), context: Self.context(lead: planned))
        #expect(withPlan.messages.map { $0.properties?["plan"] ?? $0.traits?["plan"] } == ["Enterprise", "Enterprise"])
        let lost = mapping.map(Self.status(from: 61_000_005, to: 143), context: Self.context())
        #expect(lost.messages.first?.traits?["plan"] == .null)
    }

    @Test("amounts keep their decimals; the configured currency wins over the account's")
    func amountAndCurrency() throws {
        let track = try #require(mapper.map(Self.status(from: 61_000_004, to: 61_000_005), context: Self.context())
            .messages.first)
        #expect(track.properties?["amount"] == .double(12_500.5))
        #expect(track.properties?["currency"] == "EUR")
        let usd = try MappingConfiguration.load(from: Data(#"{"currency": "USD"}"#.utf8))
        let configured = KommoEventMapper(configuration: usd).map(Self.status(from: 61_000_004, to: 61_000_005),
                                                                  context: Self.context())
        #expect(configured.messages.first?.properties?["currency"] == "USD")
    }

    @Test("contact events: not fetched, deleted, or without an integration block")
    func contactEvents() {
        let update = KommoWebhookEvent.contact(EntityEvent(entityType: .contact, action: .update, id: 35_000_021,
                                                           updatedAt: Date(timeIntervalSince1970: 1_768_390_500)))
        #expect(mapper.map(update, context: Self.context(contact: nil)).skipped.map(\.code) == [.contactNotFound])
        let delete = KommoWebhookEvent.contact(EntityEvent(entityType: .contact, action: .delete, id: 35_000_021))
        #expect(mapper.map(delete, context: Self.context()).skipped.map(\.code) == [.unsupportedEvent])
        let plain = KommoEventMapper(integration: nil).map(update, context: Self.context())
        #expect(plain.messages.first?.context == [:])
        #expect(plain.messages.first?.traits?["email"] == "olivia@example.com")
    }

    @Test("the contact-id userId includes the account id")
    func contactUserID() {
        #expect(KommoEventMapper.contactUserID(accountID: 31_234_567, contactID: 35_000_021)
            == "kommo:31234567:contact:35000021")
    }
}

@Suite("Custom field values", .timeLimit(.minutes(1)))
struct CustomFieldJSONTests {
    struct Row: Sendable {
        var type: CustomFieldType
        var values: [JSONValue]
        var expected: JSONValue
        init(_ type: CustomFieldType, _ values: [JSONValue], _ expected: JSONValue) {
            self.type = type
            self.values = values
            self.expected = expected
        }
    }

    static let rows: [Row] = [
        Row(.text, ["Hi"], "Hi"),
        Row(.select, ["Сайт"], "Сайт"),
        Row(.multiselect, ["A", "B"], ["A", "B"]),
        Row(.numeric, ["240"], 240),
        Row(.numeric, ["1250.75"], .double(1_250.75)),
        Row(.numeric, ["-3"], -3),
        Row(.numeric, ["12abc"], "12abc"),
        Row(.numeric, ["1e5"], "1e5"),
        Row(.checkbox, [true], true),
        Row(.checkbox, ["0"], false),
        Row(.date, [1_769_904_000], "2026-02-01T00:00:00.000Z"),
        Row(.birthday, ["1769904000"], "2026-02-01T00:00:00.000Z"),
        Row(.smartAddress, [["city": "Казань"]], ["city": "Казань"]),
        Row(CustomFieldType(rawValue: "future_type"), [1, 2], [1, 2]),
        Row(.text, [], nil),
    ]

    @Test("values map by field type", arguments: rows)
    func byType(_ row: Row) {
        let field = CustomFieldValue(fieldID: 1, fieldName: "F", fieldType: row.type,
                                     values: row.values.map { CustomFieldValue.Value(value: $0) })
        #expect(CustomFieldJSON.value(of: field) == row.expected, "\(row.type) \(row.values)")
    }
}
