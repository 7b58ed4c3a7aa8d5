// kommo-segment-server: the webhook service. Configuration from the environment (Documentation/Server.md); `check`
// tries the credentials; `authorize CODE` saves an OAuth account's first tokens; `--demo` runs on the bundled fixtures and prints the Segment messages.
import Foundation
import KommoSegment
import KommoSegmentHummingbird
import Logging

let arguments = Array(CommandLine.arguments.dropFirst())
var environment = ProcessInfo.processInfo.environment
let status: Int32
switch arguments.first {
case "--help"?, "-h"?, "help"?:
    print(usage)
    status = 0
case "--version"?:
    print("kommo-segment-server \(SDKInfo.version)")
    status = 0
case "check"?:
    status = await Check.run(environment: environment)
case "inbox"?:
    status = await InboxCommand.run(Array(arguments.dropFirst()), environment: environment)
case "authorize"?:
    status = await Authorize.run(arguments: Array(arguments.dropFirst()), environment: environment)
case "--demo"?:
    status = await Serve.run(environment: environment, demo: true)
case nil:
    status = await Serve.run(environment: environment, demo: environment["KOMMO_SEGMENT_DEMO"] == "1")
case let unknown?:
    printError("kommo-segment-server: unknown argument '\(unknown)'; see kommo-segment-server --help")
    status = 2
}
exit(status)
