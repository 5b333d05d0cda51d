import Foundation

@testable import Harmonize

/// Paths and helpers shared by the tests. Fixtures are found through `#filePath`, so tests run
/// from any working directory.
enum TestSupport {
    /// The repository root.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A path under the repository root.
    static func path(_ relative: String) -> String { root + "/" + relative }

    /// A fresh temporary folder, inside `scratchRoot`.
    static func temporaryDirectory(_ label: String = "test") -> String {
        let dir = scratchRoot + "/\(label)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The prefix of the folders holding one test process's temporary folders.
    static let scratchPrefix = "harmonize-tests-"

    /// The folder holding this test process's temporary folders (`harmonize-tests-PID` in the
    /// system's temporary folder), removed when the process exits: a run of the suite made some
    /// 400 folders (outputs, databases, server data) and left them behind. Folders of earlier test
    /// processes that are no longer running (a crash, a killed run) are removed when it is made.
    static let scratchRoot: String = {
        let tmp = NSTemporaryDirectory()
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(scratchPrefix) {
            guard let pid = Int32(name.dropFirst(scratchPrefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(atPath: tmp + name) }
        }
        let dir = tmp + scratchPrefix + String(getpid())
        try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { TestSupport.removeScratchRoot() }
        return dir
    }()

    /// Removes `scratchRoot` (at the process's exit).
    private static func removeScratchRoot() {
        try? FileManager.default.removeItem(atPath: scratchRoot)
    }

    /// Writes text to a file, creating folders.
    static func write(_ text: String, to path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    }

    /// Writes bytes to a file.
    static func write(bytes: [UInt8], to path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// The built `harmonize-run` executable (next to the test bundle).
    static var executable: String {
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("harmonize-run").path,
            root + "/.build/debug/harmonize-run",
        ]
        for b in Bundle.allBundles {
            let p = b.bundleURL.deletingLastPathComponent().appendingPathComponent("harmonize-run").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    /// Result of running the CLI.
    struct CommandResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `harmonize-run` with arguments and environment additions.
    static func runCLI(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

extension RunOptions {
    /// Options of a run over `input` with the public mapping-test key (the bundled hospital and
    /// SNDS mappings compute keyed person ids).
    static func keyed(_ input: String, vocabulary: VocabularyStore? = nil) -> RunOptions {
        var o = RunOptions(inputDirectory: input)
        o.key = .mappingTests
        o.vocabulary = vocabulary
        return o
    }
}
