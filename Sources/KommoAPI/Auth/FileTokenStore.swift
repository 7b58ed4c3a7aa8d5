import Foundation
import HTTPCore

/// A token store in one JSON file, for a single instance that must keep its OAuth tokens across restarts.
///
/// Kommo rotates the refresh token on every refresh, so a pair that is lost after a refresh locks the integration
/// out until a person authorizes it again. The store therefore writes each pair durably before the provider uses it:
/// to a temporary file in the same directory, `fsync`ed, renamed over the file and the directory `fsync`ed. A reader
/// (a restart, or `kommo-segment-server check`) sees the old pair or the new one, never a torn file. The file is
/// created with mode `0600` (owner only), and a file readable by others is still read: tighten it with `chmod 600`.
///
/// ```json
/// {"access_token": "…", "refresh_token": "…", "expires_at": 1767225600}
/// ```
///
/// `expires_at` is in Unix seconds. A missing file means "not authorized yet" (``load()`` returns `nil`). Several
/// processes must not share one file: each would refresh on its own and lock the others out. Instances that share an
/// account share a store that serializes refreshes across them instead.
///
/// Errors are ``KommoAPIError/Code/tokenStoreFailed`` with the path and the system's reason; never a token.
public actor FileTokenStore: KommoTokenStore, CustomStringConvertible {
    /// The file's path.
    public nonisolated let path: String

    /// A store in the file at `path` (its directory must exist; the file is created by the first ``save(_:)``).
    public init(path: String) {
        self.path = path
    }

    /// `FileTokenStore(path)`.
    public nonisolated var description: String { "FileTokenStore(\(path))" }

    /// The stored pair, or `nil` when the file does not exist.
    ///
    /// - Throws: ``KommoAPIError/Code/tokenStoreFailed`` when the file cannot be read or does not hold a pair.
    public func load() async throws -> KommoTokenPair? {
        try Self.read(path: path)
    }

    /// Replaces the stored pair, durably and atomically.
    ///
    /// - Throws: ``KommoAPIError/Code/tokenStoreFailed`` when it cannot be written (the old pair is then unchanged).
    public func save(_ pair: KommoTokenPair) async throws {
        let data: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            data = try encoder.encode(pair) + Data("\n".utf8)
        } catch {
            throw KommoAPIError(code: .tokenStoreFailed, detail: "the token pair could not be encoded",
                                underlyingError: error)
        }
        let temporary = DurableFile.temporaryPath(beside: path)
        do {
            try DurableFile.replace(path, with: data, temporaryPath: temporary)
        } catch {
            let reason = POSIXError(POSIXErrorCode(rawValue: error.code) ?? .EIO)
            throw KommoAPIError(code: .tokenStoreFailed,
                                detail: "the token file \(path) cannot be written (\(Self.reason(error.code)))",
                                underlyingError: reason)
        }
    }

    /// Reads the pair in the file at `path` without an actor hop, for start-up checks: `nil` when the file does not
    /// exist.
    ///
    /// - Throws: ``KommoAPIError/Code/tokenStoreFailed`` when the file cannot be read or does not hold a pair.
    public static func read(path: String) throws(KommoAPIError) -> KommoTokenPair? {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            return nil
        } catch {
            throw KommoAPIError(code: .tokenStoreFailed,
                                detail: "the token file \(path) cannot be read; check its permissions",
                                underlyingError: error)
        }
        do {
            return try JSONDecoder().decode(KommoTokenPair.self, from: data)
        } catch {
            // The decoding error can quote the file, which holds tokens: only its kind is kept.
            throw KommoAPIError(code: .tokenStoreFailed,
                                detail: "the token file \(path) does not hold a token pair (access_token, "
                                    + "refresh_token, expires_at in Unix seconds)")
        }
    }

    private static func reason(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
