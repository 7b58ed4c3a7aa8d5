// The ```swift blocks of Documentation/Mapping.md, compiled. GuideSnippetTests checks that each block appears here
// verbatim: edit both together.

import Foundation
import EventMapping

/// The opening example: one item, then a whole webhook. The parameters are what the guide's names stand for.
private func snippet1(configurationJSON: Data, event: KommoWebhookEvent, dealContext: DealContext,
                      webhook: KommoWebhook, contextFetchedFor: (KommoWebhookEvent) -> DealContext)
    throws -> (messages: [SegmentMessage], skipped: [SkipReason], results: [MappingResult]) {
    let mapper = KommoEventMapper(configuration: try MappingConfiguration.load(from: configurationJSON))

    // One item:
    let result = mapper.map(event, context: dealContext)
    let messages = result.messages   // [SegmentMessage], in order
    let skipped = result.skipped     // [SkipReason]: why anything was not sent

    // A whole webhook (removes the repeats of one change reported twice):
    let results = mapper.map(webhook) { event in contextFetchedFor(event) }
    return (messages, skipped, results)
}
