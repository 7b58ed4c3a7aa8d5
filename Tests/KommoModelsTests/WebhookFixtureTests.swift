import Foundation
import KommoModels
import Testing
import KommoSegmentTesting

@Suite("Kommo webhook fixtures", .timeLimit(.minutes(1)))
struct WebhookFixtureTests {
    @Test("every webhook fixture is covered here and parses with the acme account (block first or last)")
    func everyFixtureParses() throws {
        let names = try Fixtures.kommoNames().filter { $0.hasPrefix("webhook-") && $0.hasSuffix(".txt") }
        #expect(names == [
            "webhook-company-update.txt", "webhook-contact-update.txt", "webhook-dp-lead-status-minimal.txt",
            "webhook-lead-add.txt", "webhook-lead-delete.txt", "webhook-lead-note-added.txt",
            "webhook-lead-responsible-changed.txt", "webhook-lead-status-batch.txt", "webhook-lead-status-lost.txt",
            "webhook-lead-status-middle-stage.txt", "webhook-lead-status-won.txt",
            "webhook-lead-update-unicode-custom-fields.txt", "webhook-lead-update.txt",
            "webhook-mixed-update-and-status.txt",
        ])
        for name in names where name != "webhook-dp-lead-status-minimal.txt" {
            #expect(try parseWebhookFixture(name).account == webhookAcmeAccount, "\(name)")
        }
    }

    @Test("leads[status] to a middle stage: tags, a select field with enum, a bare-scalar date field")
    func middleStage() throws {
        let hook = try parseWebhookFixture("webhook-lead-status-middle-stage.txt")
        #expect(hook.account.id == 31_234_567)
        #expect(hook.account.subdomain == "acme")
        #expect(hook.account.baseURL?.absoluteString == "https://acme.kommo.com")
        #expect(hook.events.count == 1)
        let lead = try #require(hook.events.first?.lead)
        #expect(lead.action == .status)
        #expect(lead.id == 24_000_017)
        #expect(lead.name == "ACME Retail - annual plan")
        #expect(lead.statusID == 61_000_004)
        #expect(lead.oldStatusID == 61_000_003)
        #expect(lead.pipelineID == 7_654_321)
        #expect(lead.oldPipelineID == nil)
        #expect(lead.price == Decimal(12_500))
        #expect(lead.priceWithMinorUnits == nil)
        #expect(lead.responsibleUserID == 9_000_001)
        #expect(lead.oldResponsibleUserID == nil)
        #expect(lead.modifiedUserID == 9_000_002)
        #expect(lead.createdUserID == 9_000_001)
        #expect(lead.accountID == 31_234_567)
        #expect(lead.lastModified == webhookDate(1_768_394_100))
        #expect(lead.dateCreate == webhookDate(1_767_780_000))
        #expect(lead.createdAt == webhookDate(1_767_780_000))
        #expect(lead.updatedAt == webhookDate(1_768_394_100))
        #expect(lead.tags == [WebhookTag(id: 51_001, name: "inbound")])
        #expect(lead.customFields == [
            WebhookCustomField(id: 1_100_001, name: "Budget range", code: nil,
                               values: [WebhookCustomFieldValue(value: "10k-25k", enumID: 5_500_012)]),
            WebhookCustomField(id: 1_100_002, name: "Expected close", code: nil,
                               values: [WebhookCustomFieldValue(value: "1769904000", enumID: nil)]),
        ])
        #expect(lead.isStageChange)
        #expect(!lead.isWon() && !lead.isLost())
        #expect(lead.eventTime == webhookDate(1_768_394_100))
    }

    @Test("leads[status] to won (142)")
    func won() throws {
        let hook = try parseWebhookFixture("webhook-lead-status-won.txt")
        #expect(hook.account == webhookAcmeAccount)
        let expected = LeadEvent(
            action: .status, id: 24_000_017, name: "ACME Retail - annual plan", statusID: 142, pipelineID: 7_654_321,
            oldStatusID: 61_000_005, price: 12_500, responsibleUserID: 9_000_001, createdUserID: 9_000_001,
            modifiedUserID: 9_000_001, accountID: 31_234_567, lastModified: webhookDate(1_768_912_200),
            dateCreate: webhookDate(1_767_780_000), createdAt: webhookDate(1_767_780_000), updatedAt: webhookDate(1_768_912_200),
            tags: [WebhookTag(id: 51_001, name: "inbound")],
            customFields: [WebhookCustomField(id: 1_100_001, name: "Budget range",
                                              values: [WebhookCustomFieldValue(value: "10k-25k", enumID: 5_500_012)])]
        )
        #expect(hook.events == [.lead(expected)])
        let lead = try #require(hook.events.first?.lead)
        #expect(lead.isWon() && !lead.isLost() && lead.isStageChange && !lead.isOwnerChange)
    }

    @Test("leads[status] to lost (143), no loss reason in the hook")
    func lost() throws {
        let hook = try parseWebhookFixture("webhook-lead-status-lost.txt")
        let expected = LeadEvent(
            action: .status, id: 24_000_031, name: "Globex pilot", statusID: 143, pipelineID: 7_654_321,
            oldStatusID: 61_000_003, price: 4_800, responsibleUserID: 9_000_002, createdUserID: 9_000_002,
            modifiedUserID: 9_000_002, accountID: 31_234_567, lastModified: webhookDate(1_768_740_600),
            dateCreate: webhookDate(1_767_866_400), createdAt: webhookDate(1_767_866_400), updatedAt: webhookDate(1_768_740_600)
        )
        #expect(hook.account == webhookAcmeAccount)
        #expect(hook.events == [.lead(expected)])
        #expect(expected.isLost() && !expected.isWon())
    }

    @Test("leads[responsible]: the owner changes from 9000001 to 9000002")
    func responsibleChanged() throws {
        let hook = try parseWebhookFixture("webhook-lead-responsible-changed.txt")
        let expected = LeadEvent(
            action: .responsible, id: 24_000_017, name: "ACME Retail - annual plan", statusID: 61_000_004,
            pipelineID: 7_654_321, price: 12_500, responsibleUserID: 9_000_002, oldResponsibleUserID: 9_000_001,
            createdUserID: 9_000_001, modifiedUserID: 9_000_001, accountID: 31_234_567,
            lastModified: webhookDate(1_768_480_500), dateCreate: webhookDate(1_767_780_000), createdAt: webhookDate(1_767_780_000),
            updatedAt: webhookDate(1_768_480_500),
            customFields: [WebhookCustomField(id: 1_100_001, name: "Budget range",
                                              values: [WebhookCustomFieldValue(value: "10k-25k", enumID: 5_500_012)])]
        )
        #expect(hook.events == [.lead(expected)])
        let lead = try #require(hook.events.first?.lead)
        #expect(lead.isOwnerChange)
        #expect(!lead.isStageChange)
    }

    @Test("leads[add]: a new lead with two UTM-style custom fields and price 0")
    func add() throws {
        let hook = try parseWebhookFixture("webhook-lead-add.txt")
        let expected = LeadEvent(
            action: .add, id: 24_000_040, name: "Inbound request from website", statusID: 61_000_002,
            pipelineID: 7_654_321, price: 0, responsibleUserID: 9_000_001, createdUserID: 9_000_001,
            modifiedUserID: 9_000_001, accountID: 31_234_567, lastModified: webhookDate(1_768_555_200),
            dateCreate: webhookDate(1_768_555_200), createdAt: webhookDate(1_768_555_200), updatedAt: webhookDate(1_768_555_200),
            customFields: [
                WebhookCustomField(id: 1_100_010, name: "utm_source", values: [WebhookCustomFieldValue(value: "google")]),
                WebhookCustomField(id: 1_100_011, name: "utm_campaign",
                                   values: [WebhookCustomFieldValue(value: "winter-promo")]),
            ]
        )
        #expect(hook.account == webhookAcmeAccount)
        #expect(hook.events == [.lead(expected)])
        #expect(hook.events.first?.lead?.price == Decimal(0))
    }

    @Test("leads[update]: price, two tags and three field shapes")
    func update() throws {
        let hook = try parseWebhookFixture("webhook-lead-update.txt")
        let expected = LeadEvent(
            action: .update, id: 24_000_017, name: "ACME Retail - annual plan", statusID: 61_000_004,
            pipelineID: 7_654_321, price: 15_000, responsibleUserID: 9_000_001, createdUserID: 9_000_001,
            modifiedUserID: 9_000_001, accountID: 31_234_567, lastModified: webhookDate(1_768_401_000),
            dateCreate: webhookDate(1_767_780_000), createdAt: webhookDate(1_767_780_000), updatedAt: webhookDate(1_768_401_000),
            tags: [WebhookTag(id: 51_001, name: "inbound"), WebhookTag(id: 51_002, name: "enterprise")],
            customFields: [
                WebhookCustomField(id: 1_100_001, name: "Budget range",
                                   values: [WebhookCustomFieldValue(value: "10k-25k", enumID: 5_500_012)]),
                WebhookCustomField(id: 1_100_002, name: "Expected close",
                                   values: [WebhookCustomFieldValue(value: "1770508800")]),
                WebhookCustomField(id: 1_100_003, name: "Seats", values: [WebhookCustomFieldValue(value: "40")]),
            ]
        )
        #expect(hook.account == webhookAcmeAccount)
        #expect(hook.events == [.lead(expected)])
        let lead = try #require(hook.events.first?.lead)
        #expect(!lead.isStageChange)
        #expect(lead.oldStatusID == nil)
    }

    @Test("leads[delete]: only id and stage, with the account block last")
    func delete() throws {
        let hook = try parseWebhookFixture("webhook-lead-delete.txt")
        #expect(hook.account.id == 31_234_567)
        #expect(hook.account.subdomain == "acme")
        #expect(hook.account.baseURL == URL(string: "https://acme.kommo.com"))
        #expect(hook.events == [.lead(LeadEvent(action: .delete, id: 24_000_099, statusID: 61_000_002,
                                                pipelineID: 7_654_321))])
        let lead = try #require(hook.events.first?.lead)
        #expect(lead.name == nil && lead.price == nil && lead.eventTime == nil)
        #expect(lead.tags.isEmpty && lead.customFields.isEmpty)
    }

    @Test("leads[status] batch: three items in index order across two pipelines")
    func batch() throws {
        let hook = try parseWebhookFixture("webhook-lead-status-batch.txt")
        #expect(hook.account == webhookAcmeAccount)
        let leads = hook.events.compactMap(\.lead)
        #expect(leads.count == 3 && hook.events.count == 3)
        #expect(leads.map(\.id) == [24_000_017, 24_000_018, 24_000_019])
        #expect(leads.map(\.action) == [.status, .status, .status])
        #expect(leads.map(\.name) == ["ACME Retail - annual plan", "Initech renewal", "Partner referral - Umbrella"])
        #expect(leads.map(\.statusID) == [61_000_005, 143, 142])
        #expect(leads.map(\.oldStatusID) == [61_000_004, 61_000_002, 61_000_102])
        #expect(leads.map(\.pipelineID) == [7_654_321, 7_654_321, 7_654_400])
        #expect(leads.map(\.price) == [12_500, 3_000, 8_200])
        #expect(leads.map(\.responsibleUserID) == [9_000_001, 9_000_002, 9_000_001])
        #expect(leads.map(\.modifiedUserID) == [9_000_001, 9_000_001, 9_000_001])
        #expect(leads.map(\.createdUserID) == [9_000_001, 9_000_002, 9_000_001])
        #expect(leads.map(\.accountID) == [31_234_567, 31_234_567, 31_234_567])
        #expect(leads.map(\.lastModified) == [webhookDate(1_768_650_000), webhookDate(1_768_650_000), webhookDate(1_768_650_001)])
        #expect(leads.map(\.updatedAt) == [webhookDate(1_768_650_000), webhookDate(1_768_650_000), webhookDate(1_768_650_001)])
        #expect(leads.map(\.createdAt) == [webhookDate(1_767_780_000), webhookDate(1_767_780_000), webhookDate(1_767_780_000)])
        #expect(leads.map(\.dateCreate) == [webhookDate(1_767_780_000), webhookDate(1_767_780_000), webhookDate(1_767_780_000)])
        #expect(leads.map { $0.isWon() } == [false, false, true])
        #expect(leads.map { $0.isLost() } == [false, true, false])
        #expect(leads.allSatisfy { $0.isStageChange })
    }

    @Test("contacts[update] with type=contact: PHONE/EMAIL codes with numeric enum ids, unchanged old owner")
    func contactUpdate() throws {
        let hook = try parseWebhookFixture("webhook-contact-update.txt")
        #expect(hook.account == webhookAcmeAccount)
        let expected = EntityEvent(
            entityType: .contact, action: .update, id: 35_000_021, name: "Olivia Bennett",
            responsibleUserID: 9_000_001, oldResponsibleUserID: 9_000_001, createdUserID: 9_000_001,
            modifiedUserID: 9_000_001, accountID: 31_234_567, dateCreate: webhookDate(1_767_780_300),
            lastModified: webhookDate(1_768_390_500), createdAt: webhookDate(1_767_780_300), updatedAt: webhookDate(1_768_390_500),
            customFields: [
                WebhookCustomField(id: 1_200_001, name: "Position", code: "POSITION",
                                   values: [WebhookCustomFieldValue(value: "Head of Procurement")]),
                WebhookCustomField(id: 1_200_003, name: "Phone", code: "PHONE", values: [
                    WebhookCustomFieldValue(value: "+15550102000", enumID: 700_101),
                    WebhookCustomFieldValue(value: "+15550103000", enumID: 700_105),
                ]),
                WebhookCustomField(id: 1_200_005, name: "Email", code: "EMAIL", values: [
                    WebhookCustomFieldValue(value: "olivia.bennett@example.com", enumID: 700_121),
                    WebhookCustomFieldValue(value: "olivia.home@example.com", enumID: 700_123),
                ]),
            ]
        )
        #expect(hook.events == [.contact(expected)])
        let contact = try #require(hook.events.first?.entity)
        #expect(!contact.isOwnerChange)
        #expect(contact.linkedLeadIDs.isEmpty && contact.tags.isEmpty)
        #expect(hook.events.first?.section == .contacts)
        #expect(hook.events.first?.action == .update)
        #expect(hook.events.first?.entityID == 35_000_021)
    }

    @Test("a company arrives under contacts[update] with type=company and linked leads")
    func companyUpdate() throws {
        let hook = try parseWebhookFixture("webhook-company-update.txt")
        #expect(hook.account == webhookAcmeAccount)
        let expected = EntityEvent(
            entityType: .company, action: .update, id: 36_000_005, name: "Northwind Traders LLC",
            responsibleUserID: 9_000_001, createdUserID: 9_000_001, modifiedUserID: 9_000_002,
            accountID: 31_234_567, dateCreate: webhookDate(1_767_780_200), lastModified: webhookDate(1_768_391_000),
            createdAt: webhookDate(1_767_780_200), updatedAt: webhookDate(1_768_391_000),
            customFields: [
                WebhookCustomField(id: 1_200_003, name: "Phone", code: "PHONE",
                                   values: [WebhookCustomFieldValue(value: "+15550100000", enumID: 700_101)]),
                WebhookCustomField(id: 1_200_005, name: "Email", code: "EMAIL",
                                   values: [WebhookCustomFieldValue(value: "info@example.com", enumID: 700_121)]),
                WebhookCustomField(id: 1_200_007, name: "Web", code: "WEB",
                                   values: [WebhookCustomFieldValue(value: "https://northwind.example.com")]),
            ],
            linkedLeadIDs: [24_000_017]
        )
        #expect(hook.events == [.company(expected)])
        #expect(hook.events.first?.section == .contacts)
    }

    @Test("Digital Pipeline hook: minimal lead, old pipeline, account without _links")
    func digitalPipelineMinimal() throws {
        let hook = try parseWebhookFixture("webhook-dp-lead-status-minimal.txt")
        #expect(hook.account == KommoWebhookAccount(id: 31_234_567, subdomain: "acme", baseURL: nil))
        #expect(hook.events == [.lead(LeadEvent(action: .status, id: 24_000_017, statusID: 61_000_004,
                                                pipelineID: 7_654_321, oldStatusID: 61_000_003,
                                                oldPipelineID: 7_654_321))])
        let lead = try #require(hook.events.first?.lead)
        #expect(lead.isStageChange)
        #expect(lead.eventTime == nil)
    }

    @Test("one request with leads[update] then leads[status] for the same lead keeps body order")
    func mixedUpdateAndStatus() throws {
        let hook = try parseWebhookFixture("webhook-mixed-update-and-status.txt")
        #expect(hook.account == webhookAcmeAccount)
        let common = LeadEvent(
            action: .update, id: 24_000_017, name: "ACME Retail - annual plan", statusID: 61_000_005,
            pipelineID: 7_654_321, oldStatusID: 61_000_004, price: 12_500, responsibleUserID: 9_000_001,
            createdUserID: 9_000_001, modifiedUserID: 9_000_001, accountID: 31_234_567,
            lastModified: webhookDate(1_768_650_000), dateCreate: webhookDate(1_767_780_000), createdAt: webhookDate(1_767_780_000),
            updatedAt: webhookDate(1_768_650_000)
        )
        var status = common
        status.action = .status
        #expect(hook.events == [.lead(common), .lead(status)])
        #expect(hook.events.map(\.action) == [.update, .status])
    }

    @Test("leads[note]: a text note with the attachement spelling, a string date and JSON metadata")
    func noteAdded() throws {
        let hook = try parseWebhookFixture("webhook-lead-note-added.txt")
        #expect(hook.account == webhookAcmeAccount)
        let note = try #require(hook.events.first?.note)
        #expect(hook.events.count == 1)
        #expect(note.section == .leads)
        #expect(note.entityType == nil)
        #expect(note.id == 91_000_012)
        #expect(note.text == "Called back, sending revised quote tomorrow")
        #expect(note.attachment == "")
        #expect(note.dateCreate == "2026-01-14 12:05:00")
        #expect(note.timestampX == nil)
        #expect(note.noteType == 4)
        #expect(note.elementType == 2)
        #expect(note.elementID == 24_000_017)
        #expect(note.accountID == 31_234_567)
        #expect(note.metadata == #"{"event_source":{"id":9000001,"author_name":"Maria Lopez","type":1}}"#)
        #expect(note.createdBy == 9_000_001)
        #expect(note.modifiedBy == 9_000_001)
        #expect(note.mainUserID == 9_000_001)
        #expect(note.createdAt == webhookDate(1_768_392_300))
        #expect(note.updatedAt == webhookDate(1_768_392_300))
        #expect(hook.events.first?.action == .note)
        #expect(hook.events.first?.entityID == 91_000_012)
    }

    @Test("Cyrillic, emoji, reserved characters and all three custom-field value shapes decode exactly")
    func unicodeCustomFields() throws {
        let hook = try parseWebhookFixture("webhook-lead-update-unicode-custom-fields.txt")
        #expect(hook.account == webhookAcmeAccount)
        let lead = try #require(hook.events.first?.lead)
        #expect(hook.events.count == 1)
        #expect(lead.action == .update)
        #expect(lead.id == 24_000_050)
        #expect(lead.name == "Поставка оборудования — ООО «Ромашка» 🚀")
        #expect(lead.statusID == 61_000_003)
        #expect(lead.pipelineID == 7_654_321)
        #expect(lead.price == 250_000)
        #expect(lead.responsibleUserID == 9_000_002)
        #expect(lead.modifiedUserID == 9_000_002)
        #expect(lead.createdUserID == 9_000_002)
        #expect(lead.accountID == 31_234_567)
        #expect(lead.lastModified == webhookDate(1_768_822_800))
        #expect(lead.dateCreate == webhookDate(1_768_300_000))
        #expect(lead.createdAt == webhookDate(1_768_300_000))
        #expect(lead.updatedAt == webhookDate(1_768_822_800))
        #expect(lead.tags == [WebhookTag(id: 51_007, name: "повторный клиент"), WebhookTag(id: 51_008, name: "VIP ⭐")])
        #expect(lead.customFields == [
            WebhookCustomField(id: 1_100_020, name: "Комментарий", values: [
                WebhookCustomFieldValue(value: "Клиент просит скидку 10% & доставку до 15.02 🙏 (a=b+c)"),
            ]),
            WebhookCustomField(id: 1_100_021, name: "Источник",
                               values: [WebhookCustomFieldValue(value: "Сайт", enumID: 5_500_031)]),
            WebhookCustomField(id: 1_100_022, name: "Интересы", values: [
                WebhookCustomFieldValue(value: "Монтаж", enumID: 5_500_041),
                WebhookCustomFieldValue(value: "Сервис 24/7", enumID: 5_500_043),
            ]),
            WebhookCustomField(id: 1_100_023, name: "Дата поставки", values: [WebhookCustomFieldValue(value: "1771200000")]),
            WebhookCustomField(id: 1_100_024, name: "Нужен договор", values: [WebhookCustomFieldValue(value: "1")]),
            WebhookCustomField(id: 1_100_025, name: "Ссылка на ТЗ",
                               values: [WebhookCustomFieldValue(value: "https://example.com/тз/v2?lang=ru&x=1")]),
            WebhookCustomField(id: 1_100_026, name: "Приоритет",
                               values: [WebhookCustomFieldValue(value: "Высокий", enumID: 5_500_052)]),
        ])
    }
}
