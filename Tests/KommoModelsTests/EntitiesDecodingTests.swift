import Foundation
import JSONCore
import KommoModels
import KommoSegmentTesting
import Testing

private func decode<T: Decodable>(_ type: T.Type, fixture name: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Fixtures.kommo(name))
}

private func decode<T: Decodable>(_ type: T.Type, json: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
}

private func date(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: seconds) }

/// A HAL collection, decoded here without the client's internal page type.
private struct Collection<Item: Decodable>: Decodable {
    struct Embedded: Decodable {
        var leads: [Item]?
        var pipelines: [Item]?
        var notes: [Item]?
    }
    var _embedded: Embedded
}

@Suite("Entity fixtures", .timeLimit(.minutes(1)))
struct EntityFixtureTests {
    @Test("lead with contacts and companies decodes field by field")
    func leadWithContacts() throws {
        let lead = try decode(Lead.self, fixture: "api-lead-with-contacts-companies.json")
        #expect(lead.id == 24_000_017)
        #expect(lead.name == "ACME Retail - annual plan")
        #expect(lead.price == Decimal(12_500))
        #expect(lead.responsibleUserID == 9_000_001)
        #expect(lead.groupID == 0)
        #expect(lead.statusID == 61_000_004)
        #expect(lead.pipelineID == 7_654_321)
        #expect(lead.lossReasonID == nil)
        #expect(lead.sourceID == nil)
        #expect(lead.createdBy == 9_000_001)
        #expect(lead.updatedBy == 9_000_002)
        #expect(lead.createdAt == date(1_767_780_000))
        #expect(lead.updatedAt == date(1_768_394_100))
        #expect(lead.closedAt == nil)
        #expect(lead.closestTaskAt == date(1_768_500_000))
        #expect(lead.isDeleted == false)
        #expect(lead.score == nil)
        #expect(lead.laborCost == nil)
        #expect(lead.accountID == 31_234_567)
        #expect(lead.isWon == false && lead.isLost == false)

        #expect(lead.embedded.tags == [KommoModels.Tag(id: 51_001, name: "inbound", color: nil)])
        #expect(lead.embedded.companies == [EntityReference(id: 36_000_005)])
        #expect(lead.embedded.contacts == [ContactReference(id: 35_000_021, isMain: true),
                                           ContactReference(id: 35_000_022, isMain: false)])
        #expect(lead.embedded.lossReason.isEmpty)
        #expect(lead.mainContactID == 35_000_021)
        #expect(lead.contactIDs == [35_000_021, 35_000_022])
        #expect(lead.companyID == 36_000_005)
        #expect(lead.lossReason == nil)

        #expect(lead.customFieldsValues.count == 3)
        let budget = try #require(lead.customField(id: 1_100_001))
        #expect(budget.fieldName == "Budget range")
        #expect(budget.fieldCode == nil)
        #expect(budget.fieldType == .select)
        #expect(budget.values == [CustomFieldValue.Value(value: "10k-25k", enumID: 5_500_012, enumCode: nil)])
        let close = try #require(lead.customField(id: 1_100_002))
        #expect(close.fieldType == .date)
        #expect(close.values.first?.value == .int(1_769_904_000))
        #expect(close.values.first?.date == date(1_769_904_000))
        let utm = try #require(lead.customField(code: "utm_source"))
        #expect(utm.fieldID == 1_100_010)
        #expect(utm.fieldType == .trackingData)
        #expect(utm.firstText == "google")
        #expect(lead.customField(id: 42) == nil)
    }

    @Test("lost lead carries closed_at, loss_reason_id and a one-element loss_reason array")
    func lostLead() throws {
        let lead = try decode(Lead.self, fixture: "api-lead-lost-with-loss-reason.json")
        #expect(lead.id == 24_000_031)
        #expect(lead.name == "Globex pilot")
        #expect(lead.price == Decimal(4_800))
        #expect(lead.statusID == 143)
        #expect(lead.isLost)
        #expect(lead.pipelineID == 7_654_321)
        #expect(lead.lossReasonID == 8_000_003)
        #expect(lead.closedAt == date(1_768_740_600))
        #expect(lead.customFieldsValues.isEmpty)
        #expect(lead.embedded.tags.isEmpty)
        #expect(lead.embedded.companies.isEmpty)
        #expect(lead.companyID == nil)
        #expect(lead.mainContactID == 35_000_030)
        #expect(lead.embedded.lossReason == [LossReason(id: 8_000_003, name: "Chose a competitor", sort: 100_000,
                                                        createdAt: date(1_760_000_000),
                                                        updatedAt: date(1_760_000_000))])
        #expect(lead.lossReason?.name == "Chose a competitor")
    }

    @Test("leads list page decodes both leads")
    func leadsPage() throws {
        let page = try decode(Collection<Lead>.self, fixture: "api-leads-list-by-ids-page1.json")
        let leads = try #require(page._embedded.leads)
        #expect(leads.map(\.id) == [24_000_017, 24_000_018])
        #expect(leads[0].statusID == 61_000_005)
        #expect(leads[0].customFieldsValues == [])
        #expect(leads[1].name == "Initech renewal")
        #expect(leads[1].price == Decimal(3_000))
        #expect(leads[1].responsibleUserID == 9_000_002)
        #expect(leads[1].mainContactID == 35_000_040)
        #expect(leads[1].companyID == nil)
    }

    @Test("contact: names, emails WORK first, phones, position, checkbox, company")
    func contact() throws {
        let contact = try decode(Contact.self, fixture: "api-contact.json")
        #expect(contact.id == 35_000_021)
        #expect(contact.name == "Olivia Bennett")
        #expect(contact.firstName == "Olivia")
        #expect(contact.lastName == "Bennett")
        #expect(contact.responsibleUserID == 9_000_001)
        #expect(contact.createdAt == date(1_767_780_300))
        #expect(contact.updatedAt == date(1_768_390_500))
        #expect(contact.closestTaskAt == nil)
        #expect(contact.isDeleted == false)
        #expect(contact.isUnsorted == false)
        #expect(contact.accountID == 31_234_567)
        #expect(contact.emails == ["olivia.bennett@example.com", "olivia.home@example.com", "o.bennett@example.com"])
        #expect(contact.primaryEmail == "olivia.bennett@example.com")
        #expect(contact.phones == ["+15550102000", "+15550103000"])
        #expect(contact.position == "Head of Procurement")
        let email = try #require(contact.customField(code: "EMAIL"))
        #expect(email.values.map(\.enumCode) == ["WORK", "PRIV", "OTHER"])
        #expect(email.values.map(\.enumID) == [700_121, 700_123, 700_125])
        let optIn = try #require(contact.customField(id: 1_200_011))
        #expect(optIn.fieldType == .checkbox)
        #expect(optIn.values.first?.bool == true)
        #expect(contact.embedded.tags.isEmpty)
        #expect(contact.companyID == 36_000_005)
    }

    @Test("company: phone, email, web, address, select and numeric-as-string")
    func company() throws {
        let company = try decode(Company.self, fixture: "api-company.json")
        #expect(company.id == 36_000_005)
        #expect(company.name == "Northwind Traders LLC")
        #expect(company.updatedBy == 9_000_002)
        #expect(company.phones == ["+15550100000"])
        #expect(company.emails == ["info@example.com"])
        #expect(company.primaryEmail == "info@example.com")
        #expect(company.website == "https://northwind.example.com")
        #expect(company.customField(code: "ADDRESS")?.firstText == "500 Market Street, Springfield")
        #expect(company.customField(code: "ADDRESS")?.fieldType == .textarea)
        let industry = try #require(company.customField(id: 1_200_021))
        #expect(industry.values == [CustomFieldValue.Value(value: "Wholesale", enumID: 5_600_003)])
        let employees = try #require(company.customField(id: 1_200_022))
        #expect(employees.fieldType == .numeric)
        #expect(employees.values.first?.value == .string("240"))
        #expect(employees.firstText == "240")
        #expect(company.embedded.tags.map(\.name) == ["enterprise"])
    }

    @Test("pipelines: two pipelines, shared 142/143 stages, inbox stage type 1")
    func pipelines() throws {
        let page = try decode(Collection<Pipeline>.self, fixture: "api-pipelines.json")
        let pipelines = try #require(page._embedded.pipelines)
        #expect(pipelines.map(\.id) == [7_654_321, 7_654_400])
        let sales = pipelines[0]
        #expect(sales.name == "Sales")
        #expect(sales.sort == 1)
        #expect(sales.isMain && sales.isUnsortedOn && !sales.isArchive)
        #expect(sales.accountID == 31_234_567)
        #expect(sales.statuses.map(\.id) == [61_000_001, 61_000_002, 61_000_003, 61_000_004, 61_000_005, 142, 143])
        #expect(sales.statuses[0] == Status(id: 61_000_001, name: "Incoming leads", sort: 10, type: 1,
                                            color: "#c1c1c1", pipelineID: 7_654_321, isEditable: false,
                                            accountID: 31_234_567))
        #expect(sales.status(id: 61_000_004)?.name == "Decision making")
        #expect(sales.status(id: 142)?.isWon == true)
        let partners = pipelines[1]
        #expect(partners.name == "Partners")
        #expect(partners.isMain == false)
        #expect(partners.statuses.count == 4)
        #expect(partners.status(id: 143)?.pipelineID == 7_654_400)
        #expect(partners.status(id: 143)?.isLost == true)
        #expect(partners.status(id: 61_000_004) == nil)
    }

    @Test("account: id, subdomain, currency and flags")
    func account() throws {
        let account = try decode(Account.self, fixture: "api-account.json")
        #expect(account == Account(id: 31_234_567, name: "ACME Corp", subdomain: "acme", currency: "USD",
                                   currencySymbol: "$", country: "US", createdAt: date(1_640_995_200),
                                   createdBy: 9_000_001, updatedAt: date(1_767_780_000), currentUserID: 9_000_001,
                                   isUnsortedOn: true, isLossReasonEnabled: true))
    }

    @Test("user: name, email, lang and rights kept as JSON")
    func user() throws {
        let user = try decode(User.self, fixture: "api-user.json")
        #expect(user.id == 9_000_001)
        #expect(user.name == "Maria Lopez")
        #expect(user.email == "maria.lopez@example.com")
        #expect(user.lang == "en")
        #expect(user.isAdmin == false)
        #expect(user.isActive == true)
        #expect(user.rights["leads"]?["view"] == "A")
        #expect(user.rights["status_rights"]?[1]?["status_id"] == .int(143))
    }

    @Test("created note response: id, entity id, request id")
    func noteResponse() throws {
        let page = try decode(Collection<Note>.self, fixture: "api-note-create-response.json")
        #expect(page._embedded.notes == [Note(id: 91_000_077, entityID: 24_000_017, requestID: "0")])
    }

    @Test("a new common note encodes exactly like the request fixture")
    func newNoteEncoding() throws {
        let note = NewNote.common(leadID: 24_000_017,
                                  text: "Analytics sync: stage changed to \"Decision making\" (Sales pipeline).")
        let encoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode([note]))
        let expected = try JSONDecoder().decode(JSONValue.self, from: Fixtures.kommo("api-note-create-request.json"))
        #expect(encoded == expected)
        let service = NewNote.serviceMessage(leadID: 1, service: "Segment", text: "sent", requestID: "r1")
        #expect(service.noteType == .serviceMessage)
        #expect(service.params == ["service": "Segment", "text": "sent"])
    }

    @Test("entities survive an encode/decode round trip", arguments: [
        "api-lead-with-contacts-companies.json", "api-lead-lost-with-loss-reason.json",
    ])
    func leadRoundTrip(fixture: String) throws {
        let lead = try decode(Lead.self, fixture: fixture)
        #expect(try JSONDecoder().decode(Lead.self, from: JSONEncoder().encode(lead)) == lead)
    }

    @Test("contact, company, account, user and pipelines survive a round trip")
    func otherRoundTrips() throws {
        let contact = try decode(Contact.self, fixture: "api-contact.json")
        #expect(try JSONDecoder().decode(Contact.self, from: JSONEncoder().encode(contact)) == contact)
        let company = try decode(Company.self, fixture: "api-company.json")
        #expect(try JSONDecoder().decode(Company.self, from: JSONEncoder().encode(company)) == company)
        let account = try decode(Account.self, fixture: "api-account.json")
        #expect(try JSONDecoder().decode(Account.self, from: JSONEncoder().encode(account)) == account)
        let user = try decode(User.self, fixture: "api-user.json")
        #expect(try JSONDecoder().decode(User.self, from: JSONEncoder().encode(user)) == user)
        let pipelines = try #require(try decode(Collection<Pipeline>.self, fixture: "api-pipelines.json")
            ._embedded.pipelines)
        #expect(try JSONDecoder().decode([Pipeline].self, from: JSONEncoder().encode(pipelines)) == pipelines)
    }
}

