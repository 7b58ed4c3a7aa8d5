// The ```swift blocks of Documentation/GettingStarted.md, compiled, numbered in the guide's order. Block 1 (a
// `Package.swift` fragment, marked `manifest`) is checked against the manifest instead. GuideSnippetTests checks that
// each block appears here verbatim: edit both together.

import Foundation
import KommoSegment

/// "Embed the pipeline in your service": the account and the pipeline, built from the environment.
private func snippet2() async throws -> KommoSegmentPipeline {
    let environment = ProcessInfo.processInfo.environment
    struct MissingSetting: Error { let name: String }
    func required(_ name: String) throws -> String {
        guard let value = environment[name], !value.isEmpty else { throw MissingSetting(name: name) }
        return value
    }
    let account = KommoSegmentAccount.http(
        accountID: 31_234_567,                                          // account[id] in the webhooks
        host: try KommoAccountHost(subdomain: "acme"),                  // tokens go to https://acme.kommo.com only
        tokenProvider: LongLivedToken(try required("KOMMO_ACCESS_TOKEN")),
        segment: SegmentClientConfiguration(writeKey: SegmentWriteKey(try required("SEGMENT_WRITE_KEY"))),
        mapping: try MappingConfiguration.load(from: Data(contentsOf: URL(fileURLWithPath: "mapping.json"))),
        secret: WebhookSecret(try required("KOMMO_WEBHOOK_SECRET")))
    let pipeline = try KommoSegmentPipeline(accounts: [account])   // throws for an unusable configuration
    return pipeline
}

/// The POST route: what it answers Kommo with.
private func snippet3(pipeline: KommoSegmentPipeline, body: Data, contentTypeHeader: String?,
                      pathAndQuery: String) async -> WebhookAcknowledgement {
    let acknowledgement = await pipeline.receive(body: body, contentType: contentTypeHeader,
                                                 requestTarget: pathAndQuery)
    // answer acknowledgement.httpStatus now: 200 when accepted, 4xx/503 otherwise
    return acknowledgement
}
