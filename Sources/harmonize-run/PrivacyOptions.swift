import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// The key, project, date-shift and objection options shared by `run` and `replay`, and the
/// checks made with them before anything is read.
struct PrivacyOptions: ParsableArguments {
    @Option(name: .customLong("key-file"), help: ArgumentHelp("A file holding the pseudonymisation key (≥ 32 bytes).", valueName: "FILE"))
    var keyFile: String?

    @Option(
        name: .customLong("key-env"), help: ArgumentHelp("An environment variable holding the pseudonymisation key (≥ 32 bytes).", valueName: "NAME"))
    var keyEnv: String?

    @Option(name: .long, help: "A project label: pseudonyms differ between projects sharing a key.")
    var project: String = ""

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Persons who objected, one per line (a source identifier or its 'person' pseudonym): their records are excluded. Every mapping must declare 'subject:'.",
            valueName: "FILE"))
    var exclude: String?

    @Option(
        name: .customLong("date-shift-days"), help: ArgumentHelp("Largest per-person shift of date_shift(), in days (needs a key).", valueName: "N"))
    var dateShiftDays: Int = 0

    mutating func validate() throws {
        if keyFile != nil && keyEnv != nil { throw ValidationError("give the key with --key-file or --key-env, not both") }
        if !(0...3650).contains(dateShiftDays) { throw ValidationError("--date-shift-days must be between 0 and 3650") }
    }

    /// The key from `--key-file` or `--key-env`, if given.
    func loadKey() throws -> PseudonymKey? {
        do {
            if let keyFile { return try PseudonymKey.load(file: keyFile, project: project) }
            if let keyEnv { return try PseudonymKey.load(environment: keyEnv, project: project) }
        } catch {
            throw CLIError(code: Exit.configuration, message: error.description)
        }
        return nil
    }

    /// Refuses plans that need a key or a date shift the options do not give, and loads the
    /// objection list (every mapping must then name its person with `subject:`).
    /// The objection list of `--exclude`, if given (what a run needs of it: keys, date shift,
    /// subjects, is checked by the library's `Preflight`).
    func loadExclusion(key: PseudonymKey?) throws -> ExclusionList? {
        guard let exclude else { return nil }
        do throws(ExclusionList.Failure) {
            return try ExclusionList.load(path: exclude, key: key)
        } catch {
            throw CLIError(code: Exit.configuration, message: error.description + " (nothing was read)")
        }
    }

    /// What the manifest records of these options (never the key or the list's entries).
    func parameters(key: PseudonymKey?, exclusion: ExclusionList?) -> [String: String] {
        var p: [String: String] = [:]
        if let key { p["key_fingerprint"] = key.fingerprint }
        if !project.isEmpty { p["project"] = project }
        if dateShiftDays > 0 { p["date_shift_days"] = String(dateShiftDays) }
        if let exclusion { p["exclude_sha256"] = exclusion.sha256 }
        return p
    }
}
