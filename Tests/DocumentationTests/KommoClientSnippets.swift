// The ```swift blocks of Documentation/KommoClient.md, compiled. GuideSnippetTests checks that each block appears
// here verbatim: edit both together.

import Foundation
import KommoAPI
import KommoSegmentTesting

/// The opening example: leads, their contacts, a stage and a note.
private func snippet1(token: String) async throws -> (email: String?, stage: Status?) {
    let host = try KommoAccountHost(subdomain: "acme")                // https://acme.kommo.com
    let client = HTTPKommoClient(host: host, tokenProvider: LongLivedToken(token))

    let leads = try await client.leads(ids: [24000017, 24000031])      // with contacts and loss reason
    let contacts = try await client.contacts(ids: leads.compactMap(\.mainContactID))
    let email = contacts.first?.primaryEmail                           // WORK email, trimmed, lowercased
    let stage = try await client.status(id: leads[0].statusID, pipelineID: leads[0].pipelineID)
    try await client.addNote(.serviceMessage(leadID: 24000017, service: "Analytics", text: "Sent to Segment"))
    return (email, stage)
}

/// "Answering from fixtures": a client over a fixture directory.
private func snippet2() async throws -> [Lead] {
    let fixtures = try KommoFixtureTransport(directory: URL(fileURLWithPath: "fixtures/kommo-api"))
    let client = HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"),
                                 tokenProvider: LongLivedToken("any-token"), transport: fixtures)
    let leads = try await client.leads(ids: [24000017, 24000099])   // 24000099 has no file: left out
    print(fixtures.requestCountsByPath)                              // ["/api/v4/leads": 1]
    return leads
}
