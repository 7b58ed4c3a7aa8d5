import Foundation
import HTTPCore
import SegmentAPI

/// A Segment client that writes each message to standard output as one JSON line, exactly as it would be sent (keys
/// sorted), and reports it delivered: the dry run of `kommo-segment` and the demo of `kommo-segment-server`.
///
/// ```swift
/// let account = KommoSegmentAccount(accountID: 31_234_567, kommo: kommo, segment: PrintingSegmentClient())
/// ```
public final class PrintingSegmentClient: SegmentClient, Sendable {
    private let output = Locked(FileHandle.standardOutput)

    /// A client that prints to standard output.
    public init() {}

    /// Prints the batch's messages, one JSON line each, and answers 200.
    public func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        var bytes: [UInt8] = []
        for message in batch.messages {
            bytes += message.json
            bytes.append(0x0A)
        }
        output.withLock { $0.write(Data(bytes)) }
        return SegmentDeliveryReceipt(status: 200, requestBytes: bytes.count)
    }
}
