import Foundation
import KommoSegment

/// The demo's account of a run, on standard error: file by file, the messages each item made (type, event name,
/// message id) or why it made none; at the end, the message ids that more than one file made.
///
/// Only ids, event names, item names and the pipeline's reasons are written: never a trait or property value.
struct RunExplanation {
    /// Each message id seen, in order, with its description and the files that made it.
    private var seen: [(id: String, message: String, files: [String])] = []
    private var positions: [String: Int] = [:]

    /// Writes what became of each item of `report`, the report of the file `name`, and remembers its message ids.
    mutating func explain(_ report: WebhookReport, name: String) {
        var lines = [name]
        if !report.acknowledgement.isAccepted { lines.append("  rejected: \(report.acknowledgement.detail)") }
        for event in report.events {
            switch event.outcome {
            case .delivered:
                let count = event.messages.count
                lines.append("  \(event.item) → \(count) \(count == 1 ? "message" : "messages")")
                for message in event.messages {
                    let text = Self.describe(message)
                    lines.append("    \(text) \(message.messageID ?? "-")")
                    if let id = message.messageID { remember(id, message: text, file: name) }
                }
                for skip in event.partialSkips {
                    lines.append("    " + (skip.call.map { "no \($0): \(skip.code): \(skip.detail)" } ?? "\(skip)"))
                }
            case .skipped(let reasons):
                lines.append("  \(event.item) → skipped: " + reasons.map(\.description).joined(separator: "; "))
            case .duplicate:
                lines.append("  \(event.item) → duplicate: the same change as an earlier item, not sent again")
            case .failed(let error):
                lines.append("  \(event.item) → failed: \(error)")
            }
        }
        if let noteError = report.noteError { lines.append("  notes not written: \(noteError)") }
        printError(lines.joined(separator: "\n"))
    }

    /// Writes one line for each message id that more than one file made.
    func explainSharedMessages() {
        for entry in seen where entry.files.count > 1 {
            var files = Set<String>()
            let names = entry.files.filter { files.insert($0).inserted }
            let list = names.count == 1 ? names[0]
                : names.dropLast().joined(separator: ", ") + " and " + (names.last ?? "")
            let times = entry.files.count == 2 ? "twice" : "\(entry.files.count) times"
            printError("message \(entry.id) (\(entry.message)) came from \(list): the same change \(times), with one "
                + "messageId, so Segment's deduplication counts it once")
        }
    }

    private mutating func remember(_ id: String, message: String, file: String) {
        if let position = positions[id] {
            seen[position].files.append(file)
        } else {
            positions[id] = seen.count
            seen.append((id, message, [file]))
        }
    }

    /// `identify`, `group`, or `track "Deal Won"`.
    private static func describe(_ message: SegmentMessage) -> String {
        guard let event = message.event else { return message.type.rawValue }
        return "\(message.type.rawValue) \"\(event)\""
    }
}
