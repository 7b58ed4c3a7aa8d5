import Foundation
import JSONCore
import KommoModels
import SDKCore
import SegmentModels

/// Turns Kommo webhook items into Segment messages: a pure function of the item, the ``DealContext`` fetched for it
/// and the ``MappingConfiguration``.
///
/// No I/O, no clock, no randomness, and it never throws: the same input gives the same messages, byte for byte once
/// encoded, which is what makes golden tests and Segment's de-duplication by ``MessageIDRecipe`` ids work. Anything
/// not sent is explained by a ``SkipReason``. The rules (event table, properties, traits, identity, timestamps) are
/// in `Documentation/Mapping.md`.
///
/// ```swift
/// let mapper = KommoEventMapper(configuration: try MappingConfiguration.load(from: json))
/// let results = mapper.map(webhook) { event in contextFetchedFor(event) }
/// for result in results { try await queue.enqueue(result.messages) }   // one group per item; queue.run() delivers
/// ```
public struct KommoEventMapper: Sendable {
    /// The configuration: event names, won and lost stages, field maps, identity, integrations.
    public var configuration: MappingConfiguration
    /// The message id recipe (its namespace); the default is the project's.
    public var recipe: MessageIDRecipe
    /// Written as `context.integration` on every message, as Segment asks of partner-built sources; `nil` writes
    /// none.
    public var integration: SegmentLibraryInfo? {
        didSet { contextBase = Self.context(integration) }
    }
    /// The context every message starts from, built once for ``integration`` rather than per message.
    private var contextBase: JSONObject

    /// `context.integration` by default: `{"name": "kommo", "version": <the SDK's version>}`
    /// (``SDKInfo/version``, the one source of the version string).
    public static let defaultIntegration = SegmentLibraryInfo(name: "kommo", version: SDKInfo.version)

    /// A mapper.
    public init(configuration: MappingConfiguration = MappingConfiguration(),
                recipe: MessageIDRecipe = MessageIDRecipe(),
                integration: SegmentLibraryInfo? = KommoEventMapper.defaultIntegration) {
        self.configuration = configuration
        self.recipe = recipe
        self.integration = integration
        contextBase = Self.context(integration)
    }

    // MARK: - Entry points

    /// Maps every item of a webhook, in order, asking `context` for each item's fetched context.
    ///
    /// A message whose id an earlier item of the same webhook already produced is dropped and reported as
    /// ``SkipReason/Code/duplicateInWebhook``: a `status` item and an `update` item for the same lead,
    /// the same transition and the same time yield one set of calls.
    ///
    /// - Returns: one result per item of `webhook.events`, in the same order.
    public func map(_ webhook: KommoWebhook, context: (KommoWebhookEvent) -> DealContext) -> [MappingResult] {
        var seen: Set<String> = []
        var results: [MappingResult] = []
        results.reserveCapacity(webhook.events.count)
        for event in webhook.events {
            let mapped = map(event, context: context(event))
            var result = MappingResult(skipped: mapped.skipped)
            for message in mapped.messages {
                let id = message.messageID ?? ""
                if seen.insert(id).inserted {
                    result.messages.append(message)
                } else {
                    result.skipped.append(SkipReason(
                        code: .duplicateInWebhook, call: MessageIDRecipe.Call(rawValue: message.type.rawValue),
                        detail: "an earlier item of this webhook already produced message \(id)"))
                }
            }
            results.append(result)
        }
        return results
    }

    /// Maps one webhook item.
    public func map(_ event: KommoWebhookEvent, context: DealContext) -> MappingResult {
        switch event {
        case .lead(let lead):
            return mapLead(lead, context: context)
        case .contact(let contact):
            return mapContact(contact, context: context)
        case .company(let company):
            return .skipped(.unsupportedEvent,
                            "company \(company.id) \(company.action): company edits produce nothing; company traits "
                                + "are sent with a won deal's group call")
        case .note(let note):
            return .skipped(.noteItem, "note \(note.id) in \(note.section): notes never produce messages")
        case .unknown(let item):
            let action = item.action.map { "[\($0)]" } ?? ""
            return .skipped(.unknownSection, "section \(item.section)\(action) is not mapped")
        }
    }

