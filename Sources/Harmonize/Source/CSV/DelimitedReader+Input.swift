import CHarmonizeScan

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Buffer management, encoding resolution, preamble, header and oversized-record skipping.
extension DelimitedReader {
    /// Checks the dialect's bytes and configures the scanner.
    func validateDialect() throws(DelimitedReaderError) {
        func bad(_ why: String) -> DelimitedReaderError {
            DelimitedReaderError(file: displayName, kind: .invalidDialect(why))
        }
        for (name, byte) in [("delimiter", dialect.delimiter), ("quote", dialect.quote), ("escape", dialect.escape)] {
            guard let b = byte else { continue }
            if b >= 0x80 { throw bad("the \(name) must be an ASCII character") }
            if b == 10 || b == 13 { throw bad("the \(name) cannot be a line end") }
        }
        if let d = dialect.delimiter, d == dialect.quote || d == dialect.escape {
            throw bad("the delimiter cannot also be the quote or escape character")
        }
        if dialect.escape != nil && dialect.escape == dialect.quote { dialect.escape = nil }
        if dialect.skipLines < 0 { throw bad("skipLines cannot be negative") }
        if let cols = dialect.columns {
            var seen = Set<String>()
            for c in cols where !seen.insert(c).inserted {
                throw DelimitedReaderError(file: displayName, kind: .duplicateColumn(c))
            }
        }
        quoteInt = dialect.quote.map { Int($0) } ?? -1
        escapeInt = dialect.escape.map { Int($0) } ?? -1
        trimSpaces = dialect.trimUnquotedSpaces
    }

    /// Sets the scanner's stop bytes once the delimiter is known.
    func configureScanner(delimiter: UInt8) {
        delimiterByte = delimiter
        stops[0] = delimiter
        stops[1] = 10
        stops[2] = 13
        stopCount = 3
        if escapeInt >= 0 {
            stops[3] = UInt8(truncatingIfNeeded: escapeInt)
            stopCount = 4
        }
        classesEnd = 0
    }

    /// Computes the byte classes of the buffer's bytes from `classesEnd` (its word) to `end`.
    @inline(__always)
    func classifyBytes() {
        guard classesEnd < end else { return }
        let from = classesEnd & ~63
        harmonize_scan_classes(buf + from, end - from, stops, stopCount, stopBits + (from >> 6), highBits + (from >> 6))
        classesEnd = end
    }

    /// Whether a byte of `buf[from..<to]` is 0x80 or above (its classes computed).
    @inline(__always)
    func hasHighByte(from: Int, to: Int) -> Bool {
        guard from < to else { return false }
        var w = from >> 6
        let last = (to - 1) >> 6
        var bits = highBits[w] & (~0 << UInt64(from & 63))
        while w < last {
            if bits != 0 { return true }
            w += 1
            bits = highBits[w]
        }
        let tail = to & 63
        if tail != 0 { bits &= (1 << UInt64(tail)) - 1 }
        return bits != 0
    }

