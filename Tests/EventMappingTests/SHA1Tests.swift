import EventMapping
import Foundation
import Testing

@Suite("SHA-1", .timeLimit(.minutes(1)))
struct SHA1Tests {
    @Test("FIPS 180 published vectors", arguments: [
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"),
    ])
    func publishedVectors(message: String, expected: String) {
        #expect(SHA1.hexString(SHA1.hash(message)) == expected)
        #expect(SHA1.hexString(SHA1.hash(Array(message.utf8))) == expected)
    }

    @Test("one million 'a', fed in uneven pieces and in one go")
    func oneMillionA() {
        let expected = "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 999)
        var hasher = SHA1()
        var fed = 0
        while fed < 1_000_000 {
            let count = min(chunk.count, 1_000_000 - fed)
            hasher.update(chunk[0..<count])
            fed += count
        }
        #expect(SHA1.hexString(hasher.finalize()) == expected)
        #expect(SHA1.hexString(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))) == expected)
    }

    /// Byte `i` of the message is `(7i + 3) mod 256`; digests computed with Python's `hashlib.sha1`.
    @Test("lengths around the padding boundaries agree with hashlib", arguments: [
        (55, "ddf57317ef34bfee3b6df83d359098930eb278bc"),
        (56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369"),
        (57, "11a02dcf95859677a62e75024067c22b165d890f"),
        (63, "c55856749bef509bdfe6bfebfc7bf4e793e82132"),
        (64, "bede92be29c3874e1b54ddc77988d606fc857a8e"),
        (65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f"),
        (119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23"),
        (120, "82134b02fb3f702491be9bed581eeab59334acb2"),
        (127, "34d5e582029e9b9b85b2febe31da3db7cdabaaea"),
        (128, "a09133e6730ffe899efb70204cb5646cd5dc24ee"),
        (129, "808aea332ce367541d37adae7f94e59c5c1a934e"),
    ])
    func paddingBoundaries(length: Int, expected: String) {
        let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        #expect(SHA1.hexString(SHA1.hash(message)) == expected)
        // Every split point gives the same digest as the one-shot hash.
        for split in [0, 1, length / 2, max(0, length - 1), length] {
            var hasher = SHA1()
            hasher.update(message[0..<split])
            hasher.update(message[split...])
            #expect(SHA1.hexString(hasher.finalize()) == expected, "split at \(split)")
        }
        // Byte by byte, through a non-contiguous sequence.
        var hasher = SHA1()
        for byte in message { hasher.update(CollectionOfOne(byte)) }
        hasher.update(message.lazy.filter { _ in false })
        #expect(SHA1.hexString(hasher.finalize()) == expected)
    }

    @Test("finalize leaves the hasher usable for a longer message")
    func finalizeIsNotDestructive() {
        var hasher = SHA1()
        hasher.update("ab")
        #expect(SHA1.hexString(hasher.finalize()) == "da23614e02469a0d7c7bd1bdab5c9c474b1904dc")
        hasher.update("c")
        #expect(SHA1.hexString(hasher.finalize()) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hasher.finalize().count == SHA1.digestByteCount)
    }
}
