import Foundation
import KommoAPI
import KommoSegmentTesting
import Testing

/// A fresh directory under the temporary directory, removed by the caller.
private func scratchDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-store-" + UUID().uuidString).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("File token store", .timeLimit(.minutes(1)))
struct FileTokenStoreTests {
    let pair = KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                              expiresAt: Date(timeIntervalSince1970: 1_767_225_600))

    @Test("a missing file is 'not authorized yet'; a saved pair loads back in a new store, owner-only")
    func roundTrip() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tokens.json"
        #expect(try await FileTokenStore(path: path).load() == nil)

        try await FileTokenStore(path: path).save(pair)
        #expect(try await FileTokenStore(path: path).load() == pair)
        #expect(try FileTokenStore.read(path: path) == pair)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        // Only the file itself is left: the temporary file was renamed over it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["tokens.json"])
        // The documented format.
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect((object as? [String: Any])?["expires_at"] as? Int == 1_767_225_600)
    }

    @Test("a second save replaces the pair whole")
    func replaces() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileTokenStore(path: directory + "/tokens.json")
        try await store.save(pair)
        let rotated = KommoTokenPair(accessToken: "at-2", refreshToken: "rt-2", expiresAt: Date(timeIntervalSince1970: 9))
        try await store.save(rotated)
        #expect(try await store.load() == rotated)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["tokens.json"])
    }

    @Test("a file that is not a pair, an unreadable file and a missing directory fail as tokenStoreFailed")
    func failures() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tokens.json"
        try Data("{\"access_token\": \"\(K.accessToken)\"}".utf8).write(to: URL(fileURLWithPath: path))
        let malformed = await #expect(throws: KommoAPIError.self) { _ = try await FileTokenStore(path: path).load() }
        #expect(malformed?.code == .tokenStoreFailed)
        // The file holds a token; the error never shows it.
        #expect(malformed.map { !"\($0)".contains(K.accessToken) } == true)

        // A directory in place of the file cannot be read as one.
        let notAFile = directory + "/sub"
        try FileManager.default.createDirectory(atPath: notAFile, withIntermediateDirectories: false)
        let unreadable = await #expect(throws: KommoAPIError.self) { _ = try await FileTokenStore(path: notAFile).load() }
        #expect(unreadable?.code == .tokenStoreFailed)

        let nowhere = FileTokenStore(path: directory + "/missing/tokens.json")
        let unwritable = await #expect(throws: KommoAPIError.self) { try await nowhere.save(pair) }
        #expect(unwritable?.code == .tokenStoreFailed)
        #expect((unwritable?.underlyingError as? POSIXError)?.code == .ENOENT)
    }

    @Test("a refresh through the provider is saved, and a restarted provider uses the rotated pair")
    func survivesRestart() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tokens.json"
        let time = ImmediateClock()
        try await FileTokenStore(path: path).save(
            KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken, expiresAt: time.date))
        let transport = ScriptedTransport([try K.fixture("api-oauth-token.json")])
        let first = try K.oauth(transport, store: FileTokenStore(path: path), wallClock: time.wallClock)
        let refreshed = try await first.accessToken()
        #expect(refreshed != K.accessToken)

        // A new process: no request, the saved pair.
        let idle = ScriptedTransport([])
        let second = try K.oauth(idle, store: FileTokenStore(path: path), wallClock: time.wallClock)
        #expect(try await second.accessToken() == refreshed)
        #expect(idle.requests.isEmpty)
        #expect(try FileTokenStore.read(path: path)?.refreshToken != K.refreshToken)
    }
}
