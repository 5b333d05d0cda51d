/// What dialect detection found in the first bytes of a file.
package struct SniffResult: Sendable, Hashable {
    /// The encoding: from the byte order mark, else UTF-8 when the sample is valid UTF-8,
    /// else Windows-1252 (or the declared encoding when one was given).
    public var encoding: TextEncoding
    /// Whether the file starts with a byte order mark.
    public var byteOrderMark: Bool
    /// The detected delimiter, nil when none of the candidates occurs consistently.
    public var delimiter: UInt8?
    /// The number of lines (records outside quotes) the delimiter detection looked at.
    public var linesExamined: Int
}

/// Delimiter detection by consistency of counts outside quotes over the first lines.
enum DialectSniffer {
    /// How many bytes of decoded text detection looks at, at most.
    static let sampleBytes = 64 << 10
    /// How many lines detection looks at, at most.
    static let sampleLines = 20

    /// Detects the delimiter among `Dialect.candidateDelimiters` in UTF-8 text.
    ///
    /// For each candidate the count outside quotes is taken per line over the first 20 lines; the
    /// winner has the most lines agreeing on its most frequent non-zero count, then the highest
    /// such count, then comes first in `,` `;` tab `|`. A last line without a line end is used only
    /// when `atEnd` says the text is complete.
    static func detectDelimiter(
        _ p: UnsafePointer<UInt8>, count: Int, quote: UInt8?, atEnd: Bool
    ) -> (delimiter: UInt8?, lines: Int) {
        let candidates = Dialect.candidateDelimiters
        var perLine: [[Int]] = Array(repeating: [], count: candidates.count)
        var current = [Int](repeating: 0, count: candidates.count)
        var inQuote = false
        var lineHasBytes = false
        var lines = 0
        var i = 0
        let q = quote.map { Int($0) } ?? -1
        func endLine() {
            for k in 0..<candidates.count {
                perLine[k].append(current[k])
                current[k] = 0
            }
            lines += 1
            lineHasBytes = false
        }
        while i < count && lines < sampleLines {
            let c = p[i]
            i += 1
            if Int(c) == q {
                inQuote.toggle()
                lineHasBytes = true
                continue
            }
            if inQuote { continue }
            if c == 10 || c == 13 {
                if c == 13 && i < count && p[i] == 10 { i += 1 }
                if lineHasBytes { endLine() }
                continue
            }
            lineHasBytes = true
            if let k = candidates.firstIndex(of: c) { current[k] += 1 }
        }
        if atEnd && lineHasBytes && lines < sampleLines && !inQuote { endLine() }
        var best: (index: Int, agree: Int, mode: Int)? = nil
        for k in 0..<candidates.count {
            var freq: [Int: Int] = [:]
            for n in perLine[k] where n > 0 { freq[n, default: 0] += 1 }
            guard
                let (mode, agree) = freq.max(by: { a, b in a.value != b.value ? a.value < b.value : a.key < b.key })
            else { continue }
            if let b = best, b.agree > agree || (b.agree == agree && b.mode >= mode) { continue }
            best = (k, agree, mode)
        }
        return (best.map { candidates[$0.index] }, lines)
    }
}

extension DelimitedReader {
    /// Detects the encoding and delimiter of a file from its first bytes (64 KiB is plenty), as the
    /// reader does when the dialect leaves them open; for an `inspect`-style command.
    /// - Parameters:
    ///   - bytes: the first bytes of the file.
    ///   - atEnd: whether `bytes` is the whole file.
    ///   - dialect: the declared quote, encoding and preamble (`skipLines`) to honour.
    public static func sniff(bytes: [UInt8], atEnd: Bool, dialect: Dialect = Dialect()) -> SniffResult {
        let sample = Array(bytes.prefix(DialectSniffer.sampleBytes))
        let complete = atEnd && sample.count == bytes.count
        let (encoding, bom) = sample.withUnsafeBytes {
            ConcreteEncoding.resolve(dialect.encoding, prefix: $0, atEnd: complete)
        }
        var utf8: [UInt8]
        if encoding == .utf8 {
            utf8 = Array(sample.dropFirst(bom))
        } else {
            var t = Transcoder(encoding)
            let body = Array(sample.dropFirst(bom))
            utf8 = [UInt8](repeating: 0, count: Transcoder.maxOutput(forInput: body.count))
            let n = body.withUnsafeBytes { src in
                utf8.withUnsafeMutableBufferPointer { dst in
                    dst.baseAddress.map { t.transcode(src, into: $0) } ?? 0
                }
            }
            utf8.removeSubrange(n...)
        }
        // Skip the preamble lines.
        var start = 0
        var skipped = 0
        while skipped < dialect.skipLines && start < utf8.count {
            let c = utf8[start]
            start += 1
            if c == 10 {
                skipped += 1
            } else if c == 13 {
                if start < utf8.count && utf8[start] == 10 { start += 1 }
                skipped += 1
            }
        }
        let (delimiter, lines) = utf8.withUnsafeBufferPointer { b -> (UInt8?, Int) in
            guard let base = b.baseAddress, start < b.count else { return (nil, 0) }
            return DialectSniffer.detectDelimiter(
                base + start, count: b.count - start, quote: dialect.quote, atEnd: complete)
        }
        return SniffResult(
            encoding: encoding.textEncoding, byteOrderMark: bom > 0, delimiter: dialect.delimiter ?? delimiter,
            linesExamined: lines)
    }

    /// Reads the first 64 KiB of `path` and detects its encoding and delimiter.
    /// - Throws: `DelimitedReaderError` when the file cannot be read.
    public static func sniff(path: String, dialect: Dialect = Dialect()) throws(DelimitedReaderError) -> SniffResult {
        do throws(SourceIOError) {
            let source = try FileByteSource(path: path)
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: DialectSniffer.sampleBytes, alignment: 16)
            defer { chunk.deallocate() }
            var bytes: [UInt8] = []
            var atEnd = false
            while bytes.count < DialectSniffer.sampleBytes {
                let want = DialectSniffer.sampleBytes - bytes.count
                let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<want]))
                if n == 0 {
                    atEnd = true
                    break
                }
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            }
            return sniff(bytes: bytes, atEnd: atEnd, dialect: dialect)
        } catch {
            throw DelimitedReaderError(file: path, kind: .io(error))
        }
    }
}
