import Foundation
import KommoModels

/// What the pipeline fetched from Kommo for one webhook item: the input of ``KommoEventMapper`` besides the item.
///
/// The webhook item says *what changed* (the old and new stage, the old and new owner, when); the context says *what
/// the deal is now* (its name, amount, custom fields, main contact, company). The mapper trusts the context for the
/// deal's current state and the item for the change, because a webhook is only a hint: a forged or stale item can
/// trigger a read, but the values sent to Segment come from the API.
///
/// Everything is optional except the account id, so the mapper can say precisely what was missing
/// (``SkipReason/Code/leadNotFound``, ``SkipReason/Code/contactNotFound``...).
public struct DealContext: Sendable, Hashable {
    /// The Kommo account id (`account[id]` of the webhook). It enters every message id.
    public var accountID: Int64
    /// The lead as `GET /api/v4/leads/{id}?with=contacts,loss_reason` returned it; `nil` when Kommo answered
    /// `204 No Content` (the lead is gone). Required for every lead event.
    public var lead: Lead?
    /// The person: for a lead event the lead's main contact (`is_main`, else the first), fetched; for a contact
    /// event the contact itself, fetched. `nil` when the lead has no contact or it could not be read.
    public var contact: Contact?
    /// The lead's company (or, for a contact event, the contact's company), fetched; `nil` when there is none.
    public var company: Company?
    /// The account's pipelines with their stages (`GET /api/v4/leads/pipelines`, cached), for stage and pipeline
    /// names and to find the pipeline of an old stage. Empty: every name is `null`.
    public var pipelines: [Pipeline]
    /// Kommo users by id (`GET /api/v4/users`, cached), for the owners' emails. Reading users needs admin rights,
    /// so this may be empty: the owner emails are then `null`.
    public var usersByID: [Int64: User]
    /// The lead's loss reason (`GET /api/v4/leads/loss_reasons/{id}`), when fetched separately; the mapper also looks
    /// at the reason embedded in ``lead``.
    public var lossReason: LossReason?
    /// The Kommo account's currency (`GET /api/v4/account`, cached), used when the configuration names none.
    public var accountCurrency: String?

    /// A context; only the account id is required.
    public init(accountID: Int64, lead: Lead? = nil, contact: Contact? = nil, company: Company? = nil,
                pipelines: [Pipeline] = [], usersByID: [Int64: User] = [:], lossReason: LossReason? = nil,
                accountCurrency: String? = nil) {
        self.accountID = accountID
        self.lead = lead
        self.contact = contact
        self.company = company
        self.pipelines = pipelines
        self.usersByID = usersByID
        self.lossReason = lossReason
        self.accountCurrency = accountCurrency
    }

    /// A context whose ``usersByID`` is built from a list of users (the last one wins on a repeated id).
    public init(accountID: Int64, lead: Lead? = nil, contact: Contact? = nil, company: Company? = nil,
                pipelines: [Pipeline] = [], users: [User], lossReason: LossReason? = nil,
                accountCurrency: String? = nil) {
        var byID: [Int64: User] = [:]
        for user in users { byID[user.id] = user }
        self.init(accountID: accountID, lead: lead, contact: contact, company: company, pipelines: pipelines,
                  usersByID: byID, lossReason: lossReason, accountCurrency: accountCurrency)
    }
}
