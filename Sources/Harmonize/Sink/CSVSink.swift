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
    /// One writer per table (rows go to the files as they come, unless sorted at the end).
    private var writers: [BufferedFileWriter] = []
    private var pending: [[String]] = []
    private var tables: [TargetTable] = []
    /// `_rejects.csv`, written as the rejects come (a run with many rejects holds none of them).
    private var rejectWriter: BufferedFileWriter?
    private var unmapped: [String] = []
    /// A row's text while it is made (sorted runs, unmapped codes).
    private var line: [UInt8] = []

    /// Creates a sink publishing to the folder `outputPath`.
    public init(outputPath: String, canonicalSort: Bool = false) {
        self.outputPath = outputPath
        self.canonicalSort = canonicalSort
        self.stagingPath = outputPath + ".staging-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Creates the staging folder, one file per table with its header, and `_rejects.csv`.
    public func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {
        self.tables = tables
        do {
            try FileManager.default.createDirectory(atPath: stagingPath, withIntermediateDirectories: true)
            // Owner only, as the SQLite output: the files hold pseudonymised rows.
            try OutputPublication.setMode(stagingPath, mode: 0o700)
        } catch {
            throw SinkError("cannot create \(stagingPath): \(error)")
        }
        do throws(FileOps.Failure) {
            for t in tables {
                let w = try BufferedFileWriter(creating: stagingPath + "/\(t.name).csv")
                try w.write(t.columns.map(\.name).joined(separator: ",") + "\n")
                writers.append(w)
                pending.append([])
            }
            let r = try BufferedFileWriter(creating: stagingPath + "/_rejects.csv")
            try r.write("mapping,file,line,record,field,reason,rule,message\n")
            rejectWriter = r
        } catch {
            throw SinkError("cannot write the CSV output: \(error)")
        }
    }

    /// Quotes a field when it holds a comma, quote, or line end (the text `CSVText` writes).
    static func field(_ v: Value) -> String {
        var out: [UInt8] = []
        CSVText.append(v, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the rows (or keeps them for sorting).
    public func write(_ batch: RowBatch) throws(SinkError) {
        let n = batch.columnCount
        if canonicalSort {
            for r in 0..<batch.rowCount {
                line.removeAll(keepingCapacity: true)
                CSVText.appendRow(batch.values, from: r * n, count: n, to: &line)
                pending[batch.table].append(String(decoding: line, as: UTF8.self))
            }
            return
        }
        do throws(FileOps.Failure) {
            let w = writers[batch.table]
            for r in 0..<batch.rowCount {
                try w.append { out in
                    CSVText.appendRow(batch.values, from: r * n, count: n, to: &out)
                    out.append(0x0A)
                }
            }
        } catch {
            throw SinkError("cannot write the CSV output: \(error)")
        }
    }

    /// Appends rejects to `_rejects.csv`.
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) {
        guard let w = rejectWriter else { throw SinkError("the CSV output is not open", isIO: false) }
        do throws(FileOps.Failure) {
            for r in rejects {
                let j = r.reject
                let cells: [Value] = [
                    .string(j.mapping ?? ""), .string(j.location.file), j.location.line.map(Value.int) ?? .null,
                    j.location.record.map(Value.int) ?? .null, .string(j.field ?? ""), .string(j.reason.rawValue), .string(j.rule ?? ""),
                    .string(j.message),
                ]
                try w.append { out in
                    CSVText.appendRow(cells, from: 0, count: cells.count, to: &out)
                    out.append(0x0A)
                }
            }
        } catch {
            throw SinkError("cannot write the CSV output: \(error)")
        }
    }

    /// Keeps the unmapped source codes for `_unmapped.csv` (one line per distinct code).
    public func writeUnmapped(_ codes: [UnmappedCode]) throws(SinkError) {
        for c in codes {
            let cells: [Value] = [.string(c.mapping), .string(c.vocabulary), .string(c.code), .int(c.records)]
            line.removeAll(keepingCapacity: true)
            CSVText.appendRow(cells, from: 0, count: cells.count, to: &line)
            unmapped.append(String(decoding: line, as: UTF8.self))
        }
    }

    /// Writes sorted tables, the rejects and the manifest, then publishes the folder.
    public func finish(run: RunManifest) throws(SinkError) {
        do throws(FileOps.Failure) {
            for (i, w) in writers.enumerated() {
                if canonicalSort, !pending[i].isEmpty {
                    try w.write(pending[i].sorted().joined(separator: "\n") + "\n")
                    pending[i] = []
                }
                try w.close()
            }
            writers = []
            try rejectWriter?.close()
            rejectWriter = nil
            if run.vocabularyUsage != nil {
                let w = try BufferedFileWriter(creating: stagingPath + "/_unmapped.csv")
                try w.write("mapping,vocabulary_id,source_code,records\n" + unmapped.map { $0 + "\n" }.joined())
                try w.close()
            }
        } catch {
            abort()
            throw SinkError("cannot write the CSV output: \(error)")
        }
        do {
            let w = try BufferedFileWriter(creating: stagingPath + "/_manifest.json")
            try w.write(JSONText.encode(run, pretty: true))
            try w.close()
        } catch let e as FileOps.Failure {
            abort()
            throw SinkError("cannot write the CSV output: \(e)")
        } catch {
            abort()
            throw SinkError("cannot write the CSV output's manifest: \(error)")
        }
        do {
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
        // The staging folder is removed below: a close that fails changes nothing.
        for w in writers { try? w.close() }
        writers = []
        try? rejectWriter?.close()
        rejectWriter = nil
        try? FileManager.default.removeItem(atPath: stagingPath)
    }
}

@available(*, unavailable)
extension CSVSink: Sendable {}
