/// SHA-1 as specified by FIPS 180-4, for name-based UUIDs (version 5) only.
///
/// SHA-1 is broken for collision resistance and must not be used where an attacker chooses the input to forge a
/// match. Here it only turns a canonical name into a UUID, which is what RFC 9562 prescribes for version 5; the
/// package keeps it internal (`package`) so nobody mistakes it for a general-purpose hash.
///
/// Feed bytes with ``update(_:)`` as often as needed, then call ``finalize()`` once; or use ``hash(_:)``.
package struct SHA1: Sendable {
    /// The size of a digest in bytes.
    package static let digestByteCount = 20
    /// The size of one message block in bytes.
    private static let blockByteCount = 64

    /// The five chaining words H0...H4.
    private struct State: Sendable {
        var h0: UInt32 = 0x6745_2301
        var h1: UInt32 = 0xEFCD_AB89
        var h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476
        var h4: UInt32 = 0xC3D2_E1F0
    }

    private var state = State()
    /// The bytes of an incomplete block waiting for more input, the first ``pendingCount`` of these 64 (always
    /// fewer than 64). Kept inline, so that hashing a short name allocates nothing.
    private var pending: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var pendingCount = 0
    /// Total number of message bytes fed so far.
    private var byteCount: UInt64 = 0

    /// A hasher with the initial state of FIPS 180-4 §5.3.1.
    package init() {}

    /// Feeds the bytes of `data`.
    package mutating func update<Bytes: Sequence<UInt8>>(_ data: Bytes) {
        let handled: Void? = data.withContiguousStorageIfAvailable { buffer in
            update(bytes: UnsafeRawBufferPointer(buffer))
        }
        if handled == nil {
            let copy = Array(data)
            copy.withUnsafeBytes { update(bytes: $0) }
        }
    }

    /// Feeds the UTF-8 bytes of `string`.
    package mutating func update(_ string: String) {
        var string = string
        string.withUTF8 { update(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Feeds raw bytes.
    package mutating func update(bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        byteCount &+= UInt64(bytes.count)
        var offset = 0
        if pendingCount > 0 {
            let take = min(Self.blockByteCount - pendingCount, bytes.count)
            let filled = pendingCount
            withUnsafeMutableBytes(of: &pending) { block in
                block.baseAddress!.advanced(by: filled).copyMemory(from: source, byteCount: take)
            }
            pendingCount += take
            offset = take
            guard pendingCount == Self.blockByteCount else { return }
            withUnsafeBytes(of: pending) { Self.compress(&state, $0) }
            pendingCount = 0
        }
        while bytes.count - offset >= Self.blockByteCount {
            Self.compress(&state, UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Self.blockByteCount)]))
            offset += Self.blockByteCount
        }
        if offset < bytes.count {
            let rest = bytes.count - offset
            withUnsafeMutableBytes(of: &pending) { block in
                block.baseAddress!.copyMemory(from: source + offset, byteCount: rest)
            }
            pendingCount = rest
        }
    }

    /// Pads the message (FIPS 180-4 §5.1.1) and returns the digest of everything fed so far as its five
    /// big-endian words H0...H4.
    ///
    /// The padding (one 0x80 byte, zeros up to 56 mod 64, the 64-bit big-endian bit length) and the last one or
    /// two blocks are built on the stack, from a copy of the chaining words: the hasher itself is left as it was,
    /// so more bytes may follow and a later call gives the digest of the longer message.
    package func digestWords() -> (UInt32, UInt32, UInt32, UInt32, UInt32) {
        var state = self.state
        let bitLength = byteCount &* 8
        let count = pendingCount
        let total = count < 56 ? Self.blockByteCount : 2 * Self.blockByteCount
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * Self.blockByteCount) { block in
            let raw = UnsafeMutableRawBufferPointer(block)
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            withUnsafeBytes(of: pending) { pending in
                raw.baseAddress!.copyMemory(from: pending.baseAddress!, byteCount: count)
            }
            block[count] = 0x80
            for index in 0..<8 {
                block[total - 1 - index] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(index)))
            }
            for start in stride(from: 0, to: total, by: Self.blockByteCount) {
                Self.compress(&state, UnsafeRawBufferPointer(rebasing: raw[start..<(start + Self.blockByteCount)]))
            }
        }
        return (state.h0, state.h1, state.h2, state.h3, state.h4)
    }

    /// The 20-byte digest of everything fed so far (``digestWords()`` as bytes); the hasher is left as it was.
    package func finalize() -> [UInt8] {
        let words = digestWords()
        var digest = [UInt8](repeating: 0, count: Self.digestByteCount)
        for (index, word) in [words.0, words.1, words.2, words.3, words.4].enumerated() {
            digest[4 * index] = UInt8(truncatingIfNeeded: word >> 24)
            digest[4 * index + 1] = UInt8(truncatingIfNeeded: word >> 16)
            digest[4 * index + 2] = UInt8(truncatingIfNeeded: word >> 8)
            digest[4 * index + 3] = UInt8(truncatingIfNeeded: word)
        }
        return digest
    }

    /// The digest of `data` in one call.
    package static func hash<Bytes: Sequence<UInt8>>(_ data: Bytes) -> [UInt8] {
        var hasher = SHA1()
        hasher.update(data)
        return hasher.finalize()
    }

    /// The digest of the UTF-8 bytes of `string` in one call.
    package static func hash(_ string: String) -> [UInt8] {
        var hasher = SHA1()
        hasher.update(string)
        return hasher.finalize()
    }

    /// The digest as 40 lowercase hexadecimal digits.
    package static func hexString(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Processes one 64-byte block (FIPS 180-4 §6.1.2).
    private static func compress(_ state: inout State, _ block: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            for t in 0..<16 {
                let b = 4 * t
                w[t] = UInt32(block[b]) << 24 | UInt32(block[b + 1]) << 16
                    | UInt32(block[b + 2]) << 8 | UInt32(block[b + 3])
            }
            for t in 16..<80 {
                w[t] = rotateLeft(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
            }
            var a = state.h0, b = state.h1, c = state.h2, d = state.h3, e = state.h4
            @inline(__always) func round(_ f: UInt32, _ k: UInt32, _ word: UInt32) {
                let temp = rotateLeft(a, 5) &+ f &+ e &+ k &+ word
                e = d
                d = c
                c = rotateLeft(b, 30)
                b = a
                a = temp
            }
            // The four stages of twenty rounds, each with its own function and constant.
            for t in 0..<20 { round((b & c) | (~b & d), 0x5A82_7999, w[t]) }
            for t in 20..<40 { round(b ^ c ^ d, 0x6ED9_EBA1, w[t]) }
            for t in 40..<60 { round((b & c) | (b & d) | (c & d), 0x8F1B_BCDC, w[t]) }
            for t in 60..<80 { round(b ^ c ^ d, 0xCA62_C1D6, w[t]) }
            state.h0 &+= a
            state.h1 &+= b
            state.h2 &+= c
            state.h3 &+= d
            state.h4 &+= e
        }
    }
}

@inline(__always)
private func rotateLeft(_ value: UInt32, _ count: UInt32) -> UInt32 {
    (value << count) | (value >> (32 - count))
}
