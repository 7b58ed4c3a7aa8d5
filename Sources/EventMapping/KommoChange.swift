import Foundation
import KommoModels

/// What changed in Kommo, as one webhook item reports it: the account, the entity and its id, the kind of change
/// (stage from→to with pipelines, owner from→to, or the action), and when it happened.
///
/// It is derived once, here, from the item alone, and both idempotency layers read it: the pipeline's
/// deduplication key comes from ``deduplicationChange``, and the mapper builds each message id from the same change
/// once the old pipeline is filled in from the fetched pipelines (`Documentation/MessageIDs.md`).
public struct KommoChange: Sendable, Hashable {
    /// The kind of change.
    public enum Kind: Sendable, Hashable {
        /// The stage changed. A webhook carries the old pipeline only sometimes, and the new one not always.
        case stage(fromStatus: Int64?, fromPipeline: Int64?, toStatus: Int64?, toPipeline: Int64?)
        /// The responsible user changed.
        case owner(from: Int64?, to: Int64)
        /// The entity was created.
        case added
        /// The entity was restored from the trash.
        case restored
        /// The entity was deleted.
        case deleted
        /// The entity's fields changed (contacts and companies).
        case updated
        /// The item reports nothing the mapping tracks; the payload is its action, e.g. `status` for a status item
        /// whose stage did not change.
        case untracked(String)
    }

    /// The Kommo account id.
    public var accountID: Int64
    /// The entity the change happened to.
    public var entity: MessageIDRecipe.Entity
    /// The entity's id.
    public var entityID: Int64
    /// The kind of change.
    public var kind: Kind
    /// When it happened, in Unix seconds; `nil` for items without a time (Digital Pipeline hooks, deletions).
    public var eventTime: Int64?

    /// Creates a change.
    public init(accountID: Int64, entity: MessageIDRecipe.Entity, entityID: Int64, kind: Kind, eventTime: Int64?) {
        self.accountID = accountID
        self.entity = entity
        self.entityID = entityID
        self.kind = kind
        self.eventTime = eventTime
    }

    /// The changes one webhook item reports, in order: an `update` item may report a stage and an owner change;
    /// every other item reports one change. Notes and unknown sections report none.
    public static func changes(of event: KommoWebhookEvent, accountID: Int64) -> [KommoChange] {
        switch event {
        case .lead(let lead):
            return leadKinds(lead).map {
                KommoChange(accountID: accountID, entity: .lead, entityID: lead.id, kind: $0,
                            eventTime: lead.eventTime.map(unixSeconds))
            }
        case .contact(let item), .company(let item):
            let entity = MessageIDRecipe.Entity(rawValue: item.entityType.rawValue)
            return [KommoChange(accountID: accountID, entity: entity, entityID: item.id,
                                kind: entityKind(item.action), eventTime: item.eventTime.map(unixSeconds))]
        case .note, .unknown:
            return []
        }
    }

    private static func leadKinds(_ lead: LeadEvent) -> [Kind] {
        let stage = Kind.stage(fromStatus: lead.oldStatusID, fromPipeline: lead.oldPipelineID,
                               toStatus: lead.statusID, toPipeline: lead.pipelineID)
        switch lead.action {
        case .status:
            return [lead.isStageChange ? stage : .untracked(lead.action.rawValue)]
        case .update:
            var kinds: [Kind] = []
            if lead.isStageChange { kinds.append(stage) }
            if lead.isOwnerChange, let owner = lead.responsibleUserID {
                kinds.append(.owner(from: lead.oldResponsibleUserID, to: owner))
            }
            return kinds.isEmpty ? [.untracked(lead.action.rawValue)] : kinds
        case .responsible:
            guard let owner = lead.responsibleUserID, lead.oldResponsibleUserID != owner else {
                return [.untracked(lead.action.rawValue)]
            }
            return [.owner(from: lead.oldResponsibleUserID, to: owner)]
        default:
            return [entityKind(lead.action)]
        }
    }

    private static func entityKind(_ action: KommoWebhookAction) -> Kind {
        switch action {
        case .add: .added
        case .restore: .restored
        case .delete: .deleted
        case .update: .updated
        default: .untracked(action.rawValue)
        }
    }

    /// The change as it enters a deduplication key: `stage:<old status>><new status>`, `owner:<old>><new>`, or the
    /// action (`add`, `update`, `status`...); `~` stands for a value the item does not carry.
    ///
    /// Pipelines are left out on purpose: a webhook carries them only sometimes, and they never tell two changes of
    /// one entity at one time apart, so the same change gives the same key whichever way it arrives.
    public var deduplicationChange: String {
        switch kind {
        case let .stage(fromStatus, _, toStatus, _):
            "stage:" + MessageIDRecipe.number(fromStatus) + ">" + MessageIDRecipe.number(toStatus)
        case let .owner(from, to):
            "owner:" + MessageIDRecipe.number(from) + ">" + String(to)
        case .added: "add"
        case .restored: "restore"
        case .deleted: "delete"
        case .updated: "update"
        case .untracked(let action): action
        }
    }

    static func unixSeconds(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        return seconds.isFinite ? Int64(exactly: seconds) ?? 0 : 0
    }
}