    // MARK: - Lead events

    enum LeadChange {
        case stage(fromStatus: Int64?, fromPipeline: Int64?, toStatus: Int64, toPipeline: Int64)
        case owner(from: Int64?, to: Int64)
        case added, restored, deleted
        /// A deal found in a won stage by a backfill, not a change Kommo reported.
        case backfill(status: Int64, pipeline: Int64)

        var recipeChange: MessageIDRecipe.Change {
            switch self {
            case let .backfill(status, pipeline): .backfill(status: status, pipeline: pipeline)
            case let .stage(fromStatus, fromPipeline, toStatus, toPipeline):
                .stageChanged(fromStatus: fromStatus, fromPipeline: fromPipeline, toStatus: toStatus,
                              toPipeline: toPipeline)
            case let .owner(from, to): .ownerChanged(from: from, to: to)
            case .added: .added
            case .restored: .restored
            case .deleted: .deleted
            }
        }
    }

    func mapLead(_ event: LeadEvent, context: DealContext) -> MappingResult {
        var result = MappingResult()
        let changes = leadChanges(of: event, context: context, result: &result)
        guard !changes.isEmpty else { return unchangedLead(event, context: context, result: result) }
        for change in changes {
            mapLeadChange(change, of: event, context: context, into: &result)
        }
        return result
    }

    /// What changed in a lead item. It comes from the one derivation the deduplication key uses too; here the stage
    /// change also gets its pipelines filled in for the message ids (or a skip reason when it has none).
    func leadChanges(of event: LeadEvent, context: DealContext, result: inout MappingResult) -> [LeadChange] {
        var changes: [LeadChange] = []
        for change in KommoChange.changes(of: .lead(event), accountID: context.accountID) {
            switch change.kind {
            case .stage:
                if let stage = stageChange(event, context: context, result: &result) { changes.append(stage) }
            case let .owner(from, to): changes.append(.owner(from: from, to: to))
            case .added: changes.append(.added)
            case .restored: changes.append(.restored)
            case .deleted: changes.append(.deleted)
            case .updated, .untracked: break
            }
        }
        return changes
    }

    /// The result for a lead item with no change to map: why it produces nothing.
    func unchangedLead(_ event: LeadEvent, context: DealContext, result: MappingResult) -> MappingResult {
        switch event.action {
        case .status:
            var result = result
            if result.skipped.isEmpty { _ = stageChange(event, context: context, result: &result) }
            return result
        case .update:
            return .skipped(.noTrackedChange,
                            "lead \(event.id) update: neither the stage nor the owner changed")
        case .responsible:
            return .skipped(.noTrackedChange, "lead \(event.id) responsible: the owner did not change")
        default:
            return .skipped(.unsupportedEvent, "lead \(event.id) action \(event.action) is not mapped")
        }
    }

    /// Adds the messages of one change of a lead to `result`, or the reason it sends none.
    func mapLeadChange(_ change: LeadChange, of event: LeadEvent, context: DealContext,
                       into result: inout MappingResult) {
        let key = eventKey(for: change)
        guard let eventName = configuration.eventName(for: key) else {
            result.skipped.append(SkipReason(
                code: .eventDisabled,
                detail: "lead \(event.id): \(key) is listed in disabledEvents"))
            return
        }
        guard let lead = context.lead, lead.id == event.id else {
            if case .deleted = change {
                result.skipped.append(SkipReason(
                    code: .leadDeleted,
                    detail: "lead \(event.id) was deleted: the delete item has no time and the lead can no "
                        + "longer be read"))
            } else {
                result.skipped.append(SkipReason(
                    code: .leadNotFound,
                    detail: "lead \(event.id) was not found in Kommo (204 No Content, or not fetched)"))
            }
            return
        }
        let person: Person
        switch resolvePerson(context: context, lead: lead) {
        case .success(let found): person = found
        case .failure(let reason):
            result.skipped.append(reason)
            return
        }
        let seconds = Self.unixSeconds(event.eventTime ?? lead.updatedAt)
        let draft = Draft(mapper: self, event: event, lead: lead, person: person, context: context,
                          change: change, eventSeconds: seconds)
        draft.build(key: key, eventName: eventName, into: &result)
    }

