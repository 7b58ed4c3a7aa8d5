import Foundation
import KommoSegmentPostgres
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL server the store tests use: `KOMMO_SEGMENT_TEST_DATABASE_URL`, which `.ci/run` sets after starting
/// one with `Server/Scripts/test-postgres.sh`. Without it the PostgreSQL suites are skipped (CI checks they ran).
let testDatabaseURL = ProcessInfo.processInfo.environment["KOMMO_SEGMENT_TEST_DATABASE_URL"]

/// Whether the PostgreSQL suites run.
let postgresAvailable = testDatabaseURL != nil

/// A logger that keeps quiet below warnings.
let quietLogger: Logger = {
    var logger = Logger(label: "postgres-test")
    logger.logLevel = .warning
    return logger
}()

/// Runs `body` while the `databases`' pools run, then stops them (a pool runs once).
@discardableResult
func whileRunning<T: Sendable>(_ databases: [KommoSegmentDatabase], _ body: () async throws -> T) async throws -> T {
    guard let first = databases.first else { return try await body() }
    return try await first.withRunningPool { try await whileRunning(Array(databases.dropFirst()), body) }
}

/// A new, empty database on the test server for one test (dropped afterwards), migrated, with `instances` pools on
/// it (as many "instances" of the service), all running while `body` runs.
func withTestDatabase<T: Sendable>(instances: Int = 1, _ body: ([KommoSegmentDatabase]) async throws -> T)
    async throws -> T {
    let base = try PostgresURL(try #require(testDatabaseURL))
    let name = "kst_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    let admin = KommoSegmentDatabase(url: base, maximumConnections: 2, logger: quietLogger)
    try await whileRunning([admin]) {
        try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: quietLogger)
    }
    var url = base
    url.database = name
    let databases = (0..<max(instances, 1)).map { _ in
        KommoSegmentDatabase(url: url, maximumConnections: 10, logger: quietLogger)
    }
    let result: Result<T, any Error>
    do {
        result = .success(try await whileRunning(databases) {
            try await databases[0].migrate()
            return try await body(databases)
        })
    } catch {
        result = .failure(error)
    }
    let dropper = KommoSegmentDatabase(url: base, maximumConnections: 1, logger: quietLogger)
    try await whileRunning([dropper]) {
        try await dropper.client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"),
                                       logger: quietLogger)
    }
    return try result.get()
}
