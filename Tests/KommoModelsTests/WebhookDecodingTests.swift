import Foundation
import JSONCore
import KommoModels
import Testing

@Suite("Kommo webhook decoding", .timeLimit(.minutes(1)))
struct WebhookDecodingTests {
    @Test("sparse, unordered indexes are sorted numerically (not as text) at every level")
    func sparseIndexes() throws {
        let body = [
            webhookAccountPairs,
            "leads[status][10][id]=110", "leads[status][5][id]=105", "leads[status][2][id]=102", "leads[status][9][id]=109",
            "leads[status][5][custom_fields][3][id]=3", "leads[status][5][custom_fields][3][values][7]=seven",
            "leads[status][5][custom_fields][3][values][0]=zero", "leads[status][5][custom_fields][1][id]=1",
            "leads[status][5][tags][12][name]=twelve", "leads[status][5][tags][3][name]=three",
        ].joined(separator: "&")
        let hook = try parseWebhookBody(body)
        #expect(hook.events.compactMap(\.lead).map(\.id) == [102, 105, 109, 110])
        let lead = try #require(hook.events.compactMap(\.lead).first { $0.id == 105 })
        #expect(lead.customFields == [
            WebhookCustomField(id: 1),
            WebhookCustomField(id: 3, values: [WebhookCustomFieldValue(value: "zero"), WebhookCustomFieldValue(value: "seven")]),
        ])
        #expect(lead.tags == [WebhookTag(name: "three"), WebhookTag(name: "twelve")])
    }

    @Test("index order handles leading zeros and numbers longer than 64 bits, numeric keys before others")
    func indexOrderEdges() throws {
        let body = webhookAccountPairs + "&task[add][b][x]=1&task[add][100000000000000000000][x]=2&task[add][007][x]=3"
            + "&task[add][8][x]=4&task[add][a][x]=5"
        let items = try parseWebhookBody(body).events.compactMap(\.unknownItem)
        #expect(items.map(\.index) == ["007", "8", "100000000000000000000", "a", "b"])
    }

    @Test("'+' is a space and '%2B' a plus, in keys and values; hex digits in either case")
    func plusAndPercent() throws {
        let body = webhookAccountPairs + "&leads[add][0][id]=1&leads[add][0][name]=a+b%2Bc%2bd++e%20f%c3%a9%C3%A9"
            + "&leads%5Badd%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=5"
            + "&leads[add][0][custom_fields][0][na+me]=ignored&leads[add][0][custom_fields][0][name]=x%2By+z"
        let lead = try #require(parseWebhookBody(body).events.first?.lead)
        #expect(lead.name == "a b+c+d  e féé")
        #expect(lead.customFields == [WebhookCustomField(id: 5, name: "x+y z")])
    }

    @Test("three leads in leads[status] and a leads[update] for one of them: sections by first appearance")
    func statusBatchPlusUpdate() throws {
        let body = [
            webhookAccountPairs,
            "leads[status][1][id]=2", "leads[status][1][status_id]=142",
            "leads[update][0][id]=2", "leads[update][0][status_id]=142", "leads[update][0][old_status_id]=61000005",
            "leads[status][0][id]=1", "leads[status][2][id]=3", "leads[status][0][status_id]=143",
        ].joined(separator: "&")
        let events = try parseWebhookBody(body).events
        #expect(events.map(\.action) == [.status, .status, .status, .update])
        #expect(events.map(\.entityID) == [1, 2, 3, 2])
        #expect(events[0].lead?.isLost() == true)
        #expect(events[1].lead?.isWon() == true)
        #expect(events[3].lead?.isStageChange == true)

        let updateFirst = [
            "leads[update][0][id]=2", webhookAccountPairs, "leads[status][2][id]=3", "leads[status][0][id]=1",
            "leads[status][1][id]=2",
        ].joined(separator: "&")
        let reordered = try parseWebhookBody(updateFirst).events
        #expect(reordered.map(\.action) == [.update, .status, .status, .status])
        #expect(reordered.map(\.entityID) == [2, 1, 2, 3])
    }

    @Test("sections interleave across entities in order of their first pair")
    func sectionsAcrossEntities() throws {
        let body = "contacts[update][0][id]=10&contacts[update][0][type]=company&leads[status][0][id]=1&"
            + webhookAccountPairs + "&contacts[add][0][id]=11&leads[status][1][id]=2&contacts[update][1][id]=12"
        let events = try parseWebhookBody(body).events
        #expect(events.map(\.section) == [.contacts, .contacts, .leads, .leads, .contacts])
        #expect(events.map(\.action) == [.update, .update, .status, .status, .add])
        #expect(events.map(\.entityID) == [10, 12, 1, 2, 11])
        guard case .company(let company) = events[0], case .contact(let contact) = events[1] else {
            Issue.record("expected a company then a contact, got \(events)")
            return
        }
        #expect(company.entityType == .company && company.id == 10)
        #expect(contact.entityType == .contact && contact.id == 12)
    }

    @Test("unknown sections are kept with their name, action, index and decoded tree")
    func unknownSections() throws {
        let body = [
            webhookAccountPairs,
            "task[add][0][id]=5", "task[add][0][text]=Call+back+%26+send", "task[add][0][element][type]=2",
            "unsorted[add][3][source_data][from]=%D0%A1%D0%B0%D0%B9%D1%82", "unsorted[add][3][uid]=u-1",
            "customers[update][0][id]=7", "foo=bar", "talk[flag]=1",
            "leads[status][0][id]=1",
        ].joined(separator: "&")
        let events = try parseWebhookBody(body).events
        #expect(events.count == 6)
        #expect(events.compactMap(\.unknownItem) == [
            UnknownWebhookItem(section: .task, action: .add, index: "0",
                               raw: ["id": "5", "text": "Call back & send", "element": ["type": "2"]]),
            UnknownWebhookItem(section: .unsorted, action: .add, index: "3",
                               raw: ["source_data": ["from": "Сайт"], "uid": "u-1"]),
            UnknownWebhookItem(section: .customers, action: .update, index: "0", raw: ["id": "7"]),
            UnknownWebhookItem(section: KommoWebhookSection(rawValue: "foo"), raw: "bar"),
            UnknownWebhookItem(section: .talk, action: KommoWebhookAction(rawValue: "flag"), raw: "1"),
        ])
        #expect(events.last?.lead?.id == 1)
        #expect(events[0].entityID == nil)
        #expect(events[0].section == .task && events[0].action == .add)
    }

    @Test("odd shapes inside known sections become unknown items instead of failing the body")
    func oddShapesInKnownSections() throws {
        let body = webhookAccountPairs + "&leads[flag]=1&contacts[update][0][id]=9&contacts[update][0][type]=customer"
            + "&contacts[delete][0][id]=8"
        let events = try parseWebhookBody(body).events
        #expect(events == [
            .unknown(UnknownWebhookItem(section: .leads, action: KommoWebhookAction(rawValue: "flag"), raw: "1")),
            .unknown(UnknownWebhookItem(section: .contacts, action: .update, index: "0",
                                        raw: ["id": "9", "type": "customer"])),
            .contact(EntityEvent(entityType: .contact, action: .delete, id: 8)),
        ])
    }

    @Test("a company delete carries only id and type")
    func companyDelete() throws {
        let body = webhookAccountPairs + "&contacts[delete][0][id]=36000005&contacts[delete][0][type]=company"
        #expect(try parseWebhookBody(body).events == [.company(EntityEvent(entityType: .company, action: .delete, id: 36_000_005))])
    }

    @Test("contacts[note] keeps the outer type and reads the inner note")
    func contactNote() throws {
        let body = webhookAccountPairs + "&contacts[note][0][type]=company&contacts[note][0][note][id]=77"
            + "&contacts[note][0][note][text]=Hi&contacts[note][0][note][element_type]=3"
            + "&contacts[note][0][note][element_id]=36000005&contacts[note][0][note][timestamp_x]=2026-01-14+12%3A05%3A00"
            + "&contacts[note][0][note][note_type]=99999999999999999999"
        let note = try #require(parseWebhookBody(body).events.first?.note)
        #expect(note == NoteEvent(section: .contacts, entityType: .company, id: 77, text: "Hi", noteType: nil,
                                  elementType: 3, elementID: 36_000_005, timestampX: "2026-01-14 12:05:00"))
    }

    @Test("custom field values: list of objects, list of scalars, keyed object, bare value, enum-only, nested")
    func customFieldShapes() throws {
        let prefix = "leads[update][0][custom_fields]"
        let body = [
            webhookAccountPairs, "leads[update][0][id]=1",
            "\(prefix)[0][id]=10", "\(prefix)[0][values][0][value]=a", "\(prefix)[0][values][0][enum]=100",
            "\(prefix)[0][values][1][value]=b",
            "\(prefix)[1][id]=11", "\(prefix)[1][values][0]=1771200000", "\(prefix)[1][values][1]=1771300000",
            "\(prefix)[2][id]=12", "\(prefix)[2][values][value]=High", "\(prefix)[2][values][enum]=5500052",
            "\(prefix)[3][id]=13", "\(prefix)[3][values]=plain",
            "\(prefix)[4][id]=14", "\(prefix)[4][values][0][enum]=7",
            "\(prefix)[5][id]=15", "\(prefix)[5][values][0][value][city]=Berlin",
            "\(prefix)[5][values][0][value][zip]=10115",
            "\(prefix)[6][name]=no+id", "\(prefix)[6][values][0]=dropped",
            "\(prefix)[7][id]=not-a-number", "\(prefix)[7][values][0]=dropped",
            "\(prefix)[8][id]=18", "\(prefix)[8][code]=EMAIL", "\(prefix)[8][values][0][value]=x%40example.com",
            "\(prefix)[8][values][0][enum]=WORK",
        ].joined(separator: "&")
        let lead = try #require(parseWebhookBody(body).events.first?.lead)
        #expect(lead.customFields == [
            WebhookCustomField(id: 10, values: [WebhookCustomFieldValue(value: "a", enumID: 100),
                                                WebhookCustomFieldValue(value: "b")]),
            WebhookCustomField(id: 11, values: [WebhookCustomFieldValue(value: "1771200000"),
                                                WebhookCustomFieldValue(value: "1771300000")]),
            WebhookCustomField(id: 12, values: [WebhookCustomFieldValue(value: "High", enumID: 5_500_052)]),
            WebhookCustomField(id: 13, values: [WebhookCustomFieldValue(value: "plain")]),
            WebhookCustomField(id: 14, values: [WebhookCustomFieldValue(value: "", enumID: 7)]),
            WebhookCustomField(id: 15, values: [WebhookCustomFieldValue(value: #"{"city":"Berlin","zip":"10115"}"#)]),
            WebhookCustomField(id: 18, code: "EMAIL", values: [WebhookCustomFieldValue(value: "x@example.com")]),
        ])
    }

    @Test("unparseable non-key fields become nil; decimal prices and price_with_minor_units are read")
    func garbageFieldsAreNil() throws {
        let body = [
            webhookAccountPairs, "leads[update][0][id]=24000017", "leads[update][0][date_create]=2026-13-45+99%3A99",
            "leads[update][0][last_modified]=-5", "leads[update][0][created_at]=1.5e9",
            "leads[update][0][updated_at]=99999999999999999999", "leads[update][0][status_id]=abc",
            "leads[update][0][pipeline_id]=%2B7", "leads[update][0][responsible_user_id]=%20900",
            "leads[update][0][price]=12%2C5", "leads[update][0][price_with_minor_units]=12500.50",
            "leads[update][0][tags][0][id]=x", "leads[update][0][tags][0][name]=t",
            "leads[update][0][tags][1][id]=", "leads[update][0][tags][2][id]=9",
        ].joined(separator: "&")
        let lead = try #require(parseWebhookBody(body).events.first?.lead)
        #expect(lead == LeadEvent(action: .update, id: 24_000_017, priceWithMinorUnits: Decimal(string: "12500.50"),
                                  tags: [WebhookTag(name: "t"), WebhookTag(id: 9, name: "")]))
    }

    @Test("prices: whole, decimal and negative strings parse; anything else is nil", arguments: [
        ("12500", Decimal(12_500)), ("12500.50", Decimal(string: "12500.5")), ("0", Decimal(0)),
        ("-3", Decimal(-3)), ("0.001", Decimal(string: "0.001")),
        ("", nil), ("12,5", nil), ("1e5", nil), (".5", nil), ("5.", nil), ("NaN", nil), ("12 500", nil),
        ("12500.50.1", nil), ("--1", nil), (String(repeating: "9", count: 41), nil),
    ] as [(String, Decimal?)])
    func prices(text: String, expected: Decimal?) throws {
        let encoded = try #require(text.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let lead = try #require(parseWebhookBody(webhookAccountPairs + "&leads[add][0][id]=1&leads[add][0][price]=" + encoded)
            .events.first?.lead)
        #expect(lead.price == expected)
    }

    @Test("a repeated key keeps its last value, and a leaf and a map at one path replace each other (PHP rules)")
    func repeatedKeys() throws {
        let body = webhookAccountPairs + "&leads[add][0][id]=1&leads[add][0][name]=first&leads[add][0][name]=second"
            + "&leads[add][0][tags]=x&leads[add][0][tags][0][name]=t" + "&task=a&task[add][0][id]=3"
            + "&foo[bar][0][x]=1&foo=2"
        let events = try parseWebhookBody(body).events
        #expect(events == [
            .lead(LeadEvent(action: .add, id: 1, name: "second", tags: [WebhookTag(name: "t")])),
            .unknown(UnknownWebhookItem(section: .task, action: .add, index: "0", raw: ["id": "3"])),
            .unknown(UnknownWebhookItem(section: KommoWebhookSection(rawValue: "foo"), raw: "2")),
        ])
    }

    @Test("'[]' appends after the largest numeric index, as PHP does")
    func appendSegments() throws {
        let body = webhookAccountPairs + "&leads[add][0][id]=1&leads[add][0][tags][4][name]=a&leads[add][0][tags][][name]=b"
            + "&task[add][][x]=1&task[add][][x]=2"
        let events = try parseWebhookBody(body).events
        #expect(events[0].lead?.tags == [WebhookTag(name: "a"), WebhookTag(name: "b")])
        #expect(events.compactMap(\.unknownItem).map(\.index) == ["0", "1"])
        #expect(events.compactMap(\.unknownItem).map(\.raw) == [["x": "1"], ["x": "2"]])
    }

    @Test("pairs without '=', empty pairs and a trailing '&' are fine; raw UTF-8 bytes are accepted")
    func lenientSeparators() throws {
        let body = "&&" + webhookAccountPairs + "&&leads[add][0][id]=1&leads[add][0][name]&leads[add][0][text]=Привет 👋&"
        let hook = try parseWebhookBody(body)
        #expect(hook.account.id == 31_234_567)
        #expect(hook.events == [.lead(LeadEvent(action: .add, id: 1, name: ""))])
    }

    @Test("the account URL is kept only when it is an absolute http(s) URL", arguments: [
        ("https%3A%2F%2Facme.kommo.com", "https://acme.kommo.com"),
        ("https%3A%2F%2Facme.amocrm.ru", "https://acme.amocrm.ru"),
        ("http%3A%2F%2Facme.amocrm.com%2F", "http://acme.amocrm.com/"),
        ("acme.kommo.com", nil), ("ftp%3A%2F%2Facme.kommo.com", nil), ("", nil), ("https%3A%2F%2F", nil),
        ("not+a+url", nil),
    ] as [(String, String?)])
    func baseURL(encoded: String, expected: String?) throws {
        let hook = try parseWebhookBody(webhookAccountPairs + "&account[_links][self]=" + encoded)
        #expect(hook.account.baseURL?.absoluteString == expected)
        #expect(hook.events.isEmpty)
    }

    @Test("content types Kommo may send are accepted", arguments: [
        "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded;charset=utf-8", "  application/x-www-form-urlencoded  ",
        "application/x-www-form-urlencoded; charset=\"utf-8\"", "application/x-www-form-urlencoded; charset=utf8",
        "application/x-www-form-urlencoded; charset=US-ASCII", "application/x-www-form-urlencoded; boundary=x",
    ])
    func acceptedContentTypes(contentType: String) throws {
        let hook = try KommoWebhookParser().parse(body: Data(webhookAccountPairs.utf8), contentType: contentType)
        #expect(hook.account.subdomain == "acme")
    }

    @Test("exactly the item and pair limits are allowed")
    func limitsAreInclusive() throws {
        let body = webhookAccountPairs + "&leads[add][0][id]=1&leads[add][1][id]=2&task=x"
        let limits = KommoWebhookParser.Limits(maxPairs: 5, maxItems: 3)
        #expect(try parseWebhookBody(body, limits: limits).events.count == 3)
        let deep = webhookAccountPairs + "&a[1][2][3]=x"
        #expect(try parseWebhookBody(deep, limits: .init(maxDepth: 3)).events.count == 1)
    }

    @Test("the default limits are the documented ones")
    func defaultLimits() {
        let limits = KommoWebhookParser.Limits()
        #expect(limits.maxBodyBytes == 1_048_576)
        #expect(limits.maxDepth == 8)
        #expect(limits.maxPairs == 20_000)
        #expect(limits.maxItems == 1_000)
        #expect(KommoWebhookParser().limits == limits)
    }
}
