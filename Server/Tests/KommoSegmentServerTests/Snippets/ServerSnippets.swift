// The Hummingbird, ServiceLifecycle and swift-log snippets of Documentation/Server.md
// (those marked `<!-- snippet: server-package -->`), compiled here because the root package depends on none of
// these frameworks; GuideSnippetTests checks that each block still appears here verbatim. Edit both together.

import Foundation
import Hummingbird
import KommoSegment
import KommoSegmentHummingbird
import Logging
import ServiceLifecycle

func serve(accounts: [KommoSegmentAccount], logger: Logger) async throws {
    let inbox = try FileWebhookInbox(directory: URL(fileURLWithPath: "./data/inbox"))
    let pipeline = try KommoSegmentPipeline(accounts: accounts, inbox: inbox, log: SwiftLogSink(logger: logger))
    let metrics = KommoSegmentMetrics()                   // the bootstrapped MetricsSystem's backend
    let router = Router()
    router.add(middleware: RequestLogMiddleware())        // paths only: the secret is in the query
    KommoWebhookRoute(pipeline: pipeline, metrics: metrics).register(on: router)
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8080)),
                          logger: logger)
    // The pipeline after the app: on SIGTERM it drains first while the app answers 503, then the app stops.
    let service = PipelineService(pipeline: pipeline, gracePeriod: .seconds(25), metrics: metrics, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [app, service],
                                                  gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}