    /// The stage change an item describes, with the old pipeline filled in (Documentation/MessageIDs.md, "Filling
    /// in a missing old pipeline"); `nil` (and a skip reason) when it describes none.
    func stageChange(_ event: LeadEvent, context: DealContext, result: inout MappingResult) -> LeadChange? {
        guard let fromStatus = event.oldStatusID else {
            result.skipped.append(SkipReason(code: .notAStageChange,
                                             detail: "lead \(event.id) \(event.action): no old_status_id"))
            return nil
        }
        guard event.isStageChange,
              let toStatus = event.statusID,
              let toPipeline = event.pipelineID ?? context.lead?.pipelineID else {
            result.skipped.append(SkipReason(
                code: .notAStageChange,
                detail: "lead \(event.id) \(event.action): the old and new stage are the same"))
            return nil
        }
        let fromPipeline = event.oldPipelineID
            ?? Self.pipeline(ofOldStatus: fromStatus, currentPipeline: toPipeline, pipelines: context.pipelines)
        return .stage(fromStatus: fromStatus, fromPipeline: fromPipeline, toStatus: toStatus, toPipeline: toPipeline)
    }

    /// Every stage but 142 and 143 belongs to one pipeline; 142 and 143 exist in all, so the deal's current
    /// pipeline is the best guess; an unknown stage gives `nil` (written `~` in the message id).
    static func pipeline(ofOldStatus status: Int64, currentPipeline: Int64, pipelines: [Pipeline]) -> Int64? {
        if status == Status.wonID || status == Status.lostID { return currentPipeline }
        for pipeline in pipelines where pipeline.statuses.contains(where: { $0.id == status }) {
            return pipeline.id
        }
        return nil
    }

    func eventKey(for change: LeadChange) -> MappingConfiguration.EventKey {
        switch change {
        case let .stage(_, _, toStatus, _):
            if configuration.isWon(statusID: toStatus) { return .dealWon }
            if configuration.isLost(statusID: toStatus) { return .dealLost }
            return .stageChanged
        case .owner: return .ownerChanged
        case .added: return .dealCreated
        case .restored: return .dealRestored
        case .deleted: return .dealDeleted
        case .backfill: return .dealWon
        }
    }

    // MARK: - Contact events

    func mapContact(_ event: EntityEvent, context: DealContext) -> MappingResult {
        let change: MessageIDRecipe.Change
        switch event.action {
        case .add: change = .added
        case .update: change = .updated
        case .restore: change = .restored
        default:
            return .skipped(.unsupportedEvent, "contact \(event.id) action \(event.action) is not mapped")
        }
        guard configuration.eventName(for: .contactUpdated) != nil else {
            return .skipped(.eventDisabled, "contact \(event.id): contactUpdated is listed in disabledEvents")
        }
        guard let contact = context.contact, contact.id == event.id else {
            return .skipped(.contactNotFound, "contact \(event.id) was not found in Kommo (or not fetched)")
        }
        let person: Person
        switch identity(of: contact, accountID: context.accountID) {
        case .success(let found): person = found
        case .failure(let reason): return MappingResult(skipped: [reason])
        }
        let seconds = Self.unixSeconds(event.eventTime ?? contact.updatedAt)
        var traits = mappedFields(configuration.contactFields, of: contact, omitMissing: true)
        traits.merge(personTraits(person)) { _, builtIn in builtIn }
        if let company = context.company {
            traits["company"] = ["id": .int(company.id), "name": Self.nonEmpty(company.name)]
        }
        let message = SegmentMessage.identify(
            userID: person.userID, traits: traits,
            messageID: recipe.messageID(accountID: context.accountID, entity: .contact, entityID: event.id,
                                        change: change, eventTime: seconds, call: .identify),
            timestamp: Date(timeIntervalSince1970: TimeInterval(seconds)), context: baseContext(),
            integrations: configuration.integrations)
        return MappingResult(messages: [message])
    }

    // MARK: - People

    enum Resolution {
        case success(Person)
        case failure(SkipReason)
    }

    struct Person {
        var userID: String
        var contact: Contact
        var email: String?
    }

