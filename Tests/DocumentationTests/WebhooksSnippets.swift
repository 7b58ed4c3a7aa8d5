// The ```swift blocks of Documentation/Webhooks.md, compiled. GuideSnippetTests checks that each block appears here
// verbatim: edit both together.

import Foundation
import KommoAPI

/// Stands for the installation the webhook URL's secret belongs to.
private struct Installation {
    var accountID: Int64
}

/// Stands for the service's own queue of leads to process.
private func enqueue(_ leadID: Int64, at time: Date?) {}

/// The opening example: parse, check the account, pick the deals just won.
private func snippet1(body: Data, headers: [String: String], installation: Installation) throws {
    let parser = KommoWebhookParser()                       // default limits
    let hook = try parser.parse(body: body, contentType: headers["Content-Type"])
    guard hook.account.id == installation.accountID else { return }   // not ours
    for event in hook.events {
        switch event {
        case .lead(let lead) where lead.isStageChange && lead.isWon():   // just won
            enqueue(lead.id, at: lead.eventTime)
        case .lead, .contact, .company, .note, .unknown:
            break
        }
    }
}

/// An older amoCRM body, attributed by its subdomain.
private func snippet2() throws {
    let parser = KommoWebhookParser(knownAccounts: [.init(id: 31_234_567, host: "acme.kommo.com")])
    let older = try parser.parse(body: Data("account%5Bsubdomain%5D=acme&leads%5Bstatus%5D%5B0%5D%5Bid%5D=1".utf8),
                                 contentType: "application/x-www-form-urlencoded")
    print(older.account.id, older.account.idSource)   // 31234567 subdomain
}