@Suite("Entity leniency", .timeLimit(.minutes(1)))
struct EntityLeniencyTests {
    @Test("an unknown field type, an object value and a malformed field never fail the lead")
    func unknownFieldType() throws {
        let lead = try decode(Lead.self, json: """
        {"id": 7, "custom_fields_values": [
          {"field_id": 1, "field_name": "Hologram", "field_code": null, "field_type": "hologram_3d",
           "values": [{"value": {"x": 1, "layers": [true, null]}}, {"value": 2.5}, "not-an-object"]},
          {"field_name": "no id"},
          {"field_id": 2, "field_name": "Empty", "field_type": 17, "values": null},
          {"field_id": 3, "field_name": "Legal", "field_type": "legal_entity",
           "values": [{"value": {"name": "Acme", "vat_id": "X1"}}]}
        ]}
        """)
        #expect(lead.customFieldsValues.map(\.fieldID) == [1, 2, 3])
        let hologram = try #require(lead.customField(id: 1))
        #expect(hologram.fieldType == CustomFieldType(rawValue: "hologram_3d"))
        #expect(hologram.values.map(\.value) == [["x": 1, "layers": [true, nil]], .double(2.5)])
        #expect(hologram.values[1].text == "2.5")
        #expect(lead.customField(id: 2)?.fieldType == CustomFieldType(rawValue: "17"))
        #expect(lead.customField(id: 2)?.values == [])
        #expect(lead.customField(id: 3)?.values.first?.value["name"] == "Acme")
    }

