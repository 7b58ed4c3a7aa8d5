import Foundation

/// A sales pipeline with its stages (`GET /api/v4/leads/pipelines`).
public struct Pipeline: Codable, Sendable, Hashable {
    /// The pipeline's id.
    public var id: Int64
    /// The pipeline's name.
    public var name: String
    /// The position in the account's list.
    public var sort: Int
    /// Whether this is the account's main pipeline.
    public var isMain: Bool
    /// Whether the "unsorted" inbox stage is enabled.
    public var isUnsortedOn: Bool
    /// Whether the pipeline is archived.
    public var isArchive: Bool
    /// The account id.
    public var accountID: Int64
    /// The stages, as embedded by Kommo (`_embedded.statuses`), including the shared `142`/`143`.
    public var statuses: [Status]

    /// Creates a pipeline.
    public init(id: Int64, name: String, sort: Int = 0, isMain: Bool = false, isUnsortedOn: Bool = false,
                isArchive: Bool = false, accountID: Int64 = 0, statuses: [Status] = []) {
        self.id = id
        self.name = name
        self.sort = sort
        self.isMain = isMain
        self.isUnsortedOn = isUnsortedOn
        self.isArchive = isArchive
        self.accountID = accountID
        self.statuses = statuses
    }

    enum CodingKeys: String, CodingKey {
        case id, name, sort
        case isMain = "is_main"
        case isUnsortedOn = "is_unsorted_on"
        case isArchive = "is_archive"
        case accountID = "account_id"
        case embedded = "_embedded"
    }

    enum EmbeddedKeys: String, CodingKey { case statuses }

    /// Decodes a pipeline leniently; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        sort = c.entityInt(.sort) ?? 0
        isMain = c.entityBool(.isMain) ?? false
        isUnsortedOn = c.entityBool(.isUnsortedOn) ?? false
        isArchive = c.entityBool(.isArchive) ?? false
        accountID = c.entityID(.accountID) ?? 0
        if let embedded = try? c.nestedContainer(keyedBy: EmbeddedKeys.self, forKey: .embedded) {
            statuses = embedded.entityArray(Status.self, .statuses)
        } else {
            statuses = []
        }
    }

    /// Encodes the pipeline in the API's shape (stages under `_embedded.statuses`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(sort, forKey: .sort)
        try c.encode(isMain, forKey: .isMain)
        try c.encode(isUnsortedOn, forKey: .isUnsortedOn)
        try c.encode(isArchive, forKey: .isArchive)
        try c.encode(accountID, forKey: .accountID)
        var embedded = c.nestedContainer(keyedBy: EmbeddedKeys.self, forKey: .embedded)
        try embedded.encode(statuses, forKey: .statuses)
    }

    /// The stage with this id in this pipeline.
    public func status(id: Int64) -> Status? { statuses.first { $0.id == id } }
}

/// A stage of a pipeline (a lead "status").
///
/// Ids ``wonID`` (`142`) and ``lostID`` (`143`) exist in every pipeline, so a stage is identified by its id
/// together with ``pipelineID``.
public struct Status: Codable, Sendable, Hashable {
    /// The id every pipeline uses for its "closed - won" stage.
    public static let wonID: Int64 = 142
    /// The id every pipeline uses for its "closed - lost" stage.
    public static let lostID: Int64 = 143

    /// The stage's id.
    public var id: Int64
    /// The stage's name, for example "Decision making".
    public var name: String
    /// The position in the pipeline.
    public var sort: Int
    /// Kommo's stage type: `0` for a normal stage, `1` for the "unsorted" inbox stage.
    public var type: Int
    /// The stage's colour as a hex string.
    public var color: String?
    /// The pipeline this stage belongs to.
    public var pipelineID: Int64
    /// Whether users can edit the stage (the inbox, won and lost stages cannot be edited).
    public var isEditable: Bool
    /// The account id.
    public var accountID: Int64

    /// Creates a stage.
    public init(id: Int64, name: String, sort: Int = 0, type: Int = 0, color: String? = nil, pipelineID: Int64,
                isEditable: Bool = true, accountID: Int64 = 0) {
        self.id = id
        self.name = name
        self.sort = sort
        self.type = type
        self.color = color
        self.pipelineID = pipelineID
        self.isEditable = isEditable
        self.accountID = accountID
    }

    enum CodingKeys: String, CodingKey {
        case id, name, sort, type, color
        case pipelineID = "pipeline_id"
        case isEditable = "is_editable"
        case accountID = "account_id"
    }

    /// Decodes a stage leniently; only `id` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.requiredEntityID(.id)
        name = c.entityString(.name) ?? ""
        sort = c.entityInt(.sort) ?? 0
        type = c.entityInt(.type) ?? 0
        color = c.entityString(.color)
        pipelineID = c.entityID(.pipelineID) ?? 0
        isEditable = c.entityBool(.isEditable) ?? false
        accountID = c.entityID(.accountID) ?? 0
    }

    /// Encodes the stage in the API's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(sort, forKey: .sort)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(color, forKey: .color)
        try c.encode(pipelineID, forKey: .pipelineID)
        try c.encode(isEditable, forKey: .isEditable)
        try c.encode(accountID, forKey: .accountID)
    }

    /// Whether this is the shared "won" stage.
    public var isWon: Bool { id == Self.wonID }
    /// Whether this is the shared "lost" stage.
    public var isLost: Bool { id == Self.lostID }
}