    /// Resolves the encoding, skips the preamble, detects the delimiter and reads the header.
    func readPreamble() throws(DelimitedReaderError) {
        // Encoding: sniff the first 64 KiB of raw bytes.
        var sample: [UInt8] = []
        sample.reserveCapacity(DialectSniffer.sampleBytes)
        var atEnd = false
        while sample.count < DialectSniffer.sampleBytes {
            let want = min(raw.count, DialectSniffer.sampleBytes - sample.count)
            let n = try readRaw(UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]))
            if n == 0 {
                atEnd = true
                break
            }
            sample.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<n]))
        }
        let (resolved, bom) = sample.withUnsafeBytes {
            ConcreteEncoding.resolve(dialect.encoding, prefix: $0, atEnd: atEnd)
        }
        encoding = resolved
        validateUTF8 = resolved.needsValidation
        transcoder = resolved == .utf8 ? nil : Transcoder(resolved)
        prefix = sample
        prefixOffset = bom
        dialect.encoding = resolved.textEncoding

        // Preamble lines.
        var skipped = 0
        while skipped < dialect.skipLines {
            if start == end {
                if eof { break }
                try fill()
                continue
            }
            let c = buf[start]
            start += 1
            if swallowLF {
                swallowLF = false
                if c == 10 { continue }
            }
            if c == 10 {
                skipped += 1
                line += 1
            } else if c == 13 {
                skipped += 1
                line += 1
                swallowLF = true
            }
        }

        // Delimiter.
        if dialect.delimiter == nil {
            while end - start < DialectSniffer.sampleBytes && !eof {
                if start == 0 && end == cap && cap == maxCap { break }  // a tiny record limit
                try fill()
            }
            let n = min(end - start, DialectSniffer.sampleBytes)
            var sampleStart = start
            if swallowLF && sampleStart < end && buf[sampleStart] == 10 { sampleStart += 1 }
            let found = DialectSniffer.detectDelimiter(
                buf + sampleStart, count: n - (sampleStart - start), quote: dialect.quote,
                atEnd: eof && n == end - start
            ).delimiter
            dialect.delimiter = found ?? UInt8(ascii: ",")
            if dialect.delimiter == dialect.quote || dialect.delimiter == dialect.escape {
                dialect.delimiter = UInt8(ascii: ",")
            }
        }
        configureScanner(delimiter: dialect.delimiter ?? UInt8(ascii: ","))

        // Header.
        if dialect.header {
            let event = try next()
            switch event {
            case .end: throw DelimitedReaderError(file: displayName, kind: .emptyFile)
            case .rejected(let r): throw DelimitedReaderError(file: displayName, kind: .invalidHeader(r.reason))
            case .record: break
            }
            var header: [String] = []
            var seen = Set<String>()
            for i in 0..<fieldCount {
                var name = string(i)
                if name.isEmpty { name = String(i + 1) }
                if !seen.insert(name).inserted {
                    throw DelimitedReaderError(file: displayName, kind: .duplicateColumn(name))
                }
                header.append(name)
            }
            recordNumber = 0
            fieldCount = 0
            if let declared = dialect.columns {
                if declared.count != header.count {
                    throw DelimitedReaderError(
                        file: displayName,
                        kind: .headerMismatch(headerColumns: header.count, declaredColumns: declared.count))
                }
                names = declared
            } else {
                names = header
            }
            expectedColumns = names.count
        } else if let declared = dialect.columns {
            names = declared
            expectedColumns = declared.count
        } else {
            let event = try next()
            pending = event
            if case .end = event {
                names = []
            } else {
                names = (0..<pFields).map { String($0 + 1) }
                expectedColumns = pFields
            }
        }
    }

    /// Moves the unconsumed bytes to the front, grows the buffer if it is nearly full, and reads
    /// the next chunk (transcoding it to UTF-8). Sets `eof` at the end of input.
    func fill() throws(DelimitedReaderError) {
        // The bytes move (or were dropped): their classes are computed again.
        if start > 0 || end < classesEnd { classesEnd = 0 }
        if start > 0 {
            let keep = end - start
            if keep > 0 { memmove(buf, buf + start, keep) }
            end = keep
            start = 0
        }
        let minFree = transcoder == nil ? 1 : 16
        if cap - end < max(minFree, chunkSize / 4) && cap < maxCap {
            let newCap = min(maxCap, max(cap * 2, end + chunkSize))
            let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
            nb.update(from: buf, count: end)
            buf.deallocate()
            buf = nb
            cap = newCap
            stopBits.deallocate()
            highBits.deallocate()
            stopBits = .allocate(capacity: Self.classWords(cap))
            highBits = .allocate(capacity: Self.classWords(cap))
            classesEnd = 0
        }
        let free = cap - end
        guard free >= (transcoder == nil ? 1 : 16) else { return }
        if transcoder == nil {
            let want = min(free, chunkSize)
            if prefixOffset < prefix.count {
                let n = min(want, prefix.count - prefixOffset)
                prefix.withUnsafeBufferPointer { p in
                    if let base = p.baseAddress { (buf + end).update(from: base + prefixOffset, count: n) }
                }
                prefixOffset += n
                end += n
                if prefixOffset == prefix.count {
                    prefix = []
                    prefixOffset = 0
                }
                return
            }
            let n = try readRaw(UnsafeMutableRawBufferPointer(start: buf + end, count: want))
            if n == 0 { eof = true }
            end += n
            return
        }
        let want = min((free - 8) / 3, chunkSize)
        var n: Int
        if prefixOffset < prefix.count {
            n = min(want, prefix.count - prefixOffset)
            let from = prefixOffset
            prefix.withUnsafeBytes { p in
                raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[from..<(from + n)]))
            }
            prefixOffset += n
            if prefixOffset == prefix.count {
                prefix = []
                prefixOffset = 0
            }
        } else {
            n = try readRaw(UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]))
        }
        guard var t = transcoder else { return }
        if n == 0 {
            eof = true
            end += t.finish(into: buf + end)
        } else {
            end += t.transcode(UnsafeRawBufferPointer(rebasing: raw[0..<n]), into: buf + end)
        }
        transcoder = t
    }

    func readRaw(_ b: UnsafeMutableRawBufferPointer) throws(DelimitedReaderError) -> Int {
        do throws(SourceIOError) {
            let n = try source.read(into: b)
            bytesRead += Int64(n)
            return n
        } catch {
            throw DelimitedReaderError(file: displayName, kind: .io(error))
        }
    }

    /// Skips a record longer than `maxRecordBytes` up to its end (quote-aware), discarding the
    /// buffer as it goes, and rejects it (`structure-error` when end of file comes inside quotes).
    func skipOversizedRecord() throws(DelimitedReaderError) -> ReadEvent {
        enum State { case fieldStart, unquoted, escapedUnquoted, quoted, quotedQuote, escapedQuoted }
        recordNumber += 1
        recordLine = line
        var state = State.fieldStart
        var lines = 0
        var prevCR = false
        let d = delimiterByte
        scan: while true {
            if start == end {
                if eof { break scan }
                start = 0
                end = 0
                try fill()
                continue
            }
            let c = buf[start]
            start += 1
            let isNewline = c == 10 || c == 13
            if isNewline {
                if c == 13 || !prevCR { lines += 1 }
                prevCR = c == 13
            } else {
                prevCR = false
            }
            switch state {
            case .fieldStart, .unquoted, .quotedQuote:
                if state == .quotedQuote && Int(c) == quoteInt {
                    state = .quoted
                } else if c == d {
                    state = .fieldStart
                } else if isNewline {
                    if c == 13 { swallowLF = true }
                    break scan
                } else if Int(c) == escapeInt {
                    state = .escapedUnquoted
                } else if state == .fieldStart && Int(c) == quoteInt {
                    state = .quoted
                } else if state == .fieldStart && trimSpaces && c == 32 {
                    state = .fieldStart
                } else {
                    state = .unquoted
                }
            case .escapedUnquoted: state = .unquoted
            case .quoted:
                if Int(c) == quoteInt {
                    state = .quotedQuote
                } else if Int(c) == escapeInt {
                    state = .escapedQuoted
                }
            case .escapedQuoted: state = .quoted
            }
        }
        line += lines
        if state == .quoted || state == .escapedQuoted {
            return reject(.structureError, "unterminated quoted field at end of file")
        }
        return reject(.limitExceeded, "record longer than \(limits.maxRecordBytes) bytes")
    }
}
