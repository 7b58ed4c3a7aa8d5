import Foundation

/// A webhook request's body and the two request fields the pipeline reads, as its entry points take them.
public struct WebhookBody: Sendable, Hashable {
    /// The raw request body.
    public var body: Data
    /// The request's `Content-Type` header.
    public var contentType: String?
    /// The request's path and query (or full URL), where the secret is.
    public var requestTarget: String

    /// A body; by default a form body posted to `/` (a replay of a file, with no URL secret).
    public init(body: Data, contentType: String? = "application/x-www-form-urlencoded", requestTarget: String = "/") {
        self.body = body
        self.contentType = contentType
        self.requestTarget = requestTarget
    }
}

extension KommoSegmentPipeline {
    /// Processes many webhooks together to completion on the caller's task, the way ``run()`` processes a burst:
    /// what the tool's `replay` does with its files.
    ///
    /// - Kommo reads are shared: the first read of the burst waits (at most
    ///   ``Configuration/fetchGatherWindow``) until every webhook started has asked for its ids, and later reads
    ///   carry every id asked for while the rate limiter holds them, up to 250 per request.
    /// - The changes of one lead that are in flight together are applied in event-time order, so the messages do
    ///   not depend on the order of the bodies when they all fit in `maxConcurrency`.
    /// - Messages are batched across webhooks: the queue is flushed when the last webhook in flight has queued its
    ///   messages, not once per webhook. They are queued in the order of the bodies, whatever order the
    ///   processing finished in, so Segment (or a dry run's output) receives them in that order.
    ///
    /// ``run()`` must be running (it delivers the messages).
    /// - Parameters:
    ///   - maxConcurrency: at most this many webhooks in flight at once (at least 1). With 1 they are processed one
    ///     after another, in order, each flushed on its own, as ``process(body:contentType:requestTarget:)`` does.
    ///     Fewer are started when their bodies would pass ``Configuration/maxBytesInFlight`` together.
    ///   - next: the next body, or `nil` when there are no more; called on the caller's task whenever there is
    ///     room, so that bodies are read as they are needed.
    ///   - report: each webhook's position (from 0, in the order `next` gave them) and report, called on the
    ///     caller's task as each finishes, in the order they finish.
    public func process(maxConcurrency: Int = 64, next: () -> WebhookBody?,
                        report: (_ position: Int, _ report: WebhookReport) -> Void) async {
        await processTogether(maxConcurrency: maxConcurrency, next: next, bytes: { $0.body.count }, admit: {
            admit(body: $0.body, contentType: $0.contentType, requestTarget: $0.requestTarget)
        }, report: report)
    }

    /// The burst loop behind ``process(maxConcurrency:next:report:)`` and catch-up: sources are admitted as there
    /// is room (by count and by `bytes`), entered all together before any starts, processed, and reported.
    func processTogether<Source>(maxConcurrency: Int, next: () -> Source?, bytes: (Source) -> Int,
                                 admit: (Source) -> Admission,
                                 report: (_ position: Int, _ report: WebhookReport) -> Void) async {
        let limit = max(1, maxConcurrency)
        let processor = self.processor
        let state = self.state
        let order = QueueingOrder()
        await withTaskGroup(of: (Int, Int, WebhookReport).self) { group in
            var running = 0
            var runningBytes = 0
            var position = 0
            var held: Source?
            var exhausted = false
            while true {
                // Admit and enter every webhook that fits before starting any, so that the first one fetched
                // gathers for all of them.
                var started: [(position: Int, job: Job, entry: WebhookProcessor.Entry)] = []
                while !exhausted && running + started.count < limit {
                    guard let source = held ?? next() else {
                        exhausted = true
                        break
                    }
                    held = nil
                    if running + started.count > 0 && runningBytes + bytes(source) > configuration.maxBytesInFlight {
                        held = source
                        break
                    }
                    switch admit(source) {
                    case .rejected(let acknowledgement):
                        order.finish(position)
                        report(position, WebhookReport(acknowledgement: acknowledgement, events: [], notesWritten: 0,
                                                       noteError: nil))
                    case .accepted(let job):
                        let entry = processor.enter(job.webhook, runtime: job.runtime, prompt: true,
                                                    order: (order, position))
                        started.append((position, job, entry))
                        runningBytes += job.bytes
                    }
                    position += 1
                }
                for item in started {
                    group.addTask {
                        let result = await processor.process(item.job.webhook, runtime: item.job.runtime,
                                                             acknowledgement: item.job.acknowledgement,
                                                             entry: item.entry, origin: item.job.origin,
                                                             flushPromptly: { true })
                        state.end(bytes: item.job.bytes)
                        return (item.position, item.job.bytes, result)
                    }
                    running += 1
                }
                guard running > 0, let (finished, finishedBytes, result) = await group.next() else { break }
                running -= 1
                runningBytes -= finishedBytes
                report(finished, result)
            }
        }
    }
}
