import Foundation
import KommoSegment

/// A Segment client that writes each message to standard output as one JSON line, exactly as it would be sent
/// (keys sorted), and reports it delivered.
final class DryRunSegmentClient: SegmentClient {
    private let output = Locked(FileHandle.standardOutput)

    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        var bytes: [UInt8] = []
        for message in batch.messages {
            bytes += message.json
            bytes.append(0x0A)
        }
        output.withLock { $0.write(Data(bytes)) }
        return SegmentDeliveryReceipt(status: 200, requestBytes: bytes.count)
    }
}
