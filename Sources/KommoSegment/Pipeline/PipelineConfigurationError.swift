/// A pipeline configuration that cannot work, refused when the pipeline is built rather than answering every
/// webhook 401 later.
public struct PipelineConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case noAccounts, duplicateAccount, missingSecret, emptyWriteKey, emptyToken
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No account was given.
        public static let noAccounts = Code(.noAccounts)
        /// Two accounts have the same id.
        public static let duplicateAccount = Code(.duplicateAccount)
        /// An account has no webhook secret, or an empty one, while ``KommoSegmentPipeline/Configuration/requiresSecret``
        /// is on.
        public static let missingSecret = Code(.missingSecret)
        /// An account's Segment write key is empty.
        public static let emptyWriteKey = Code(.emptyWriteKey)
        /// An account's Kommo token is empty.
        public static let emptyToken = Code(.emptyToken)

        /// The code's stable name.
        public var description: String { base.rawValue }
    }

    /// What is wrong.
    public let code: Code
    /// The account concerned, when one is.
    public let accountID: Int64?

    /// Creates an error.
    public init(code: Code, accountID: Int64? = nil) {
        self.code = code
        self.accountID = accountID
    }

    /// What is wrong and what to do.
    public var description: String {
        let account = accountID.map { "account \($0)" } ?? "the pipeline"
        switch code {
        case .noAccounts: return "The pipeline was given no accounts: pass at least one KommoSegmentAccount."
        case .duplicateAccount:
            return "\(account) is configured twice: give each Kommo account id once."
        case .missingSecret:
            return "\(account) has no webhook secret: set one (the secret in the webhook URL), or turn "
                + "requiresSecret off only where the route is protected otherwise."
        case .emptyWriteKey: return "\(account) has an empty Segment write key: set the source's write key."
        case .emptyToken: return "\(account) has an empty Kommo access token: set the long-lived token."
        default: return "\(account): \(code)."
        }
    }
}
