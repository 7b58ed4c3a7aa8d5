import Foundation
import JSONCore
import KommoModels
import SegmentModels

extension KommoEventMapper {
    /// Maps a lead that is won now, for a backfill: Segment learns about a customer who converted before the bridge
    /// was installed, so that audiences exclude them from the first day.
    ///
    /// - The `identify` of the main contact with the traits of a Deal Won, and the `group` of the company (when
    ///   ``MappingConfiguration/sendGroup`` is on), as a webhook's Deal Won would send them.
    /// - With `includeTrack`, the historical Deal Won `track` too, its `timestamp` the lead's `closed_at` and its
    ///   properties marked `"backfill": true`.
    ///
    /// Message ids use the change `backfill:<pipeline>:<status>` at the lead's `closed_at` (else `updated_at`), so a
    /// second backfill sends the same ids (`Documentation/MessageIDs.md`). A lead that is not in a won stage is
    /// skipped (``SkipReason/Code/notWon``).
    public func mapWonLead(_ lead: Lead, context: DealContext, includeTrack: Bool = false) -> MappingResult {
        guard configuration.isWon(statusID: lead.statusID) else {
            return .skipped(.notWon, "lead \(lead.id) is in stage \(lead.statusID), not a won stage")
        }
        var context = context
        context.lead = lead
        let person: Person
        switch resolvePerson(context: context, lead: lead) {
        case .success(let found): person = found
        case .failure(let reason): return MappingResult(skipped: [reason])
        }
        let closed = lead.closedAt ?? lead.updatedAt
        let seconds = Self.unixSeconds(closed)
        let event = LeadEvent(action: .status, id: lead.id, statusID: lead.statusID, pipelineID: lead.pipelineID,
                              updatedAt: closed)
        let draft = Draft(mapper: self, event: event, lead: lead, person: person, context: context,
                          change: .backfill(status: lead.statusID, pipeline: lead.pipelineID), eventSeconds: seconds)
        let group = draft.groupIdentity()
        let amount = draft.amount
        let plan = fieldValue(configuration.customFields.plan, of: lead)
        var result = MappingResult()
        result.messages.append(draft.identify(draft.wonTraits(group: group, plan: plan, amount: amount)))
        if includeTrack {
            if let eventName = configuration.eventName(for: .dealWon) {
                var track = draft.track(eventName, key: .dealWon, group: group, plan: plan, amount: amount)
                track.properties?["backfill"] = .bool(true)
                result.messages.append(track)
            } else {
                result.skipped.append(SkipReason(code: .eventDisabled, call: .track,
                                                 detail: "lead \(lead.id): dealWon is listed in disabledEvents"))
            }
        }
        draft.addGroup(group, plan: plan, amount: amount, to: &result)
        return result
    }
}

extension SkipReason.Code {
    /// A backfill found a lead that is not in a won stage (``KommoEventMapper/mapWonLead(_:context:includeTrack:)``).
    public static let notWon = SkipReason.Code(rawValue: "notWon")
}
