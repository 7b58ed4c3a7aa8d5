import Foundation
import SegmentModels

/// What ``KommoEventMapper`` made of one webhook item: the Segment messages to send, in order, and why anything
/// expected was not sent.
public struct MappingResult: Sendable, Hashable {
    /// The messages, in the order they should be enqueued (for a won deal: `identify`, `track`, `group`).
    public var messages: [SegmentMessage]
    /// Why the item (``SkipReason/call`` `nil`) or one of its calls produced no message. Empty when everything
    /// expected was sent.
    public var skipped: [SkipReason]

    /// A result.
    public init(messages: [SegmentMessage] = [], skipped: [SkipReason] = []) {
        self.messages = messages
        self.skipped = skipped
    }

    /// A result with no message and one reason.
    public static func skipped(_ code: SkipReason.Code, _ detail: String) -> MappingResult {
        MappingResult(skipped: [SkipReason(code: code, detail: detail)])
    }
}

/// Why the mapper sent nothing for a webhook item, or for one Segment call of it. Skipping is not an error: it is
/// the documented outcome for notes, deletes, disabled events and people without an email.
public struct SkipReason: Sendable, Hashable, CustomStringConvertible {
    /// The kind of skip: an open set, so new kinds do not break callers that switch over it.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name, as written in logs and golden files.
        public let rawValue: String
        /// A code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The event key is listed in `disabledEvents` (for example `dealDeleted`, disabled by default).
        public static let eventDisabled = Code(rawValue: "eventDisabled")
        /// The lead could not be read (Kommo answered `204 No Content`), or the fetched lead is another lead.
        public static let leadNotFound = Code(rawValue: "leadNotFound")
        /// A deleted lead: the delete item carries no time and the lead, with its contacts, can no longer be read.
        public static let leadDeleted = Code(rawValue: "leadDeleted")
        /// A stage item whose old and new stage (and pipeline) are equal, or that has no old stage.
        public static let notAStageChange = Code(rawValue: "notAStageChange")
        /// A lead item that changes nothing the mapping reports: an update without a stage or owner change, or a
        /// responsible item whose owner did not change.
        public static let noTrackedChange = Code(rawValue: "noTrackedChange")
        /// The lead has no contact, so there is no person to attribute the event to.
        public static let noContact = Code(rawValue: "noContact")
        /// The person (main contact, or the contact of a contact event) was not fetched.
        public static let contactNotFound = Code(rawValue: "contactNotFound")
        /// The person has no email, and the configured identity fallback is `skip`.
        public static let noEmail = Code(rawValue: "noEmail")
        /// A note item: notes never produce messages (the SDK's own notes would otherwise loop).
        public static let noteItem = Code(rawValue: "noteItem")
        /// A section the mapping does not handle (`task`, `unsorted`, `customers`...).
        public static let unknownSection = Code(rawValue: "unknownSection")
        /// A known section with an action or entity the mapping does not turn into messages (a company edit, a
        /// contact delete, a lead action Kommo may add later).
        public static let unsupportedEvent = Code(rawValue: "unsupportedEvent")
        /// A won deal's `group` call: no company is linked and the configured company field is empty.
        public static let noCompany = Code(rawValue: "noCompany")
        /// The `group` call of a won deal is switched off by `sendGroup: false`.
        public static let groupDisabled = Code(rawValue: "groupDisabled")
        /// The same message (same id) was already produced by an earlier item of the same webhook, as when Kommo
        /// reports one stage change as both a `status` and an `update` item.
        public static let duplicateInWebhook = Code(rawValue: "duplicateInWebhook")

        /// The raw value.
        public var description: String { rawValue }
    }

    /// The kind of skip.
    public var code: Code
    /// The Segment call that was not made, or `nil` when the whole item produced nothing.
    public var call: MessageIDRecipe.Call?
    /// A human-readable explanation naming the Kommo ids involved (never personal data such as emails).
    public var detail: String

    /// A skip reason.
    public init(code: Code, call: MessageIDRecipe.Call? = nil, detail: String) {
        self.code = code
        self.call = call
        self.detail = detail
    }

    /// `code` (and the call), then the detail.
    public var description: String {
        if let call { return "\(code) (\(call)): \(detail)" }
        return "\(code): \(detail)"
    }
}
