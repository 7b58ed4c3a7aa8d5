import Foundation

/// One page of a Kommo list: its items, its number, and whether Kommo links a next page.
public struct KommoPage<Item: Sendable>: Sendable {
    /// The items, in Kommo's order.
    public var items: [Item]
    /// The page number, from 1.
    public var number: Int
    /// Whether the answer linked a next page (`_links.next`); `false` on the last page and on 204.
    public var hasNext: Bool

    /// A page.
    public init(items: [Item], number: Int, hasNext: Bool) {
        self.items = items
        self.number = number
        self.hasNext = hasNext
    }
}

extension KommoPage: Equatable where Item: Equatable {}
extension KommoPage: Hashable where Item: Hashable {}

/// What to read from Kommo's events log (`GET /api/v4/events`): the types, the entity type and a window of
/// `created_at`.
///
/// ```swift
/// let query = KommoEventQuery(createdFrom: 1768867200, createdTo: 1768953599)   // lead changes of one day
/// var page = try await client.events(query, page: 1)
/// ```
public struct KommoEventQuery: Sendable, Hashable {
    /// The event types (`filter[type][]`); empty reads every type. Default: the lead changes a catch-up reads.
    public var types: [KommoEvent.EventType]
    /// The entity types (`filter[entity][]`, singular names such as `lead`); empty reads every entity. Default:
    /// `["lead"]`.
    public var entityTypes: [String]
    /// The earliest `created_at`, Unix seconds, inclusive (`filter[created_at][from]`).
    public var createdFrom: Int64?
    /// The latest `created_at`, Unix seconds, inclusive (`filter[created_at][to]`).
    public var createdTo: Int64?
    /// Events per page (clamped to 1...100, Kommo's maximum). Default: 100.
    public var limit: Int

    /// A query.
    public init(types: [KommoEvent.EventType] = KommoEvent.EventType.leadChanges, entityTypes: [String] = ["lead"],
                createdFrom: Int64? = nil, createdTo: Int64? = nil, limit: Int = 100) {
        self.types = types
        self.entityTypes = entityTypes
        self.createdFrom = createdFrom
        self.createdTo = createdTo
        self.limit = limit
    }

    /// The query parameters of page `page`, in Kommo's bracket syntax (not yet percent-encoded).
    public func parameters(page: Int) -> [(String, String)] {
        var items: [(String, String)] = types.map { ("filter[type][]", $0.rawValue) }
        items += entityTypes.map { ("filter[entity][]", $0) }
        if let createdFrom { items.append(("filter[created_at][from]", String(createdFrom))) }
        if let createdTo { items.append(("filter[created_at][to]", String(createdTo))) }
        items.append(("limit", String(min(max(limit, 1), 100))))
        items.append(("page", String(max(page, 1))))
        return items
    }
}

/// Which leads to list (`GET /api/v4/leads` without ids): by stage and by close time.
///
/// ```swift
/// // Every won lead of two pipelines, closed since 1 January 2026.
/// let query = KommoLeadQuery(statuses: [.init(pipelineID: 7654321, statusID: 142),
///                                       .init(pipelineID: 7654400, statusID: 142)],
///                            closedFrom: 1767225600)
/// ```
public struct KommoLeadQuery: Sendable, Hashable {
    /// One stage of one pipeline (`filter[statuses][i][pipeline_id]` and `[status_id]`).
    public struct StageFilter: Sendable, Hashable {
        /// The pipeline.
        public var pipelineID: Int64
        /// The stage; 142 (won) and 143 (lost) exist in every pipeline.
        public var statusID: Int64
        /// A stage of a pipeline.
        public init(pipelineID: Int64, statusID: Int64) {
            self.pipelineID = pipelineID
            self.statusID = statusID
        }
    }

    /// The stages a lead may be in; empty lists leads of every stage.
    public var statuses: [StageFilter]
    /// The earliest `closed_at`, Unix seconds, inclusive (`filter[closed_at][from]`).
    public var closedFrom: Int64?
    /// The latest `closed_at`, Unix seconds, inclusive (`filter[closed_at][to]`).
    public var closedTo: Int64?
    /// Leads per page (clamped to 1...250). Default: 250, Kommo's maximum.
    public var limit: Int

    /// A query.
    public init(statuses: [StageFilter] = [], closedFrom: Int64? = nil, closedTo: Int64? = nil, limit: Int = 250) {
        self.statuses = statuses
        self.closedFrom = closedFrom
        self.closedTo = closedTo
        self.limit = limit
    }

    /// The query parameters of page `page`, contacts and loss reason embedded (not yet percent-encoded).
    public func parameters(page: Int) -> [(String, String)] {
        var items: [(String, String)] = []
        for (index, stage) in statuses.enumerated() {
            items.append(("filter[statuses][\(index)][pipeline_id]", String(stage.pipelineID)))
            items.append(("filter[statuses][\(index)][status_id]", String(stage.statusID)))
        }
        if let closedFrom { items.append(("filter[closed_at][from]", String(closedFrom))) }
        if let closedTo { items.append(("filter[closed_at][to]", String(closedTo))) }
        items.append(("with", "contacts,loss_reason"))
        items.append(("limit", String(min(max(limit, 1), 250))))
        items.append(("page", String(max(page, 1))))
        return items
    }
}
