import Foundation
import JSONCore
import KommoModels
import SegmentModels

extension KommoEventMapper {
    /// The messages of one lead change: facts about the change come from the webhook item, facts about the deal's
    /// current state from the fetched lead.
    struct Draft {
        let mapper: KommoEventMapper
        let event: LeadEvent
        let lead: Lead
        let person: Person
        let context: DealContext
        let change: LeadChange
        let eventSeconds: Int64
        /// The change as the message-id recipe names it, made once for the two or three messages of a change.
        let recipeChange: MessageIDRecipe.Change

        init(mapper: KommoEventMapper, event: LeadEvent, lead: Lead, person: Person, context: DealContext,
             change: LeadChange, eventSeconds: Int64) {
            self.mapper = mapper
            self.event = event
            self.lead = lead
            self.person = person
            self.context = context
            self.change = change
            self.eventSeconds = eventSeconds
            recipeChange = change.recipeChange
        }

        var configuration: MappingConfiguration { mapper.configuration }

        /// The deal's company as a Segment group: its id and its name.
        typealias GroupIdentity = (id: String, name: JSONValue)

        func build(key: MappingConfiguration.EventKey, eventName: String, into result: inout MappingResult) {
            let group = groupIdentity()
            let amount = self.amount
            let plan = mapper.fieldValue(configuration.customFields.plan, of: lead)

            if key == .dealWon {
                result.messages.append(identify(wonTraits(group: group, plan: plan, amount: amount)))
            } else if key == .dealLost {
                var traits = configuration.lostTraits
                traits["kommo_deal_id"] = .int(lead.id)
                result.messages.append(identify(traits))
            }
            result.messages.append(track(eventName, key: key, group: group, plan: plan, amount: amount))
            if key == .dealWon {
                addGroup(group, plan: plan, amount: amount, to: &result)
            }
        }

        /// The person's traits when the deal is won: mapped contact fields, the built-in traits, the deal, its
        /// plan, source, company and amount, then the configured `wonTraits`.
        func wonTraits(group: GroupIdentity?, plan: JSONValue?, amount: JSONValue?) -> JSONObject {
            var traits = mapper.mappedFields(configuration.contactFields, of: person.contact, omitMissing: true)
            traits.merge(mapper.personTraits(person)) { _, builtIn in builtIn }
            traits["kommo_deal_id"] = .int(lead.id)
            if let plan { traits["plan"] = plan }
            if let source = mapper.fieldValue(configuration.customFields.source, of: lead) {
                traits["source"] = source
            }
            if let group {
                var company: JSONObject = ["name": group.name]
                if let companyID = context.company?.id { company["id"] = .int(companyID) }
                if let plan { company["plan"] = plan }
                traits["company"] = .object(company)
            }
            if let amount { traits["mrr"] = amount }
            traits.merge(configuration.wonTraits) { _, fixed in fixed }
            return traits
        }

        /// The change's track call: mapped lead fields under the built-in properties, the person's email and name
        /// as context traits, and the company as the context's group.
        func track(_ eventName: String, key: MappingConfiguration.EventKey, group: GroupIdentity?,
                   plan: JSONValue?, amount: JSONValue?) -> SegmentMessage {
            var properties = mapper.mappedFields(configuration.leadFields, of: lead, omitMissing: false)
            properties.merge(trackProperties(key: key, plan: plan, amount: amount)) { _, builtIn in builtIn }
            var trackContext = mapper.baseContext()
            var personTraits: JSONObject = [:]
            if let email = person.email { personTraits["email"] = .string(email) }
            if let name = KommoEventMapper.trimmed(person.contact.name) { personTraits["name"] = .string(name) }
            if !personTraits.isEmpty { trackContext["traits"] = .object(personTraits) }
            if let group { trackContext["groupId"] = .string(group.id) }
            return .track(
                eventName, userID: person.userID, properties: properties, messageID: messageID(.track),
                timestamp: timestamp, context: trackContext, integrations: configuration.integrations)
        }

        /// Adds a won deal's group call to `result`, or the reason it sends none.
        func addGroup(_ group: GroupIdentity?, plan: JSONValue?, amount: JSONValue?,
                      to result: inout MappingResult) {
            guard configuration.sendGroup else {
                result.skipped.append(SkipReason(code: .groupDisabled, call: .group,
                                                 detail: "lead \(lead.id): sendGroup is false"))
                return
            }
            guard let group else {
                result.skipped.append(SkipReason(
                    code: .noCompany, call: .group,
                    detail: "lead \(lead.id) has no company and the configured company field is empty"))
                return
            }
            var traits = context.company.map {
                mapper.mappedFields(configuration.companyFields, of: $0, omitMissing: true)
            } ?? [:]
            traits["name"] = group.name
            if let plan { traits["plan"] = plan }
            if let amount { traits["mrr"] = amount }
            result.messages.append(.group(
                group.id, userID: person.userID, traits: traits, messageID: messageID(.group),
                timestamp: timestamp, context: mapper.baseContext(), integrations: configuration.integrations))
        }

