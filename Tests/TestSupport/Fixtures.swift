import Foundation

/// The sample Kommo webhook bodies and API responses (copied from the project's shared fixtures).
public enum Fixtures {
    /// The error thrown when a fixture file is missing.
    public struct Missing: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "fixture not found: \(name)" }
    }

    /// The bytes of the Kommo fixture `name` (for example `"webhook-lead-status-won.txt"`).
    public static func kommo(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources/kommo") else {
            throw Missing(name: name)
        }
        return try Data(contentsOf: url)
    }

    /// The names of every Kommo fixture, sorted.
    public static func kommoNames() throws -> [String] {
        guard let url = Bundle.module.url(forResource: "kommo", withExtension: nil, subdirectory: "Resources") else {
            throw Missing(name: "kommo")
        }
        return try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }
}
