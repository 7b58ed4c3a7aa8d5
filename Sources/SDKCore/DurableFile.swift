import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable file writes: the one implementation behind the file inbox and the file token store.
///
/// A file is written under a temporary name in its final directory, `fsync`ed, renamed over the final name (atomic
/// on POSIX file systems: a reader sees the old content or the new, never a mix) and the directory is `fsync`ed so
/// that the rename survives a power cut. Files are created with mode `0600`.
package enum DurableFile {
    /// A failed system call: which step and the `errno` it left.
    package struct Failure: Error, Sendable, Hashable {
        /// The step that failed.
        package enum Step: String, Sendable, Hashable {
            case create, write, sync, rename
        }

        /// The step that failed.
        package let step: Step
        /// The `errno` value.
        package let code: Int32

        package init(_ step: Step, _ code: Int32) {
            self.step = step
            self.code = code
        }

        /// Whether the disk or the quota is full (`ENOSPC`, `EDQUOT`).
        package var isFull: Bool { code == ENOSPC || code == EDQUOT }
    }

    /// Creates `path` exclusively (`O_CREAT | O_EXCL`, mode `0600`), writes `data` and `fsync`s it. The file is
    /// deleted on failure.
    package static func writeNew(_ bytes: Data, to path: String)
        throws(Failure) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw Failure(.create, errno) }
        var failure: Failure?
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = Failure(.write, errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil && fsync(descriptor) != 0 { failure = Failure(.sync, errno) }
        if close(descriptor) != 0 && failure == nil { failure = Failure(.write, errno) }
        if let failure {
            _ = unlink(path)
            throw failure
        }
    }

    /// Replaces `path` with `bytes` atomically and durably, through `temporaryPath` (in the same directory, unique to
    /// this writer). The temporary file is removed on failure; the old content of `path` is then unchanged.
    ///
    /// - Parameter syncsDirectory: whether to `fsync` the directory after the rename (skip it only where losing the
    ///   rename in a power cut is harmless).
    package static func replace(_ path: String, with bytes: Data,
                                temporaryPath: String, syncsDirectory: Bool = true) throws(Failure) {
        try writeNew(bytes, to: temporaryPath)
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            _ = unlink(temporaryPath)
            throw Failure(.rename, code)
        }
        if syncsDirectory { syncDirectory(directory(of: path)) }
    }

    /// A temporary path beside `path`, unique to this writer: `.<name>.tmp-<UUID>` in the same directory, for
    /// ``replace(_:with:temporaryPath:syncsDirectory:)``.
    package static func temporaryPath(beside path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return directory(of: path) + "/." + name + ".tmp-" + UUID().uuidString
    }

    /// `fsync`s the directory at `path`, so that the names created, renamed or removed in it last. Best effort: a
    /// directory that cannot be opened is left alone.
    package static func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// The directory part of `path` (`.` for a bare name).
    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
