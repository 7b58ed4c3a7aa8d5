import Foundation
import Hummingbird
import KommoSegment

/// The Kommo webhook route for a Hummingbird 2 router: `POST /kommo/webhook?secret=…` by default.
///
/// It refuses a body over the parser's limit with 413 before reading it whole (from `Content-Length`, and while
/// streaming a body sent without one), hands the body to
/// ``KommoSegmentPipeline/receive(body:contentType:requestTarget:)`` and answers with the acknowledgement's status and an empty body. It logs nothing itself (the pipeline's
/// ``LogSink`` logs rejections without the secret) and counts every answer in ``KommoSegmentMetrics``.
///
/// ```swift
/// let router = Router()
/// KommoWebhookRoute(pipeline: pipeline).register(on: router)
/// ```
public struct KommoWebhookRoute: Sendable {
    /// The pipeline the webhooks go to.
    public let pipeline: KommoSegmentPipeline
    /// The route's path; default `kommo/webhook`.
    public var path: String
    /// The largest body read; the pipeline parser's limit (1 MiB by default).
    public var maxBodyBytes: Int
    /// Where answers are counted; `nil` counts nothing.
    public var metrics: KommoSegmentMetrics?
    private let rotation: SecretRotation

    /// Creates the route.
    ///
    /// - Parameters:
    ///   - pipeline: the pipeline (one per process).
    ///   - path: the route's path.
    ///   - secrets: each account's accepted secrets, for a rotation (``WebhookSecrets``); without it only the
    ///     pipeline's own secret of each account is accepted.
    ///   - metrics: where answers are counted.
    public init(pipeline: KommoSegmentPipeline, path: String = "kommo/webhook", secrets: [WebhookSecrets] = [],
                metrics: KommoSegmentMetrics? = nil) {
        self.pipeline = pipeline
        self.path = path
        maxBodyBytes = pipeline.configuration.parserLimits.maxBodyBytes
        self.metrics = metrics
        var parameter = "secret"
        if case .queryParameter(let name) = pipeline.configuration.secretLocation { parameter = name }
        rotation = SecretRotation(accounts: secrets, parameter: parameter)
    }

    /// Adds `POST path` to `router`.
    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.post(RouterPath(path)) { request, context in
            await respond(to: request, context: context)
        }
    }

    /// Answers one webhook request.
    public func respond(to request: Request, context: some RequestContext) async -> Response {
        let start = ContinuousClock.now
        func answer(_ outcome: WebhookAcknowledgement.Outcome, _ status: Int) -> Response {
            metrics?.recordWebhook(outcome: outcome.rawValue, latency: ContinuousClock.now - start)
            return Response(status: HTTPResponse.Status(code: status))
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
            return answer(.tooLarge, 413)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return answer(.tooLarge, 413)
        } catch {
            return answer(.malformed, 400)
        }
        let acknowledgement = await pipeline.receive(body: Data(body.readableBytesView),
                                                     contentType: request.headers[.contentType],
                                                     requestTarget: rotation.canonical(request.uri.description))
        return answer(acknowledgement.outcome, acknowledgement.httpStatus)
    }
}
