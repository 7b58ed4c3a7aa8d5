import Foundation

/// Formats dates as ISO-8601 in UTC with milliseconds and a `Z`, e.g. `2026-11-30T10:15:02.123Z`.
///
/// Computed arithmetically (no `DateFormatter`), so it is fast, thread-safe and independent of locale.
/// Milliseconds are truncated, not rounded, so a timestamp never moves into the next second.
public enum ISO8601Timestamp {
    /// The date as `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC.
    public static func string(from date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the formatted date's bytes to `bytes`.
    public static func append(_ date: Date, to bytes: inout [UInt8]) {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var days = totalMilliseconds / 86_400_000
        var remainder = totalMilliseconds % 86_400_000
        if remainder < 0 {
            remainder += 86_400_000
            days -= 1
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)

        // The 24 characters are written into a buffer on the stack, then appended at once.
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &text) { buffer in
            func put(_ value: Int64, width: Int, at offset: Int) {
                var v = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[position] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                    v /= 10
                }
            }
            put(min(max(year, 0), 9999), width: 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, width: 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, width: 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(remainder / 3_600_000, width: 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(remainder / 60_000 % 60, width: 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(remainder / 1000 % 60, width: 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(remainder % 1000, width: 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            bytes.append(contentsOf: buffer)
        }
    }
}
