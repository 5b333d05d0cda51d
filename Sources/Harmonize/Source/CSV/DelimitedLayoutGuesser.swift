/// What `DelimitedLayoutGuesser` found about a delimited file's layout: encoding, delimiter,
/// preamble lines above the first record, and whether that record is a header; each with the
/// evidence, in words that never quote a cell.
package struct DelimitedLayoutGuess: Sendable, Hashable {
    /// The encoding (from the byte order mark, else UTF-8 when valid, else Windows-1252).
    public var encoding: TextEncoding
    /// Whether the file starts with a byte order mark.
    public var byteOrderMark: Bool
    /// The delimiter (`,` when none was detected).
    public var delimiter: UInt8
    /// Physical lines to skip before the first record (`skip_lines`, `--skip-lines`).
    public var skipLines: Int
    /// Whether the first record after the preamble is a header.
    public var header: Bool
    /// Whether `skipLines` and `header` were given rather than guessed.
    public var skipLinesGiven: Bool
    /// See `skipLinesGiven`.
    public var headerGiven: Bool
    /// Why: one sentence per conclusion (no cell values).
    public var evidence: [String]

    /// The dialect to read the file with.
    public func dialect(from base: Dialect) -> Dialect {
        var d = base
        d.delimiter = delimiter
        d.encoding = encoding
        d.skipLines = skipLines
        d.header = header
        return d
    }
}

