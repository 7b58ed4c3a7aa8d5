// The ```swift blocks of Sources/KommoSegment/KommoSegment.docc/KommoSegment.md, compiled. GuideSnippetTests checks
// that each block appears here verbatim: edit both together.

import Foundation
import KommoSegment

/// The overview: an account, the pipeline, its route handler, and run() beside the server.
private func snippet1(kommoToken: String, writeKey: String, webhookSecret: String) async throws {
    let account = KommoSegmentAccount.http(
        accountID: 31_234_567, host: try KommoAccountHost(subdomain: "acme"),
        tokenProvider: LongLivedToken(kommoToken),
        segment: SegmentClientConfiguration(writeKey: SegmentWriteKey(writeKey), endpoint: .eu),
        secret: WebhookSecret(webhookSecret))
    let pipeline = try KommoSegmentPipeline(accounts: [account])   // throws for an unusable configuration

    // In the POST route Kommo calls: answer with the returned status at once.
    func kommoWebhook(body: Data, contentType: String?, pathAndQuery: String) async -> Int {
        await pipeline.receive(body: body, contentType: contentType, requestTarget: pathAndQuery).httpStatus
    }

    // Beside the web server, for as long as it serves:
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await pipeline.run() }   // fetches, maps and delivers what receive accepted
        // ... at exit: refuse new webhooks, finish those in flight, drain Segment; run() returns.
        _ = await pipeline.shutdown()                // returns the messages it could not deliver
        try await group.waitForAll()
    }
}
