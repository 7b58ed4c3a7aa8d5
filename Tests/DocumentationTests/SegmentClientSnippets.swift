// The ```swift blocks of Documentation/SegmentClient.md, compiled. GuideSnippetTests checks that each block appears
// here verbatim: edit both together.

import Foundation
import SegmentAPI

/// Stands for the service's logging of a failed delivery.
private func log(_ error: SegmentError, _ count: Int) {}

/// The opening example: a queue, its run(), one event's calls and the shutdown.
private func snippet1(writeKeyFromYourSecretStore: String) async throws {
    let queue = SegmentQueue(
        client: SegmentClientConfiguration(writeKey: SegmentWriteKey(writeKeyFromYourSecretStore), endpoint: .eu),
        onDelivery: { event in
            if case .failed(let messages, let error) = event { log(error, messages.count) }   // nothing is lost silently
        })

    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await queue.run() }  // delivers while it runs: for as long as the queue is used
        let ticket = try await queue.enqueue([   // the calls of one event, queued together: all or none
            .identify(userID: "olivia@example.com", traits: ["plan": "Business", "mrr": 4800]),
            .track("Deal Won", userID: "olivia@example.com", properties: ["amount": 4800]),
        ])
        print(try await ticket.outcome())        // .delivered (within the 5 s flush interval), or .failed(error)
        let report = await queue.shutdown()      // at process exit: drains, then run() returns
        print(report.undelivered.count, "messages not delivered")
        try await group.waitForAll()
    }
}
