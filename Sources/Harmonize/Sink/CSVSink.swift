import Foundation

/// Writes one RFC 4180 CSV file per table (`<table>.csv`, UTF-8, comma, header row) into an output
/// folder, plus `_rejects.csv`, `_manifest.json` and, for runs with a vocabulary store,
/// `_unmapped.csv` (the source codes without a standard concept). Files are written in a staging folder and the
/// folder is published by rename when the run succeeds.
///
/// With `canonicalSort`, each table's rows are sorted (by their CSV text) at the end: the whole
/// table is held in memory then, so use it for fixtures and golden outputs, not national extracts.
package final class CSVSink: Sink {
    /// The published folder.
    public let outputPath: String
    /// Whether rows are sorted at the end.
    public let canonicalSort: Bool
    private let stagingPath: String
    private var handles: [FileHandle] = []
    private var pending: [[String]] = []
    private var tables: [TargetTable] = []
    private var rejects: [String] = []
    private var unmapped: [String] = []

    /// Creates a sink publishing to the folder `outputPath`.
    public init(outputPath: String, canonicalSort: Bool = false) {
        self.outputPath = outputPath
        self.canonicalSort = canonicalSort
        self.stagingPath = outputPath + ".staging-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Creates the staging folder and one file per table with its header.
    public func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {
        self.tables = tables
        do {
            try FileManager.default.createDirectory(atPath: stagingPath, withIntermediateDirectories: true)
            // Owner only, as the SQLite output: the files hold pseudonymised rows.
            try OutputPublication.setMode(stagingPath, mode: 0o700)
            for t in tables {
                let path = stagingPath + "/\(t.name).csv"
                _ = FileManager.default.createFile(atPath: path, contents: Data((t.columns.map(\.name).joined(separator: ",") + "\n").utf8))
                guard let h = FileHandle(forWritingAtPath: path) else { throw SinkError("cannot create \(path)") }
                h.seekToEndOfFile()
                handles.append(h)
                pending.append([])
            }
        } catch let e as SinkError {
            throw e
        } catch {
            throw SinkError("cannot create \(stagingPath): \(error)")
        }
    }

    /// Quotes a field when it holds a comma, quote, or line end.
    static func field(_ v: Value) -> String {
        let s = v.description
        if s.utf8.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    /// Appends the rows (or keeps them for sorting).
    public func write(_ batch: RowBatch) throws(SinkError) {
        var lines: [String] = []
        lines.reserveCapacity(batch.rowCount)
        for r in 0..<batch.rowCount {
            let start = r * batch.columnCount
            lines.append(batch.values[start..<(start + batch.columnCount)].map(CSVSink.field).joined(separator: ","))
        }
        if canonicalSort {
            pending[batch.table].append(contentsOf: lines)
        } else {
            handles[batch.table].write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
    }

    /// Keeps rejects for `_rejects.csv`.
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) {
        for r in rejects {
            let j = r.reject
            let cells: [Value] = [
                .string(j.mapping ?? ""), .string(j.location.file), j.location.line.map(Value.int) ?? .null,
                j.location.record.map(Value.int) ?? .null, .string(j.field ?? ""), .string(j.reason.rawValue), .string(j.rule ?? ""),
                .string(j.message),
            ]
            self.rejects.append(cells.map(CSVSink.field).joined(separator: ","))
        }
    }

    /// Keeps the unmapped source codes for `_unmapped.csv`.
    public func writeUnmapped(_ codes: [UnmappedCode]) throws(SinkError) {
        for c in codes {
            let cells: [Value] = [.string(c.mapping), .string(c.vocabulary), .string(c.code), .int(c.records)]
            unmapped.append(cells.map(CSVSink.field).joined(separator: ","))
        }
    }

    /// Writes sorted tables, the rejects and the manifest, then publishes the folder.
    public func finish(run: RunManifest) throws(SinkError) {
        do {
            for (i, h) in handles.enumerated() {
                if canonicalSort, !pending[i].isEmpty {
                    h.write(Data((pending[i].sorted().joined(separator: "\n") + "\n").utf8))
                }
                h.closeFile()
            }
            handles = []
            let rejectText = "mapping,file,line,record,field,reason,rule,message\n" + rejects.map { $0 + "\n" }.joined()
            try Data(rejectText.utf8).write(to: URL(fileURLWithPath: stagingPath + "/_rejects.csv"))
            if run.vocabularyUsage != nil {
                let text = "mapping,vocabulary_id,source_code,records\n" + unmapped.map { $0 + "\n" }.joined()
                try Data(text.utf8).write(to: URL(fileURLWithPath: stagingPath + "/_unmapped.csv"))
            }
            try Data(JSONText.encode(run, pretty: true).utf8).write(to: URL(fileURLWithPath: stagingPath + "/_manifest.json"))
            if FileManager.default.fileExists(atPath: outputPath) {
                let old = outputPath + ".old-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
                try FileOps.rename(outputPath, to: old)
                try FileOps.rename(stagingPath, to: outputPath)
                try? FileManager.default.removeItem(atPath: old)
            } else {
                try FileOps.rename(stagingPath, to: outputPath)
            }
        } catch {
            abort()
            throw SinkError("cannot publish \(outputPath): \(error)")
        }
    }

    /// Removes the staging folder.
    public func abort() {
        for h in handles { h.closeFile() }
        handles = []
        try? FileManager.default.removeItem(atPath: stagingPath)
    }
}

@available(*, unavailable)
extension CSVSink: Sendable {}