    @Test("custom_fields_values null and absent both give an empty list")
    func nullCustomFields() throws {
        #expect(try decode(Lead.self, json: #"{"id": 1, "custom_fields_values": null}"#).customFieldsValues == [])
        #expect(try decode(Contact.self, json: #"{"id": 1}"#).customFieldsValues == [])
        #expect(try decode(Company.self, json: #"{"id": 1, "custom_fields_values": {}}"#).customFieldsValues == [])
    }

    @Test("a minimal lead decodes with documented defaults; a lead without id fails")
    func minimalLead() throws {
        let lead = try decode(Lead.self, json: #"{"id": "24000099", "name": null, "status_id": "143"}"#)
        #expect(lead.id == 24_000_099)
        #expect(lead.name == "")
        #expect(lead.price == nil)
        #expect(lead.statusID == 143)
        #expect(lead.pipelineID == 0)
        #expect(lead.createdAt == date(0))
        #expect(lead.closedAt == nil)
        #expect(lead.embedded == Lead.Embedded())
        #expect(lead.mainContactID == nil)
        #expect(throws: DecodingError.self) { try decode(Lead.self, json: #"{"name": "no id"}"#) }
    }

    @Test("ids are Int64: numbers up to Int64.max, numeric strings and whole doubles; others are absent")
    func int64IDs() throws {
        let lead = try decode(Lead.self, json: """
        {"id": 9223372036854775807, "responsible_user_id": " 9000001 ", "status_id": 142.0,
         "pipeline_id": 7654321.5, "group_id": "x", "loss_reason_id": "9223372036854775808",
         "_embedded": {"contacts": [{"id": "35000021", "is_main": true}]}}
        """)
        #expect(lead.id == Int64.max)
        #expect(lead.responsibleUserID == 9_000_001)
        #expect(lead.statusID == Status.wonID)
        #expect(lead.pipelineID == 0)
        #expect(lead.groupID == 0)
        #expect(lead.lossReasonID == nil)
        #expect(lead.mainContactID == 35_000_021)
        #expect(throws: DecodingError.self) { try decode(Lead.self, json: #"{"id": "9223372036854775808"}"#) }
    }

    @Test("price_with_minor_units wins over price", arguments: [
        (#"{"id": 1, "price": 12500, "price_with_minor_units": 12500.75}"#, Decimal(string: "12500.75")),
        (#"{"id": 1, "price": 12500, "price_with_minor_units": "99.5"}"#, Decimal(string: "99.5")),
        (#"{"id": 1, "price": 12500, "price_with_minor_units": null}"#, Decimal(12_500)),
        (#"{"id": 1, "price": null}"#, nil),
    ])
    func price(json: String, expected: Decimal?) throws {
        let lead = try decode(Lead.self, json: json)
        #expect(lead.price == expected)
        #expect(try JSONDecoder().decode(Lead.self, from: JSONEncoder().encode(lead)).price == expected)
    }

    @Test("enum values: enum_code, legacy string enum and numeric enum")
    func legacyEnum() throws {
        let values = try decode([CustomFieldValue.Value].self, json: """
        [{"value": "a", "enum_id": 1, "enum_code": "WORK"},
         {"value": "b", "enum": "PRIV"},
         {"value": "c", "enum": "700125"},
         {"value": "d", "enum_id": "700127", "enum": "OTHER"}]
        """)
        #expect(values.map(\.enumCode) == ["WORK", "PRIV", nil, "OTHER"])
        #expect(values.map(\.enumID) == [1, nil, 700_125, 700_127])
    }

    @Test("emails: WORK first, then others in order; trimmed; empties and non-strings skipped")
    func emailOrdering() throws {
        let contact = try decode(Contact.self, json: """
        {"id": 5, "custom_fields_values": [
          {"field_id": 9, "field_name": "Email", "field_code": "EMAIL", "field_type": "multitext", "values": [
            {"value": "  Home@Example.com ", "enum_code": "PRIV"},
            {"value": "   ", "enum_code": "WORK"},
            {"value": " Boss@Example.COM", "enum_code": "WORK"},
            {"value": 42, "enum_code": "OTHER"},
            {"value": {"weird": true}, "enum_code": "OTHER"},
            {"value": "second.work@example.com", "enum_code": "work"}]},
          {"field_id": 10, "field_name": "Phone", "field_code": "PHONE", "field_type": "multitext", "values": [
            {"value": "+1 555 0100", "enum_code": "MOB"},
            {"value": "", "enum_code": "WORK"},
            {"value": "+1 555 0199 ", "enum_code": "WORK"}]}
        ]}
        """)
        #expect(contact.emails == ["Boss@Example.COM", "second.work@example.com", "Home@Example.com", "42"])
        #expect(contact.primaryEmail == "boss@example.com")
        #expect(contact.phones == ["+1 555 0199", "+1 555 0100"])
    }

    @Test("emails fall back to a multitext field named like e-mail; none gives nil")
    func emailFallback() throws {
        let contact = try decode(Contact.self, json: """
        {"id": 5, "custom_fields_values": [
          {"field_id": 9, "field_name": "E-Mail", "field_code": null, "field_type": "multitext",
           "values": [{"value": "x@example.com"}]}]}
        """)
        #expect(contact.primaryEmail == "x@example.com")
        let none = try decode(Contact.self, json: #"{"id": 6}"#)
        #expect(none.emails.isEmpty && none.phones.isEmpty && none.primaryEmail == nil && none.position == nil)
    }

    @Test("dates decode from integer, fractional and string Unix seconds; garbage is nil")
    func dates() throws {
        let lead = try decode(Lead.self, json: """
        {"id": 1, "created_at": 1767780000, "updated_at": "1768394100", "closed_at": "yesterday",
         "closest_task_at": 1768500000.5}
        """)
        #expect(lead.createdAt == date(1_767_780_000))
        #expect(lead.updatedAt == date(1_768_394_100))
        #expect(lead.closedAt == nil)
        #expect(lead.closestTaskAt == date(1_768_500_000.5))
    }

    @Test("malformed embedded items are skipped, not fatal")
    func embeddedLeniency() throws {
        let lead = try decode(Lead.self, json: """
        {"id": 1, "_embedded": {"tags": [{"id": 3, "name": "x"}, {"name": "no id"}],
          "contacts": [{"id": "5", "is_main": 1}, {"is_main": true}], "loss_reason": {"id": 2}}}
        """)
        #expect(lead.embedded.tags.map(\.id) == [3])
        #expect(lead.embedded.contacts == [ContactReference(id: 5, isMain: true)])
        #expect(lead.embedded.lossReason.isEmpty)
    }
}
