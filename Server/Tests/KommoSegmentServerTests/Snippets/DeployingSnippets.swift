// The Hummingbird, ServiceLifecycle and swift-log snippets of Documentation/Deploying.md
// (those marked `<!-- snippet: server-package -->`), compiled here because the root package depends on none of
// these frameworks; GuideSnippetTests checks that each block still appears here verbatim. Edit both together.

import Foundation
import Hummingbird
import KommoSegment
import KommoSegmentHummingbird
import Logging
import ServiceLifecycle

/// Namespaced: the guide's types have the names of the library's ready-made ones.
enum DeployingGuide {
    /// The pipeline as a swift-service-lifecycle service.
    struct PipelineService: Service {
        let pipeline: KommoSegmentPipeline

        func run() async throws {
            try await withGracefulShutdownHandler {
                try await pipeline.run()
            } onGracefulShutdown: {
                // Runs on SIGTERM; run() returns when the drain is over.
                Task { _ = await pipeline.shutdown(timeout: .seconds(75)) }
            }
        }
    }

    func registerKommoWebhook(_ router: Router<BasicRequestContext>, pipeline: KommoSegmentPipeline) {
        router.post("kommo/webhook") { request, context async throws -> Response in
            let buffer = try await request.body.collect(upTo: 1_048_576)   // the parser's limit
            let acknowledgement = await pipeline.receive(body: Data(buffer.readableBytesView),
                                                         contentType: request.headers[.contentType],
                                                         requestTarget: request.uri.description)
            if !acknowledgement.isAccepted { context.logger.warning("Kommo webhook: \(acknowledgement)") }
            return Response(status: HTTPResponse.Status(code: acknowledgement.httpStatus))
        }
    }

    func makePipeline(accounts: [KommoSegmentAccount], logger: Logger) throws -> KommoSegmentPipeline {
        // One line per record, at the record's level, with its metadata; the component is the line's source.
        try KommoSegmentPipeline(accounts: accounts, log: SwiftLogSink(logger: logger))
    }
}
