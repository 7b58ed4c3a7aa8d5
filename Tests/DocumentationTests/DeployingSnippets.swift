// The ```swift blocks of Documentation/Deploying.md, compiled, numbered in the guide's order. Blocks 2 to 5 and 9 use
// ServiceLifecycle, Vapor, Hummingbird or swift-log (marked `server-package`) and compile in the Server package
// instead. GuideSnippetTests checks that each block appears here verbatim: edit both together.

import Foundation
import KommoSegment

/// "The webhook route": the three things a route gives the pipeline, and the status it answers.
private func snippet1(pipeline: KommoSegmentPipeline, body: Data, contentType: String?,
                      target: String) async -> WebhookAcknowledgement {
    let acknowledgement = await pipeline.receive(body: body,                 // the raw request body, as bytes
                                                 contentType: contentType,   // the Content-Type header, as sent
                                                 requestTarget: target)      // the path and query (or the full URL)
    // respond with acknowledgement.httpStatus and an empty body
    return acknowledgement
}

/// "Regions and destinations", Segment EU.
private func snippet6(key: String) -> SegmentClientConfiguration {
    let segment = SegmentClientConfiguration(writeKey: SegmentWriteKey(key), endpoint: .eu)  // events.eu1.segmentapis.com
    return segment
}

/// Stands for the service's own error type, as the guide says.
private enum ConfigurationError: Error {
    case badURL
}

/// "Regions and destinations", RudderStack.
private func snippet7(rudderKey: String) throws -> SegmentClientConfiguration {
    guard let dataPlane = URL(string: "https://acme.dataplane.rudderstack.com") else { throw ConfigurationError.badURL }
    let endpoint = try SegmentEndpoint(origin: dataPlane)        // /v1/batch is appended
    let segment = SegmentClientConfiguration(writeKey: SegmentWriteKey(rudderKey), endpoint: endpoint)
    return segment
}

/// Stands for the service's logger (a swift-log `Logger` in a server).
private struct ServiceLogger {
    func error(_ message: String) {}
}

/// "Graceful shutdown".
private func snippet8(pipeline: KommoSegmentPipeline, logger: ServiceLogger) async {
    let undelivered = await pipeline.shutdown(timeout: .seconds(75))
    if !undelivered.isEmpty { logger.error("\(undelivered.count) Segment messages not delivered") }
}