        var timestamp: Date { Date(timeIntervalSince1970: TimeInterval(eventSeconds)) }

        func messageID(_ call: MessageIDRecipe.Call) -> String {
            mapper.recipe.messageID(accountID: context.accountID, entity: .lead, entityID: event.id,
                                    change: recipeChange, eventTime: eventSeconds, call: call)
        }

        func identify(_ traits: JSONObject) -> SegmentMessage {
            .identify(userID: person.userID, traits: traits, messageID: messageID(.identify), timestamp: timestamp,
                      context: mapper.baseContext(), integrations: configuration.integrations)
        }

        /// The deal amount: the API's price (`price_with_minor_units` preferred), else the item's.
        var amount: JSONValue? {
            (lead.price ?? event.priceWithMinorUnits ?? event.price).map(JSONValue.init)
        }

        /// The company's group id and name: the linked company, else the configured company field's value.
        func groupIdentity() -> GroupIdentity? {
            if let company = context.company {
                return (String(company.id), KommoEventMapper.nonEmpty(company.name))
            }
            guard let field = configuration.customFields.company,
                  let text = lead.customField(id: field)?.firstText.flatMap(KommoEventMapper.trimmed) else {
                return nil
            }
            return (text, .string(text))
        }

        func trackProperties(key: MappingConfiguration.EventKey, plan: JSONValue?,
                             amount: JSONValue?) -> JSONObject {
            let pipelines = context.pipelines
            // Gathered as pairs and put in key order once, rather than inserted one by one.
            var properties: [(String, JSONValue)] = [
                ("deal_id", .int(lead.id)),
                ("deal_name", KommoEventMapper.nonEmpty(lead.name)),
                ("amount", amount ?? .null),
                ("currency", (configuration.currency ?? context.accountCurrency).map(JSONValue.string) ?? .null),
                ("owner_id", lead.responsibleUserID > 0 ? .int(lead.responsibleUserID) : .null),
                ("owner", KommoEventMapper.userEmail(lead.responsibleUserID, in: context.usersByID)),
            ]
            properties.reserveCapacity(16)
            switch change {
            case let .stage(fromStatus, fromPipeline, toStatus, toPipeline):
                properties.append(("pipeline_id", .int(toPipeline)))
                properties.append(("pipeline", Self.pipelineName(toPipeline, in: pipelines)))
                properties.append(("from_stage_id", KommoEventMapper.id(fromStatus)))
                properties.append(("from_stage", Self.stageName(fromStatus, pipeline: fromPipeline, in: pipelines)))
                properties.append(("to_stage_id", .int(toStatus)))
                properties.append(("to_stage", Self.stageName(toStatus, pipeline: toPipeline, in: pipelines)))
            default:
                let pipeline = lead.pipelineID
                let stage = lead.statusID
                properties.append(("pipeline_id", .int(pipeline)))
                properties.append(("pipeline", Self.pipelineName(pipeline, in: pipelines)))
                properties.append(("stage_id", .int(stage)))
                properties.append(("stage", Self.stageName(stage, pipeline: pipeline, in: pipelines)))
            }
            switch key {
            case .dealWon:
                // Left out when the lead has no plan: destinations that copy event properties to the profile would
                // read a null as "clear the plan". Only the lost deal's identify clears it, on purpose.
                if let plan { properties.append(("plan", plan)) }
                properties.append(("revenue", amount ?? .null))
            case .dealLost:
                properties.append(("loss_reason", lossReason))
            case .ownerChanged:
                if case let .owner(from, to) = change {
                    properties.append(("from_owner_id", KommoEventMapper.id(from)))
                    properties.append(("from_owner", KommoEventMapper.userEmail(from, in: context.usersByID)))
                    properties.append(("to_owner_id", .int(to)))
                    properties.append(("to_owner", KommoEventMapper.userEmail(to, in: context.usersByID)))
                }
            default:
                break
            }
            return JSONObject(consume properties)
        }

        /// Kommo's own loss reason (fetched, else embedded in the lead), else the configured loss reason field.
        var lossReason: JSONValue {
            if let name = (context.lossReason ?? lead.lossReason).flatMap({ KommoEventMapper.trimmed($0.name) }) {
                return .string(name)
            }
            return mapper.fieldValue(configuration.customFields.lossReason, of: lead) ?? .null
        }

        static func pipelineName(_ id: Int64, in pipelines: [Pipeline]) -> JSONValue {
            KommoEventMapper.nonEmpty(pipelines.first { $0.id == id }?.name)
        }

        static func stageName(_ status: Int64?, pipeline: Int64?, in pipelines: [Pipeline]) -> JSONValue {
            guard let status, let pipeline,
                  let found = pipelines.first(where: { $0.id == pipeline })?.statuses
                      .first(where: { $0.id == status }) else { return .null }
            return KommoEventMapper.nonEmpty(found.name)
        }
    }
}
