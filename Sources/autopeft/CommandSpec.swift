import JSONKit
import Foundation
import Space

/// A command's declaration: its name, positional arguments, options and help. The usage text,
/// `autopeft CMD --help` and the option parser all read this one declaration, so they cannot
/// drift apart (`CommandHelpTests` checks that each help lists exactly what the parser accepts).
struct CommandSpec: Sendable {
    struct Option: Sendable {
        /// What an option's value must be; the parser checks it, so commands read valid values.
        enum Kind: Sendable, Equatable {
            case text
            /// A positive integer (counts: trials, seeds, rows, threads).
            case count
            /// A non-negative integer (seeds).
            case seed
            /// A positive number (budgets).
            case amount
            case choice([String])

            var expectation: String {
                switch self {
                case .text: return "a value"
                case .count: return "a positive integer"
                case .seed: return "a non-negative integer"
                case .amount: return "a positive number"
                case .choice(let names): return names.joined(separator: " or ")
                }
            }

            func accepts(_ v: String) -> Bool {
                switch self {
                case .text: return true
                case .count: return Int(v).map { $0 >= 1 } ?? false
                case .seed: return UInt64(v) != nil
                case .amount: return Double(v).map { $0 > 0 && $0.isFinite } ?? false
                case .choice(let names): return names.contains(v)
                }
            }
        }

        let name: String
        /// The value's placeholder ("N", "DIR"); nil for a flag, which takes no value.
        let value: String?
        let help: String
        var required = false
        var kind = Kind.text

        static func value(_ name: String, _ value: String, _ help: String, required: Bool = false, kind: Kind = .text) -> Option {
            Option(name: name, value: value, help: help, required: required, kind: kind)
        }
        static func count(_ name: String, _ help: String) -> Option { value(name, "N", help, kind: .count) }
        static func flag(_ name: String, _ help: String) -> Option { Option(name: name, value: nil, help: help) }
        /// Shared by every command that trains or evaluates.
        static let threads = count("threads", "worker threads (default: the number of cores); results do not depend on it")
    }

    let name: String
    /// Positional arguments by placeholder, in order ("SPACE.json").
    let arguments: [String]
    let summary: String
    let options: [Option]
    let example: String

    var usageLine: String {
        (["autopeft", name] + arguments + options.map { o in
            let text = "--\(o.name)" + (o.value.map { " " + $0 } ?? "")
            return o.required ? text : "[\(text)]"
        }).joined(separator: " ")
    }

    /// `autopeft CMD --help`.
    var help: String {
        var s = "USAGE\n  \(usageLine)\n\n\(summary)\n"
        if !options.isEmpty {
            s += "\nOPTIONS\n"
            let width = options.map { 2 + $0.name.count + ($0.value.map { $0.count + 1 } ?? 0) }.max() ?? 0
            for o in options {
                let left = "--\(o.name)" + (o.value.map { " " + $0 } ?? "")
                s += "  " + left + String(repeating: " ", count: width - left.count + 2) + o.help + (o.required ? " (required)" : "") + "\n"
            }
        }
        s += "\nEXAMPLE\n  \(example)\n"
        return s
    }

    /// What parsing the command line gave: the arguments, or an exit code (help printed: 0; a
    /// usage error printed: 2).
    enum Parsed {
        case arguments(positional: [String], options: [String: String])
        case exit(Int32)

        var exitCode: Int32 { if case .exit(let c) = self { return c }; return 0 }
    }

    /// Parses `args`: `--name value` for options, `--name` for flags, the rest positional. Unknown
    /// options (with a did-you-mean), a missing value, a missing required option and a wrong number
    /// of positional arguments are usage errors that name what was expected.
    func parse(_ args: [String]) -> Parsed {
        if args.contains("--help") || args.contains("-h") {
            print(help, terminator: "")
            return .exit(ExitCode.success)
        }
        var positional: [String] = [], values: [String: String] = [:]
        var i = 0
        while i < args.count {
            let a = args[i]
            guard a.hasPrefix("--") else { positional.append(a); i += 1; continue }
            let name = String(a.dropFirst(2))
            guard let o = options.first(where: { $0.name == name }) else {
                var msg = "autopeft \(self.name): unknown option \(a)"
                if let m = didYouMean(name, among: options.map(\.name)) { msg += " (did you mean --\(m)?)" }
                return usageError(msg)
            }
            if o.value == nil { values[name] = "true"; i += 1; continue }
            guard i + 1 < args.count else { return usageError("autopeft \(self.name): option \(a) needs a value (\(o.value!))") }
            guard o.kind.accepts(args[i + 1]) else {
                return usageError("autopeft \(self.name): \(a) expects \(o.kind.expectation), got \"\(args[i + 1])\"")
            }
            values[name] = args[i + 1]
            i += 2
        }
        if let o = options.first(where: { $0.required && values[$0.name] == nil }) {
            return usageError("autopeft \(name): missing --\(o.name) \(o.value ?? "")")
        }
        guard positional.count == arguments.count else {
            let expected = arguments.isEmpty ? "takes no arguments" : "expected \(arguments.joined(separator: " "))"
            return usageError("autopeft \(name): \(expected), got "
                + "\(positional.count == 0 ? "none" : positional.map { "\"\($0)\"" }.joined(separator: " "))")
        }
        return .arguments(positional: positional, options: values)
    }

    private func usageError(_ message: String) -> Parsed {
        printErr(message + "\nusage: \(usageLine)\n(e.g. \(example); autopeft \(name) --help for more)")
        return .exit(ExitCode.usage)
    }
}

/// Typed reads of parsed options; their values were checked against their declared kind.
extension Dictionary where Key == String, Value == String {
    func integer(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
    func seed(_ name: String) -> UInt64? { self[name].flatMap { UInt64($0) } }
    func number(_ name: String) -> Double? { self[name].flatMap { Double($0) } }
    func flag(_ name: String) -> Bool { self[name] != nil }
}
