// The ```swift blocks of README.md, compiled. GuideSnippetTests checks that each block appears here verbatim: edit
// both together.

import Foundation
import KommoSegment

/// "Embedding it": the pipeline built from the environment, its route handler, and run() beside the server.
private func snippet1() async throws {
    let environment = ProcessInfo.processInfo.environment
    struct MissingSetting: Error { let name: String }
    func required(_ name: String) throws -> String {
        guard let value = environment[name], !value.isEmpty else { throw MissingSetting(name: name) }
        return value
    }
    let host = try KommoAccountHost(subdomain: "acme")                       // https://acme.kommo.com
    let account = KommoSegmentAccount.http(
        accountID: 31_234_567, host: host,
        tokenProvider: LongLivedToken(try required("KOMMO_ACCESS_TOKEN")),
        segment: SegmentClientConfiguration(writeKey: SegmentWriteKey(try required("SEGMENT_WRITE_KEY")),
                                            endpoint: .us),
        secret: WebhookSecret(try required("KOMMO_WEBHOOK_SECRET")))
    let pipeline = try KommoSegmentPipeline(accounts: [account])   // throws for an unusable configuration

    // Called by your web framework's POST route; answer with the returned status at once.
    func kommoWebhook(body: Data, contentType: String?, pathAndQuery: String) async -> Int {
        let acknowledgement = await pipeline.receive(body: body, contentType: contentType, requestTarget: pathAndQuery)
        return acknowledgement.httpStatus   // 200; run() fetches, maps and delivers
    }

    // run() owns the background work; run it beside your server (a task group or a service group).
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await pipeline.run() }
        // ... serve until asked to stop, then refuse new webhooks, finish those in flight, drain Segment:
        _ = await pipeline.shutdown(timeout: .seconds(75))   // returns the messages it could not deliver
        try await group.waitForAll()
    }
}