/// Guesses the layout of a delimited file from its first 64 KiB: the preamble (lines above the
/// first record whose field count differs from that of the records that follow) and the header
/// (a first record whose cells do not read as the types of the columns below it is a header; one
/// whose cells read like the data is not). Shared by `inspect` and `scan`.
package enum DelimitedLayoutGuesser {
    /// Records looked at, at most.
    static let sampleRecords = 200
    /// Preamble lines looked for, at most.
    static let maxPreamble = 20

    /// Guesses the layout of `path`; what `dialect` sets (a delimiter, an encoding other than
    /// `auto`) is kept, and `skipLines` / `header` are kept when `givenSkipLines` / `givenHeader`.
    /// - Throws: `DelimitedReaderError` when the file cannot be read.
    public static func guess(
        path: String, dialect: Dialect = Dialect(), givenSkipLines: Int? = nil, givenHeader: Bool? = nil
    ) throws(DelimitedReaderError) -> DelimitedLayoutGuess {
        var base = dialect
        base.skipLines = givenSkipLines ?? 0
        let sniff = try DelimitedReader.sniff(path: path, dialect: base)
        let text = try decodedSample(path: path, encoding: sniff.encoding)
        var evidence: [String] = []
        var delimiter = sniff.delimiter ?? UInt8(ascii: ",")
        var records = split(text.bytes, delimiter: delimiter, quote: dialect.quote, atEnd: text.atEnd)
        var skip = givenSkipLines ?? 0
        if let given = givenSkipLines {
            records = records.filter { $0.line >= given }
            evidence.append("skip_lines \(given) as given")
        } else if let found = preamble(records) {
            skip = found.lines
            evidence.append(found.evidence)
            if dialect.delimiter == nil {
                base.skipLines = skip
                let again = try DelimitedReader.sniff(path: path, dialect: base)
                if let d = again.delimiter, d != delimiter {
                    delimiter = d
                    records = split(text.bytes, delimiter: delimiter, quote: dialect.quote, atEnd: text.atEnd)
                }
            }
            records = records.filter { $0.line >= skip }
        } else {
            evidence.append("no preamble: the first record has as many fields as the records below it")
        }
        let header: Bool
        if let given = givenHeader {
            header = given
            evidence.append(given ? "header as given" : "no header, as given")
        } else {
            let h = headerGuess(records)
            header = h.header
            evidence.append(h.evidence)
        }
        return DelimitedLayoutGuess(
            encoding: sniff.encoding, byteOrderMark: sniff.byteOrderMark, delimiter: delimiter, skipLines: skip,
            header: header, skipLinesGiven: givenSkipLines != nil, headerGiven: givenHeader != nil, evidence: evidence)
    }

    /// One record of the sample: the 0-based physical line it starts on, and its cells.
    struct SampleRecord {
        var line: Int
        var cells: [String]
    }

    /// The first 64 KiB of `path` as UTF-8 (byte order mark dropped).
    static func decodedSample(path: String, encoding: TextEncoding) throws(DelimitedReaderError) -> (
        bytes: [UInt8], atEnd: Bool
    ) {
        var bytes: [UInt8] = []
        var atEnd = false
        do throws(SourceIOError) {
            let source = try FileByteSource(path: path)
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: DialectSniffer.sampleBytes, alignment: 16)
            defer { chunk.deallocate() }
            while bytes.count < DialectSniffer.sampleBytes {
                let want = DialectSniffer.sampleBytes - bytes.count
                let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<want]))
                if n == 0 {
                    atEnd = true
                    break
                }
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            }
        } catch {
            throw DelimitedReaderError(file: path, kind: .io(error))
        }
        let (concrete, bom) = bytes.withUnsafeBytes { ConcreteEncoding.resolve(encoding, prefix: $0, atEnd: atEnd) }
        let body = Array(bytes.dropFirst(bom))
        if concrete == .utf8 { return (body, atEnd) }
        var t = Transcoder(concrete)
        var out = [UInt8](repeating: 0, count: Transcoder.maxOutput(forInput: body.count))
        let n = body.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { dst in dst.baseAddress.map { t.transcode(src, into: $0) } ?? 0 }
        }
        out.removeSubrange(n...)
        return (out, atEnd)
    }

    /// Splits UTF-8 text into records (quotes respected, doubled quotes kept simple); a last
    /// record without a line end is kept only when the text is complete. Blank lines are dropped.
    static func split(_ b: [UInt8], delimiter: UInt8, quote: UInt8?, atEnd: Bool) -> [SampleRecord] {
        var records: [SampleRecord] = []
        var cells: [String] = []
        var cell: [UInt8] = []
        var inQuote = false
        var line = 0
        var recordLine = 0
        var i = 0
        var hasContent = false
        func endRecord() {
            cells.append(String(decoding: cell, as: UTF8.self))
            if hasContent || cells.count > 1 { records.append(SampleRecord(line: recordLine, cells: cells)) }
            cells = []
            cell = []
            hasContent = false
        }
        while i < b.count && records.count < sampleRecords {
            let c = b[i]
            i += 1
            if let q = quote, c == q {
                if inQuote, i < b.count, b[i] == q {
                    cell.append(q)
                    i += 1
                } else {
                    inQuote.toggle()
                }
                hasContent = true
                continue
            }
            if c == 10 || c == 13 {
                if c == 13 && i < b.count && b[i] == 10 { i += 1 }
                line += 1
                if inQuote {
                    cell.append(10)
                    continue
                }
                endRecord()
                recordLine = line
                continue
            }
            if c == delimiter && !inQuote {
                cells.append(String(decoding: cell, as: UTF8.self))
                cell = []
                hasContent = true
                continue
            }
            hasContent = true
            cell.append(c)
        }
        if atEnd && i >= b.count && (hasContent || !cell.isEmpty) && !inQuote { endRecord() }
        return records
    }

    /// The preamble: leading records (at most `maxPreamble`) whose field count differs from the
    /// most common count, when the records after them agree on it.
    static func preamble(_ records: [SampleRecord]) -> (lines: Int, evidence: String)? {
        guard records.count >= 2 else { return nil }
        var freq: [Int: Int] = [:]
        for r in records { freq[r.cells.count, default: 0] += 1 }
        guard let (mode, agree) = freq.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }), mode >= 2
        else { return nil }
        guard let first = records.firstIndex(where: { $0.cells.count == mode }), first > 0, first <= maxPreamble else {
            return nil
        }
        let rest = records[first...]
        let agreeing = rest.filter { $0.cells.count == mode }.count
        guard agreeing * 10 >= rest.count * 9 else { return nil }
        let lines = records[first].line
        let counts = Set(records[..<first].map(\.cells.count)).sorted().map(String.init).joined(separator: "/")
        return (
            lines,
            "preamble: line(s) 1-\(lines) have \(counts) field(s) while \(agree) of the \(records.count) sampled records from "
                + "line \(lines + 1) on have \(mode): use skip_lines: \(lines) (--skip-lines \(lines))"
        )
    }

    /// Whether the first record is a header: votes over the columns whose data below read as a
    /// type other than `string` (the first cell reads as it too: data; it does not: header), then
    /// repeated or empty names (data).
    static func headerGuess(_ records: [SampleRecord]) -> (header: Bool, evidence: String) {
        guard let first = records.first else { return (true, "empty sample: a header is assumed") }
        guard records.count >= 2 else { return (true, "a single record: taken as the header") }
        let width = first.cells.count
        var asHeader: [Int] = []
        var asData: [Int] = []
        for col in 0..<width {
            var g = ColumnTypeGuesser()
            for r in records.dropFirst() where col < r.cells.count { g.add(r.cells[col]) }
            let below = g.guess
            guard below.type != "string" && below.type != "empty" else { continue }
            let cell = first.cells[col]
            if cell.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            g.add(cell)
            let with = g.guess
            if with.type == below.type && with.format == below.format { asData.append(col + 1) } else { asHeader.append(col + 1) }
        }
        let names = first.cells.map { $0.trimmingCharacters(in: .whitespaces) }
        let repeated = Set(names).count < names.count
        func list(_ cols: [Int]) -> String { cols.prefix(8).map(String.init).joined(separator: ", ") + (cols.count > 8 ? ", …" : "") }
        if asData.count > asHeader.count {
            return (
                false,
                "no header: in column(s) \(list(asData)) the first record reads as the type of the values below it"
                    + (asHeader.isEmpty ? "" : " (in \(list(asHeader)) it does not)") + "; columns are named 1, 2, …"
            )
        }
        if !asHeader.isEmpty {
            return (
                true,
                "header: in column(s) \(list(asHeader)) the first record does not read as the type of the values below it"
            )
        }
        if repeated {
            return (false, "no header: the first record repeats a value, which a header would not")
        }
        return (true, "header assumed: every column is text, so the first record cannot be told apart from data by type")
    }
}
