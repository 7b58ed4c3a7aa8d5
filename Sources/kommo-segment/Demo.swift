import Foundation
import KommoSegment
import KommoSegmentTesting

/// `kommo-segment demo`: a replay of the sample webhooks of `KommoSegmentTesting` against its Kommo API fixture
/// directory, dry-run.
enum Demo {
    static func run() async -> Int32 {
        var options = ReplayOptions()
        do {
            options.webhooks = try Fixtures.sampleWebhookNames.map { name in
                WebhookFile(name: name, body: try Fixtures.webhook(name))
            }
            options.fixtures = try Fixtures.kommoAPIDirectory().path
        } catch {
            printError("kommo-segment: the bundled demo data is missing from this build (\(error))")
            return 1
        }
        guard !options.webhooks.isEmpty else {
            printError("kommo-segment: the bundled demo data is missing from this build")
            return 1
        }
        options.dryRun = true
        // One file after another, so that stdout lists the messages file by file, as the explanation on stderr does.
        options.concurrency = 1
        options.explains = true
        options.kommoAccountID = 31_234_567
        printError("demo: \(options.webhooks.count) sample webhooks of account 31234567 (acme), Kommo answered from "
            + "bundled fixtures, Segment messages printed on stdout instead of sent")
        return await Runner.replay(options)
    }
}
