// The ```swift blocks of Documentation/Reliability.md, compiled. GuideSnippetTests checks that each block appears
// here verbatim: edit both together.

import Foundation
import KommoSegment

/// "The inbox": a pipeline that keeps each webhook before its 200.
func makePipeline(account: KommoSegmentAccount) throws -> KommoSegmentPipeline {
    let inbox = try FileWebhookInbox(directory: URL(fileURLWithPath: "/var/lib/kommo-segment/inbox"))
    return try KommoSegmentPipeline(accounts: [account], inbox: inbox)
}
