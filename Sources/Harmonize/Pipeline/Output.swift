/// Where a run's rows go: an SQLite file (the embedded default), a folder of CSV files, or
/// nowhere (to measure everything but the writing). Nothing is visible before the run succeeds:
/// a failed run leaves the previous output as it was.
public struct Output {
    /// The sink that writes the rows.
    package let sink: any Sink

    /// An output over a sink of the package.
    package init(sink: any Sink) {
        self.sink = sink
    }

    /// An SQLite file (OMOP tables, the run's manifest, ledger, rejects and, with `lineage`, one
    /// lineage row per output row), written from a second thread and published by an atomic
    /// rename.
    public static func sqlite(path: String, lineage: Bool = false) -> Output {
        Output(sink: PipelinedSink(SQLiteSink(outputPath: path, recordsLineage: lineage)))
    }

    /// One CSV file per table in a folder, published by an atomic rename of the folder.
    public static func csv(folder: String) -> Output {
        Output(sink: PipelinedSink(CSVSink(outputPath: folder)))
    }

    /// No output: rows are counted and dropped.
    public static func none() -> Output {
        Output(sink: NullSink())
    }
}

@available(*, unavailable)
extension Output: Sendable {}
