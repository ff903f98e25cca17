import Foundation

/// An option spelling of an earlier release that scripts may still use. Old spellings are rewritten to the
/// current ones before parsing, so the commands declare only current options (and their usage lines stay
/// exact: `generate <checkpoint>` is required, which a hidden `--checkpoint` alternative would make optional),
/// and every use warns once.
struct RenamedOption: Equatable {
    /// The old spelling, e.g. `--count`.
    let old: String
    /// The current option; nil when the value is now the command's positional argument.
    let current: String?
    /// The subcommands that accepted the old spelling.
    let commands: Set<String>

    static let all = [
        RenamedOption(old: "--checkpoint", current: nil, commands: ["generate", "interpolate", "evaluate"]),
        RenamedOption(old: "--count", current: "--images", commands: ["generate"]),
        RenamedOption(old: "--samples", current: "--images", commands: ["export"]),
    ]

    var warning: String {
        "\(old) is deprecated; " + (current.map { "use \($0)" } ?? "pass the \(old.dropFirst(2)) as an argument")
    }

    /// `arguments` (without the program name) in current spellings, and one warning per old spelling used.
    /// Only the subcommand's own options are rewritten: nothing after `--`, nothing of other subcommands.
    static func modernized(
        _ arguments: [String], table: [RenamedOption] = all
    )
        -> (arguments: [String], warnings: [String])
    {
        guard let command = arguments.first else { return (arguments, []) }
        let renamed = table.filter { $0.commands.contains(command) }
        var result = [command], used: [RenamedOption] = []
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                result += arguments[(index - 1)...]
                break
            }
            guard let option = renamed.first(where: { argument == $0.old || argument.hasPrefix($0.old + "=") }) else {
                result.append(argument)
                continue
            }
            if !used.contains(option) { used.append(option) }
            let inlineValue = argument == option.old ? nil : String(argument.dropFirst(option.old.count + 1))
            switch (option.current, inlineValue) {
            case (let current?, let value?): result.append("\(current)=\(value)")
            case (let current?, nil): result.append(current)
            case (nil, let value?): result.append(value)
            // The value that follows stays where it is and so becomes the positional argument.
            case (nil, nil): break
            }
        }
        return (result, used.map(\.warning))
    }
}

/// Writes `warning: MESSAGE` on standard error. Under mpirun only rank 0 does, so a job warns once.
func warn(_ message: String) {
    guard ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"].map({ $0 == "0" }) ?? true else { return }
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
