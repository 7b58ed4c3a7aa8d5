// kommo-segment: the example executable. `demo` runs the bundled samples; `replay` processes webhook files; `resume` and
// `inbox` work on an inbox directory.
import Foundation
import KommoSegment

let arguments = Array(CommandLine.arguments.dropFirst())
let rest = Array(arguments.dropFirst())
let environment = ProcessInfo.processInfo.environment
let status: Int32
switch arguments.first {
case "demo"?:
    if Usage.asksForHelp(rest) {
        status = Usage.show(Usage.demo)
    } else if let extra = rest.first {
        status = Usage.refuse("demo takes no arguments, not '\(extra)'", command: "demo")
    } else {
        status = await Demo.run()
    }
case let command? where command == "replay" || command == "resume":
    let isReplay = command == "replay"
    if Usage.asksForHelp(rest) {
        status = Usage.show(isReplay ? Usage.replay : Usage.resume)
    } else {
        do {
            let options = try ReplayOptions.parse(rest, environment: environment, command: isReplay ? .replay : .resume)
            status = isReplay ? await Runner.replay(options) : await Runner.resume(options)
        } catch {
            status = Usage.refuse("\(error)", command: command)
        }
    }
case let command? where command == "catch-up" || command == "backfill":
    let isCatchUp = command == "catch-up"
    if Usage.asksForHelp(rest) {
        status = Usage.show(isCatchUp ? Usage.catchUp : Usage.backfill)
    } else {
        do {
            let options = try ReplayOptions.parse(rest, environment: environment,
                                                  command: isCatchUp ? .catchUp : .backfill)
            status = isCatchUp ? await CatchUpCommand.catchUp(options) : await CatchUpCommand.backfill(options)
        } catch {
            status = Usage.refuse("\(error)", command: command)
        }
    }
case "inbox"?:
    status = await InboxCommand.run(rest, environment: environment)
case "--help"?, "-h"?, "help"?:
    status = Usage.show(Usage.overview)
case "--version"?:
    print("kommo-segment \(SDKInfo.version)")
    status = 0
case let unknown?:
    status = Usage.refuse(unknown.hasPrefix("-") ? "unknown option \(unknown)" : "unknown command '\(unknown)'",
                          command: nil)
case nil:
    status = Usage.refuse("a command is needed: demo, replay, resume, catch-up, backfill or inbox", command: nil)
}
exit(status)
