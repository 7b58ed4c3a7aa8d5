import KommoSegment
import Logging

/// The SDK's ``LogSink`` over a swift-log `Logger`: each record becomes one log line at the same level, with the
/// record's metadata and its component (`pipeline`, `kommo`, `segment`) as the source.
///
/// The SDK's records never hold a secret or a value from a webhook body, so nothing here redacts.
///
/// ```swift
/// let pipeline = try KommoSegmentPipeline(accounts: accounts, log: SwiftLogSink(logger: logger))
/// ```
public struct SwiftLogSink: LogSink {
    /// The logger the records go to.
    public let logger: Logger

    /// A sink that writes to `logger`, at its level.
    public init(logger: Logger) { self.logger = logger }

    /// The logger's level, as the SDK spells it.
    public var minimumLevel: LogLevel { Self.level(logger.logLevel) }

    /// Writes one record.
    public func write(_ record: LogRecord) {
        logger.log(level: Self.level(record.level), "\(record.message)",
                   metadata: record.metadata.mapValues { .string($0) }, source: record.source)
    }

    /// The swift-log level of an SDK level (they correspond one to one).
    public static func level(_ level: LogLevel) -> Logger.Level {
        switch level {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }

    /// The SDK level of a swift-log level.
    public static func level(_ level: Logger.Level) -> LogLevel {
        LogLevel.allCases.first { Self.level($0) == level } ?? .info
    }
}
