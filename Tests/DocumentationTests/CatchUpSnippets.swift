// The ```swift blocks of Documentation/CatchUp.md, compiled. GuideSnippetTests checks that each block appears here
// verbatim: edit both together.

import Foundation
import KommoSegment

func catchUpEveryTenMinutes(account: KommoSegmentAccount, checkpointFile: String) throws -> KommoSegmentPipeline {
    var configuration = KommoSegmentPipeline.Configuration()
    configuration.catchUp.interval = .seconds(600)     // off (nil) by default in the library
    configuration.catchUp.lookBack = .seconds(86_400)  // the first run, and the furthest back any run reads
    return try KommoSegmentPipeline(accounts: [account], configuration: configuration,
                                    checkpoints: FileCatchUpCheckpointStore(path: checkpointFile))
}

func catchUpLastDay(_ pipeline: KommoSegmentPipeline) async throws -> Bool {
    let request = CatchUpRequest(accountID: 31_234_567, since: Date().addingTimeInterval(-86_400))
    let report = try await pipeline.catchUp(request) { progress in
        _ = (progress.pages, progress.eventsRead, progress.eventsProcessed)   // for a progress line
    }
    // recovered: what the webhooks had missed; alreadyProcessed: what they had not.
    _ = (report.recovered, report.alreadyProcessed, report.skipped, report.checkpoint)
    return report.isComplete
}
