import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `--mappings DIR|FILE…` and what it takes to plan them.
struct MappingOptions: ParsableArguments {
    @Option(
        name: .long, parsing: .upToNextOption,
        help: ArgumentHelp(
            "Mapping files, or folders searched recursively for mapping files (*.yaml with a 'harmonize:' key).", valueName: "DIR|FILE"))
    var mappings: [String]

    @Option(name: .long, help: ArgumentHelp("A run profile overriding the mappings' dialects and formats.", valueName: "FILE"))
    var profile: String?

    @Option(name: .long, help: "Override every source's delimiter (',', ';', 'tab', '|').")
    var delimiter: String?

    @Option(name: .long, help: "Override every source's encoding (utf-8, latin-1, windows-1252, utf-16, auto).")
    var encoding: String?

    @Option(name: .customLong("date-format"), help: "Override the accepted date formats of every date field (repeatable).")
    var dateFormats: [String] = []

    @Option(name: .customLong("decimal-char"), help: "Override the decimal character of every number field.")
    var decimalChar: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The vocabulary store the vocabulary functions look codes up in (built by 'vocabulary load'; an Athena folder is loaded on the fly).",
            valueName: "FILE"))
    var vocabulary: String?

    /// The store named by `--vocabulary`, opened read-only (nil without the flag).
    func vocabularyStore() throws -> VocabularyStore? {
        guard let vocabulary else { return nil }
        do {
            return try VocabularyStore(path: vocabulary)
        } catch {
            throw CLIError(code: error.kind == .configuration ? Exit.configuration : Exit.io, message: error.description)
        }
    }

    /// Mapping files named by `--mappings`, sorted within each folder.
    func mappingFiles() throws -> [String] {
        var out: [String] = []
        for m in mappings {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: m, isDirectory: &isDir) else {
                throw CLIError(code: Exit.configuration, message: "no such mapping file or folder: \(m)")
            }
            if !isDir.boolValue {
                out.append(m)
                continue
            }
            let e = FileManager.default.enumerator(atPath: m)
            var found: [String] = []
            while let rel = e?.nextObject() as? String {
                guard rel.hasSuffix(".yaml") || rel.hasSuffix(".yml") else { continue }
                let path = (m.hasSuffix("/") ? m : m + "/") + rel
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
                if text.split(separator: "\n").contains(where: { $0.hasPrefix("harmonize:") }) { found.append(path) }
            }
            out.append(contentsOf: found.sorted())
        }
        if out.isEmpty { throw CLIError(code: Exit.configuration, message: "no mapping file found in \(mappings.joined(separator: ", "))") }
        return out
    }

    /// SHA-256 of what overrides the mappings' dialects and formats (the `--profile` file's
    /// bytes and the override flags), recorded as the run's `profile_sha256`; nil when none does.
    func profileFingerprint() throws -> String? {
        var text = ""
        if let profile {
            guard let data = FileManager.default.contents(atPath: profile) else {
                throw CLIError(code: Exit.configuration, message: "cannot read the run profile \(profile)")
            }
            text += "profile " + Hex.sha256(data) + "\n"
        }
        if let delimiter { text += "delimiter \(delimiter)\n" }
        if let encoding { text += "encoding \(encoding)\n" }
        for f in dateFormats { text += "date-format \(f)\n" }
        if let decimalChar { text += "decimal-char \(decimalChar)\n" }
        return text.isEmpty ? nil : Hex.sha256(Data(text.utf8))
    }

    /// The profile from `--profile` and the override flags.
    func runProfile() throws -> RunProfile? {
        var p = RunProfile()
        if let profile {
            do {
                p = try RunProfile.load(path: profile)
            } catch {
                throw CLIError(code: Exit.configuration, message: error.description)
            }
        }
        if let delimiter {
            switch delimiter.lowercased() {
            case "tab", "\\t": p.delimiter = 9
            default:
                guard delimiter.utf8.count == 1, let b = delimiter.utf8.first else {
                    throw CLIError(code: Exit.configuration, message: "--delimiter must be one character or 'tab'")
                }
                p.delimiter = b
            }
        }
        if let encoding {
            guard let e = TextEncoding(name: encoding) else {
                throw CLIError(code: Exit.configuration, message: "unknown --encoding \(encoding)")
            }
            p.encoding = e
        }
        if !dateFormats.isEmpty {
            p.schema.dateFormats = dateFormats
            p.origins["date_formats"] = RunProfile.Origin(file: "--date-format")
        }
        if let decimalChar {
            p.schema.decimalChar = decimalChar
            p.origins["decimal_char"] = RunProfile.Origin(file: "--decimal-char")
        }
        return p.isEmpty ? nil : p
    }

    /// Loads and plans every mapping, printing all diagnostics; throws exit code 2 on any error.
    func plans(functions: FunctionRegistry) throws -> [MappingPlan] {
        let files = try mappingFiles()
        let model: TargetModel
        do {
            model = try Mappings.omopModel()
        } catch {
            throw CLIError(code: Exit.io, message: "\(error)")
        }
        let profile = try runProfile()
        let context = PlanningContext(defaultModel: model, functions: functions, profile: profile)
        var plans: [MappingPlan] = []
        var diagnostics: [Diagnostic] = []
        var ids: [String: String] = [:]
        var specs: [MappingSpec] = []
        for f in files {
            do {
                let spec = try MappingLoader.load(path: f)
                if let other = ids[spec.id] {
                    diagnostics.append(
                        Diagnostic(code: "HZ1018", message: "mapping id '\(spec.id)' is also used by \(other)", file: f, line: 1, column: 1))
                }
                ids[spec.id] = f
                specs.append(spec)
            } catch {
                diagnostics.append(contentsOf: error.diagnostics)
            }
        }
        // The profile's and the flags' problems, once, at the profile line or the flag (not at
        // every mapping whose schema they break).
        if let profile {
            let schemas = RunProfile.schemas(of: specs)
            let problems = profile.check(tables: schemas.tables, inline: schemas.inline)
            if !problems.isEmpty {
                for d in problems { Terminal.error(d.description) }
                let n = problems.count
                throw CLIError(
                    code: Exit.configuration, message: "\(n) error\(n == 1 ? "" : "s") in the profile or the flags; nothing was read",
                    diagnostics: problems)
            }
        }
        for spec in specs {
            do {
                let plan = try MappingPlanner.plan(spec, context: context)
                diagnostics.append(contentsOf: plan.warnings)
                plans.append(plan)
            } catch {
                diagnostics.append(contentsOf: error.diagnostics)
            }
        }
        for d in diagnostics { Terminal.error(d.description) }
        if diagnostics.contains(where: { $0.severity == .error }) {
            let n = diagnostics.filter { $0.severity == .error }.count
            throw CLIError(
                code: Exit.configuration, message: "\(n) error\(n == 1 ? "" : "s") in the mappings; nothing was read", diagnostics: diagnostics)
        }
        return plans
    }
}

/// A failure with an exit code and a message for standard error.
struct CLIError: Error, CustomStringConvertible {
    var code: ExitCode
    var message: String
    /// The diagnostics behind the error (already printed on standard error), for `--json`.
    var diagnostics: [Diagnostic] = []
    /// A duplicate primary key's location, for `run --json`.
    var duplicate: RunFailure.Duplicate? = nil
    var description: String { message }
}
