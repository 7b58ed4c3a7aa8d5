import Foundation
import KommoSegment

/// `kommo-segment demo`: a replay of the bundled sample webhooks against the bundled Kommo API fixtures, dry-run.
enum Demo {
    static func run() async -> Int32 {
        guard let root = Bundle.module.url(forResource: "Demo", withExtension: nil) else {
            printError("kommo-segment: the bundled demo data is missing from this build")
            return 1
        }
        let webhooks = root.appendingPathComponent("webhooks")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: webhooks.path)) ?? []
        let files = names.filter { $0.hasSuffix(".txt") }.sorted().map { webhooks.appendingPathComponent($0).path }
        var options = ReplayOptions()
        options.files = files
        options.fixtures = root.appendingPathComponent("kommo-api").path
        options.dryRun = true
        options.showsBaseNames = true
        options.kommoAccountID = 31_234_567
        printError("demo: \(files.count) sample webhooks of account 31234567 (acme), Kommo answered from bundled "
            + "fixtures, Segment messages printed below instead of sent")
        return await Runner.replay(options)
    }
}
