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

        func put(_ value: Int64, width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 {
                bytes.append(UInt8(truncatingIfNeeded: (v / divisor) % 10) + 0x30)
                v %= divisor
                divisor /= 10
            }
        }
        put(min(max(year, 0), 9999), width: 4)
        bytes.append(UInt8(ascii: "-"))
        put(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        put(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        put(remainder / 3_600_000, width: 2)
        bytes.append(UInt8(ascii: ":"))
        put(remainder / 60_000 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        put(remainder / 1000 % 60, width: 2)
        bytes.append(UInt8(ascii: "."))
        put(remainder % 1000, width: 3)
        bytes.append(UInt8(ascii: "Z"))
    }
}
