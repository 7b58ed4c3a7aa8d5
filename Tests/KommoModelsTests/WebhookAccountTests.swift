import Foundation
import JSONCore
import KommoModels
import Testing

@Suite("Kommo webhook accounts and entity fields", .timeLimit(.minutes(1)))
struct WebhookAccountTests {
    private let known = [
        KommoWebhookParser.KnownAccount(id: 31_234_567, host: "ACME.kommo.com"),
        KommoWebhookParser.KnownAccount(id: 40_000_001, host: "globex.amocrm.ru"),
    ]

    private func parse(_ body: String, known: [KommoWebhookParser.KnownAccount] = []) throws(KommoWebhookError)
        -> KommoWebhook {
        try KommoWebhookParser(knownAccounts: known).parse(body: Data(body.utf8), contentType: webhookContentType)
    }

    private func error(_ body: String, known: [KommoWebhookParser.KnownAccount] = []) -> KommoWebhookError? {
        do {
            _ = try parse(body, known: known)
            return nil
        } catch {
            return error
        }
    }

    @Test("account[id] comes first, even when a known account matches the subdomain")
    func accountBlockFirst() throws {
        let hook = try parse("account[subdomain]=globex&account[id]=7&leads[status][0][id]=1", known: known)
        #expect(hook.account == KommoWebhookAccount(id: 7, subdomain: "globex", idSource: .accountBlock))
    }

    @Test("an older amoCRM body without account[id] is attributed by its items' account_id")
    func itemsAccountID() throws {
        let body = "account[subdomain]=acme&leads[status][0][id]=1&leads[status][0][account_id]=31234567"
            + "&contacts[update][0][id]=2&contacts[update][0][account_id]=31234567"
            + "&leads[note][0][note][id]=3&leads[note][0][note][account_id]=31234567&leads[status][1][id]=4"
        let hook = try parse(body)
        #expect(hook.account == KommoWebhookAccount(id: 31_234_567, subdomain: "acme", idSource: .items))
        #expect(hook.events.map(\.entityID) == [1, 4, 2, 3])
    }

    @Test("items that disagree on account_id, or carry a non-numeric one, make the body malformed")
    func itemsDisagree() throws {
        let conflict = try #require(error("account[subdomain]=acme&leads[status][0][id]=1&leads[status][0][account_id]=5"
            + "&leads[status][1][id]=2&leads[status][1][account_id]=6"))
        #expect(conflict.code == .conflictingAccountIDs)
        #expect(conflict.path?.hasSuffix("[account_id]") == true)
        let invalid = try #require(error("account[subdomain]=acme&leads[status][0][id]=1&leads[status][0][account_id]=x"))
        #expect(invalid.code == .invalidAccountID)
        #expect(invalid.path == "leads[status][0][account_id]")
    }

    @Test("with neither id, the subdomain is matched against the hosts of the accounts served", arguments: [
        ("account[subdomain]=acme&leads[status][0][id]=1", Int64(31_234_567)),
        ("account[subdomain]=GLOBEX&leads[status][0][id]=1", Int64(40_000_001)),
        // The host of account[_links][self] decides when it names a known host.
        ("account[subdomain]=acme&account[_links][self]=https%3A%2F%2Fglobex.amocrm.ru&leads[status][0][id]=1",
         Int64(40_000_001)),
    ])
    func subdomainMatch(body: String, id: Int64) throws {
        let hook = try parse(body, known: known)
        #expect(hook.account.id == id)
        #expect(hook.account.idSource == .subdomain)
    }

    @Test("a subdomain that matches no account, or several, and a body with no account at all are refused")
    func noAccount() throws {
        let unknown = try #require(error("account[subdomain]=initech&leads[status][0][id]=1", known: known))
        #expect(unknown.code == .missingAccountID)
        #expect(unknown.path == "account[subdomain]")
        #expect(unknown.detail.hasPrefix("no account was found"))
        let twice = known + [KommoWebhookParser.KnownAccount(id: 50_000_001, host: "acme.amocrm.com")]
        #expect(error("account[subdomain]=acme&leads[status][0][id]=1", known: twice)?.code == .ambiguousAccount)
        let nothing = try #require(error("leads[status][0][id]=1", known: known))
        #expect(nothing.code == .missingAccountID)
        #expect(nothing.detail.hasPrefix("no account was found"))
        // An id found, but no subdomain: still refused, as before.
        #expect(error("leads[status][0][id]=1&leads[status][0][account_id]=5")?.code == .missingAccountSubdomain)
    }

    @Test("contact and company items keep linked_company_id, company_name and every unknown field")
    func entityFields() throws {
        let body = webhookAccountPairs + "&contacts[add][0][id]=35000021&contacts[add][0][type]=contact"
            + "&contacts[add][0][linked_company_id]=36000005&contacts[add][0][company_name]=Northwind+Traders"
            + "&contacts[add][0][group_id]=0&contacts[add][0][extra][a]=1&contacts[add][0][extra][b][0]=x"
            + "&contacts[add][0][name]=Olivia"
        let entity = try #require(parse(body).events.first?.entity)
        #expect(entity.linkedCompanyID == 36_000_005)
        #expect(entity.companyName == "Northwind Traders")
        #expect(entity.name == "Olivia")
        #expect(entity.unknownFields == [
            "group_id": .string("0"),
            "extra": .object(["a": .string("1"), "b": .object(["0": .string("x")])]),
        ])
    }
}
