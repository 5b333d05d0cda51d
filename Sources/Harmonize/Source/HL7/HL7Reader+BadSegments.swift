/// `on_bad_segment: skip-segment`: lines of a message that are not segments (a `// comment`, a
/// stray `WHOOPS`) are taken out of the message, which is then read without them; each one is
/// returned as a reject of its own (`structure-error`, its line number, the message number as
/// `record`) before the message's records.
///
/// Accounting: a skipped line is a reject that is not a record. It is counted once in the ledger's
/// `read` and once in `rejected` (so `read = written + rejected + filtered + excluded` still
/// holds); `read` is then the number of records plus the number of skipped lines.
extension HL7Reader {
    /// Whether `line` is a segment of a message whose field separator is `fs`: a 3-character id
    /// (upper-case letters and digits), then the separator or the end of the line (R17).
    static func isSegmentLine(_ line: [UInt8], fieldSeparator fs: UInt8) -> Bool {
        line.count >= 3 && HL7Message.isIDByte(line[0]) && HL7Message.isIDByte(line[1]) && HL7Message.isIDByte(line[2])
            && (line.count == 3 || line[3] == fs)
    }

    /// With `skipBadSegments`, removes from a message that starts with an MSH (with a usable field
    /// separator) the lines after the MSH that are not segments; returns their line numbers and
    /// positions in the message (1-based), in order.
    func removeBadSegments(_ lines: inout [[UInt8]], _ lineNumbers: inout [Int]) -> [(line: Int, position: Int)] {
        guard options.skipBadSegments, lines.count > 1, let first = lines.first, first.count >= 4, Self.isMSH(first),
            HL7Message.isDelimiterByte(first[3])
        else { return [] }
        let fs = first[3]
        var skipped: [(line: Int, position: Int)] = []
        var keptLines: [[UInt8]] = [first]
        var keptNumbers: [Int] = [lineNumbers.first ?? 0]
        for k in 1..<lines.count {
            let ln = k < lineNumbers.count ? lineNumbers[k] : 0
            if Self.isSegmentLine(lines[k], fieldSeparator: fs) {
                keptLines.append(lines[k])
                keptNumbers.append(ln)
            } else {
                skipped.append((ln, k + 1))
            }
        }
        guard !skipped.isEmpty else { return [] }
        lines = keptLines
        lineNumbers = keptNumbers
        return skipped
    }

    /// The reject of one skipped line; the current message stays (its records follow).
    func skippedLineReject(_ skipped: (line: Int, position: Int)) -> ReadEvent {
        recordLine = skipped.line
        recordPath = "segment \(skipped.position)"
        recordOccurrence = nil
        return .rejected(
            Reject(
                reason: .structureError, location: location,
                message: "line is not a segment (3-character id then the field separator, R17); skipped (on_bad_segment: skip-segment)"))
    }
}