    func resolvePerson(context: DealContext, lead: Lead) -> Resolution {
        guard let contact = context.contact else {
            if let mainID = lead.mainContactID {
                return .failure(SkipReason(code: .contactNotFound,
                                           detail: "lead \(lead.id): main contact \(mainID) was not fetched"))
            }
            return .failure(SkipReason(code: .noContact, detail: "lead \(lead.id) has no contact"))
        }
        return identity(of: contact, accountID: context.accountID)
    }

    func identity(of contact: Contact, accountID: Int64) -> Resolution {
        let email = contact.primaryEmail
        var byID: String { Self.contactUserID(accountID: accountID, contactID: contact.id) }
        switch configuration.identity.userID {
        case .contactID:
            return .success(Person(userID: byID, contact: contact, email: email))
        default:
            if let email { return .success(Person(userID: email, contact: contact, email: email)) }
            if configuration.identity.fallback == .contactID {
                return .success(Person(userID: byID, contact: contact, email: nil))
            }
            return .failure(SkipReason(
                code: .noEmail,
                detail: "contact \(contact.id) has no email and identity.fallback is \"skip\""))
        }
    }

    /// The `userId` of a person identified by Kommo contact id: `kommo:<account id>:contact:<contact id>`, for
    /// example `kommo:31234567:contact:35000021`. The account id keeps two Kommo accounts feeding one Segment
    /// workspace apart.
    public static func contactUserID(accountID: Int64, contactID: Int64) -> String {
        "kommo:\(accountID):contact:\(contactID)"
    }

    /// `email`, `name`, `first_name`, `last_name`, `phone` where known, and `kommo_contact_id`.
    func personTraits(_ person: Person) -> JSONObject {
        let contact = person.contact
        var traits: JSONObject = ["kommo_contact_id": .int(contact.id)]
        if let email = person.email { traits["email"] = .string(email) }
        if let name = Self.trimmed(contact.name) { traits["name"] = .string(name) }
        if let first = contact.firstName.flatMap(Self.trimmed) { traits["first_name"] = .string(first) }
        if let last = contact.lastName.flatMap(Self.trimmed) { traits["last_name"] = .string(last) }
        if let phone = contact.phones.first { traits["phone"] = .string(phone) }
        return traits
    }

    // MARK: - Shared helpers

    func baseContext() -> JSONObject { contextBase }

    private static func context(_ integration: SegmentLibraryInfo?) -> JSONObject {
        guard let integration else { return [:] }
        return ["integration": ["name": .string(integration.name), "version": .string(integration.version)]]
    }

    /// The configured field map applied to an entity's API custom fields, keyed by the configured names. A field
    /// the entity does not carry is `null`, or left out when `omitMissing`.
    func mappedFields(_ map: [Int64: String], of entity: some CustomFieldsCarrier,
                      omitMissing: Bool) -> JSONObject {
        var out: JSONObject = [:]
        for (fieldID, name) in map.sorted(by: { $0.key < $1.key }) {
            if let field = entity.customField(id: fieldID) {
                let value = CustomFieldJSON.value(of: field)
                if !(omitMissing && value == .null) { out[name] = value }
            } else if !omitMissing {
                out[name] = .null
            }
        }
        return out
    }

    func fieldValue(_ fieldID: Int64?, of entity: some CustomFieldsCarrier) -> JSONValue? {
        guard let fieldID, let field = entity.customField(id: fieldID) else { return nil }
        let value = CustomFieldJSON.value(of: field)
        return value == .null ? nil : value
    }

    static func unixSeconds(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        return seconds.isFinite ? Int64(exactly: seconds) ?? 0 : 0
    }

    static func trimmed(_ text: String) -> String? {
        let value = text.trimmingWhiteSpace()
        return value.isEmpty ? nil : value
    }

    static func nonEmpty(_ text: String?) -> JSONValue {
        text.flatMap(trimmed).map(JSONValue.string) ?? .null
    }

    static func userEmail(_ id: Int64?, in users: [Int64: User]) -> JSONValue {
        guard let id, let user = users[id], let email = user.email.flatMap(trimmed) else { return .null }
        return .string(email.lowercasedIfNeeded())
    }

    static func id(_ value: Int64?) -> JSONValue { value.map(JSONValue.int) ?? .null }
}
