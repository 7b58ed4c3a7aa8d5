/// How important a log record is: the levels of swift-log, so a bridge maps them one to one.
public enum LogLevel: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// Finest detail, for tracing a problem.
    case trace
    /// Routine detail, such as a webhook accepted or a retry wait.
    case debug
    /// A notable event in normal operation.
    case info
    /// A normal but significant condition, such as Kommo's rate limit reached.
    case notice
    /// Something was refused or degraded, such as a rejected webhook or a store that failed.
    case warning
    /// Work failed: an event that was not delivered.
    case error
    /// The service cannot go on.
    case critical

    /// Whether `lhs` is less severe than `rhs`.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The level's name, as swift-log spells it.
    public var description: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }
}

/// One log record: a fixed message and metadata. It never holds a secret or a value from a webhook body.
public struct LogRecord: Sendable, Hashable {
    /// The level.
    public var level: LogLevel
    /// A fixed message, e.g. `"event not delivered"`; the same for every record of its kind.
    public var message: String
    /// Details: account, item, lead id, event, message ids, error code and cause.
    public var metadata: [String: String]
    /// The component that wrote it: `pipeline`, `kommo` or `segment`.
    public var source: String

    /// Creates a record.
    public init(level: LogLevel, message: String, metadata: [String: String] = [:], source: String) {
        self.level = level
        self.message = message
        self.metadata = metadata
        self.source = source
    }
}

/// Where the SDK's log records go; the SDK is silent unless it is given one.
///
/// Records below ``minimumLevel`` are never built: their metadata is computed only for records that are written.
/// `Documentation/Deploying.md` shows a bridge to swift-log that maps the levels one to one.
public protocol LogSink: Sendable {
    /// The least severe level that is written.
    var minimumLevel: LogLevel { get }
    /// Writes one record; called from any task, so keep it short and thread-safe.
    func write(_ record: LogRecord)
}

/// A ``LogSink`` around a closure.
public struct ClosureLogSink: LogSink {
    /// The least severe level passed to the closure.
    public let minimumLevel: LogLevel
    private let body: @Sendable (LogRecord) -> Void

    /// A sink that hands every record at `minimumLevel` or above to `body`.
    public init(minimumLevel: LogLevel = .debug, _ body: @escaping @Sendable (LogRecord) -> Void) {
        self.minimumLevel = minimumLevel
        self.body = body
    }

    /// Hands the record to the closure.
    public func write(_ record: LogRecord) { body(record) }
}

/// The SDK's internal logger: one component's name and an optional sink; builds records lazily.
package struct SDKLogger: Sendable {
    package let sink: (any LogSink)?
    package let source: String

    package init(_ sink: (any LogSink)?, source: String) {
        self.sink = sink
        self.source = source
    }

    /// Writes a record if the sink wants `level`; `metadata` is evaluated only then.
    package func log(_ level: LogLevel, _ message: StaticString,
                     _ metadata: @autoclosure () -> [String: String] = [:]) {
        guard let sink, level >= sink.minimumLevel else { return }
        sink.write(LogRecord(level: level, message: message.description, metadata: metadata(), source: source))
    }

    /// The same sink for another component.
    package func named(_ source: String) -> SDKLogger { SDKLogger(sink, source: source) }
}
