import Foundation
import JSONCore

/// The bundled sample data: Kommo webhook bodies, Kommo API responses, and a complete Kommo API fixture
/// directory for ``KommoAPIFake`` and ``KommoFixtureTransport``.
///
/// The data is fictitious (account `acme`, id 31234567; see `Resources/kommo/README.md`).
public enum Fixtures {
    /// The error thrown when a fixture file is missing.
    public struct Missing: Error, Sendable, CustomStringConvertible {
        /// The name that was looked up.
        public var name: String
        /// Which fixture is missing.
        public var description: String { "fixture not found: \(name)" }
    }

    /// The sample API responses that are also entity files of ``kommoAPIDirectory()``: each is stored once, in that
    /// directory, and ``kommo(_:)`` reads it under both names.
    static let apiResponsesInDirectory: [String: String] = [
        "api-account.json": "account.json",
        "api-company.json": "companies/36000005.json",
        "api-contact.json": "contacts/35000021.json",
        "api-lead-lost-with-loss-reason.json": "leads/24000031.json",
        "api-lead-with-contacts-companies.json": "leads/24000017.json",
        "api-pipelines.json": "pipelines.json",
        "api-user.json": "users/9000001.json",
    ]

    /// The bytes of the Kommo fixture `name` (for example `"webhook-lead-status-won.txt"`).
    ///
    /// The entity samples (`api-lead-with-contacts-companies.json`, `api-contact.json`, `api-company.json`,
    /// `api-lead-lost-with-loss-reason.json`, `api-user.json`, `api-pipelines.json`, `api-account.json`) are the
    /// files of ``kommoAPIDirectory()`` for the same ids: `api-contact.json` is `contacts/35000021.json`.
    public static func kommo(_ name: String) throws -> Data {
        if let path = apiResponsesInDirectory[name] { return try kommoAPI(path) }
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources/kommo") else {
            throw Missing(name: name)
        }
        return try Data(contentsOf: url)
    }

    /// The names of every Kommo fixture that ``kommo(_:)`` reads, sorted.
    public static func kommoNames() throws -> [String] {
        guard let url = Bundle.module.url(forResource: "kommo", withExtension: nil, subdirectory: "Resources") else {
            throw Missing(name: "kommo")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: url.path)
        return Set(files).union(apiResponsesInDirectory.keys).sorted()
    }

    /// The file names of every sample webhook body (`webhook-*.txt`), sorted; empty if the bundle lacks them.
    public static var sampleWebhookNames: [String] {
        ((try? kommoNames()) ?? []).filter { $0.hasPrefix("webhook-") && $0.hasSuffix(".txt") }
    }

    /// The file names of every sample API response (`api-*.json`), sorted; empty if the bundle lacks them.
    public static var sampleAPIResponseNames: [String] {
        ((try? kommoNames()) ?? []).filter { $0.hasPrefix("api-") && $0.hasSuffix(".json") }
    }

    /// The raw body of the sample webhook `name`, with or without the `webhook-` prefix and `.txt` suffix
    /// (`"lead-status-won"` and `"webhook-lead-status-won.txt"` name the same file).
    public static func webhook(_ name: String) throws -> Data {
        var file = name
        if !file.hasPrefix("webhook-") { file = "webhook-" + file }
        if !file.hasSuffix(".txt") { file += ".txt" }
        return try kommo(file)
    }

    /// The Kommo fixture `name` decoded as JSON.
    public static func json(_ name: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: kommo(name))
    }

    /// The directory of complete Kommo API fixtures in the ``KommoFixtureTransport`` layout (`leads/<id>.json`,
    /// `contacts/<id>.json`, `companies/<id>.json`, `users/<id>.json`, `pipelines.json`, `loss_reasons.json`,
    /// `account.json`): every id that a sample webhook names has a file, except lead 24000099, which is deleted.
    public static func kommoAPIDirectory() throws -> URL {
        guard let url = Bundle.module.url(forResource: "kommo-api", withExtension: nil, subdirectory: "Resources")
        else {
            throw Missing(name: "kommo-api")
        }
        return url
    }

    /// The files of ``kommoAPIDirectory()`` in memory, keyed by relative path (`leads/24000017.json`).
    public static func kommoAPIFiles() throws -> [String: Data] {
        let root = try kommoAPIDirectory()
        var files: [String: Data] = [:]
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw Missing(name: "kommo-api")
        }
        let rootPath = root.standardizedFileURL.path
        for case let url as URL in enumerator where url.pathExtension == "json" {
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(rootPath + "/") else { continue }
            files[String(path.dropFirst(rootPath.count + 1))] = try Data(contentsOf: url)
        }
        return files
    }

    /// The Kommo API fixture at `path` in ``kommoAPIDirectory()`` (for example `"leads/24000017.json"`).
    public static func kommoAPI(_ path: String) throws -> Data {
        let url = try kommoAPIDirectory().appendingPathComponent(path)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw Missing(name: path) }
        return data
    }
}
