import Foundation

/// What the `inbox` commands print, for any ``WebhookInbox``: the file inbox of `kommo-segment inbox` and the
/// PostgreSQL inbox of `kommo-segment-server inbox` read the same way.
///
/// Pure text in, text out: the commands write it where they will (a library never prints).
public enum InboxReport {
    /// One line of totals (`NAME: P pending, D dead letters, B bytes`), then one line per dead letter: its id, account,
    /// when it died and why, tab-separated.
    public static func list(_ inbox: any WebhookInbox, name: String) async throws(InboxError) -> String {
        let status = try await inbox.status()
        let letters = try await inbox.deadLetters()
        let formatter = ISO8601DateFormatter()
        var lines = ["\(name): \(status.pending) pending, \(letters.count) dead letters, \(status.bytes) bytes"]
        for letter in letters {
            lines.append("\(letter.record.id)\taccount \(letter.record.accountID)\tdied "
                + "\(formatter.string(from: letter.deadAt))\t\(letter.reason)")
        }
        return lines.joined(separator: "\n")
    }

    /// A dead letter's header lines and its body (personal data: printed only on request), or `nil` when there is no
    /// dead letter `id`.
    public static func show(_ id: String, in inbox: any WebhookInbox) async throws(InboxError)
        -> (header: String, body: Data)? {
        guard let letter = try await inbox.deadLetters().first(where: { $0.record.id == id }) else { return nil }
        let formatter = ISO8601DateFormatter()
        let record = letter.record
        let header = """
            id: \(record.id)
            account: \(record.accountID)
            received: \(formatter.string(from: record.receivedAt))
            died: \(formatter.string(from: letter.deadAt))
            attempts: \(record.attempts)
            reason: \(letter.reason)
            content type: \(record.contentType ?? "-")
            body (\(record.body.count) bytes; personal data):
            """
        return (header, record.body)
    }

    /// Queues the dead letters `ids` again (`["--all"]`: every one); returns how many were queued and the ids that
    /// are not dead letters.
    public static func retry(_ ids: [String], in inbox: any WebhookInbox) async throws(InboxError)
        -> (queued: Int, missing: [String]) {
        let targets = ids == ["--all"] ? try await inbox.deadLetters().map(\.record.id) : ids
        var missing: [String] = []
        for id in targets where !(try await inbox.requeue(deadLetter: id)) {
            missing.append(id)
        }
        return (targets.count - missing.count, missing)
    }
}
