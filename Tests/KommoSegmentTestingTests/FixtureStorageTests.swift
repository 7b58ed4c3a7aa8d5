import Foundation
import KommoSegmentTesting
import Testing

/// The sample data is stored once: the demo, the golden tests and users' tests all read these files.
@Suite("Sample data: one copy of each file", .timeLimit(.minutes(1)))
struct FixtureStorageTests {
    /// The bundled files themselves, by path below `Resources` (not the names ``Fixtures/kommo(_:)`` answers to).
    static func bundledFiles() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for (path, data) in try Fixtures.kommoAPIFiles() { files["kommo-api/" + path] = data }
        let samples = try Fixtures.kommoAPIDirectory().deletingLastPathComponent().appendingPathComponent("kommo")
        for name in try FileManager.default.contentsOfDirectory(atPath: samples.path) {
            files["kommo/" + name] = try Data(contentsOf: samples.appendingPathComponent(name))
        }
        return files
    }

    @Test("no two bundled fixture files have the same bytes")
    func noCopies() throws {
        var first: [Data: String] = [:]
        for (path, data) in try Self.bundledFiles().sorted(by: { $0.key < $1.key }) {
            if let original = first[data] {
                Issue.record("\(path) is a copy of \(original): keep one and read it through Fixtures")
            } else {
                first[data] = path
            }
        }
        #expect(first.count >= 35)
    }

    @Test("an entity sample is the directory's file for its id, and every listed name reads")
    func entitySamplesAreDirectoryFiles() throws {
        #expect(try Fixtures.kommo("api-contact.json") == Fixtures.kommoAPI("contacts/35000021.json"))
        #expect(try Fixtures.kommo("api-lead-with-contacts-companies.json") == Fixtures.kommoAPI("leads/24000017.json"))
        #expect(Fixtures.sampleAPIResponseNames.count == 14)
        for name in try Fixtures.kommoNames() { _ = try Fixtures.kommo(name) }
        #expect(throws: Fixtures.Missing.self) { try Fixtures.kommo("api-no-such-sample.json") }
    }
}
