// kommo-segment: the example executable. `demo` runs the bundled samples; `replay` processes webhook files; `resume` and
// `inbox` work on an inbox directory.
import Foundation
import KommoSegment

let arguments = Array(CommandLine.arguments.dropFirst())
let status: Int32
switch arguments.first {
case "demo"?:
    if arguments.count > 1 {
        printError("kommo-segment: demo takes no arguments\n\n\(usage)")
        status = 2
    } else {
        status = await Demo.run()
    }
case "replay"?:
    do {
        let options = try ReplayOptions.parse(Array(arguments.dropFirst()),
                                              environment: ProcessInfo.processInfo.environment)
        status = await Runner.replay(options)
    } catch {
        printError("kommo-segment: \(error)\n\n\(usage)")
        status = 2
    }
case "resume"?:
    do {
        let options = try ReplayOptions.parse(Array(arguments.dropFirst()),
                                              environment: ProcessInfo.processInfo.environment, takesFiles: false)
        status = await Runner.resume(options)
    } catch {
        printError("kommo-segment: \(error)\n\n\(usage)")
        status = 2
    }
case "inbox"?:
    status = await InboxCommand.run(Array(arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
case "--help"?, "-h"?, "help"?:
    print(usage)
    status = 0
default:
    printError(usage)
    status = 2
}
exit(status)
