// The ```swift blocks of Sources/EventMapping/EventMapping.docc/EventMapping.md, compiled. GuideSnippetTests checks
// that each block appears here verbatim: edit both together.

import Foundation
import EventMapping

/// The overview: a mapper and one MappingResult per item of a webhook.
private func snippet1(json: Data, webhook: KommoWebhook,
                      contextFetchedFor: (KommoWebhookEvent) -> DealContext) throws -> [MappingResult] {
    let mapper = KommoEventMapper(configuration: try MappingConfiguration.load(from: json))
    let results = mapper.map(webhook) { event in contextFetchedFor(event) }   // one MappingResult per item
    return results
}
