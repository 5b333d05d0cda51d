/// `on_bad_segment: skip-segment`: lines of a message that are not segments (a `// comment`, a
/// stray `WHOOPS`) are taken out of the message, which is then read without them; each one is
/// returned as a reject of its own (`structure-error`, its line number, the message number as
/// `record`) before the message's records.
///
/// Accounting: a skipped line is a reject that is not a record. It is counted once in the ledger's
/// `read` and once in `rejected` (so `read = written + rejected + filtered + excluded` still
/// holds); `read` is then the number of records plus the number of skipped lines.
extension HL7Reader {
    /// Whether `line` (a range of `lineBytes`) is a segment of a message whose field separator is
    /// `fs`: a 3-character id (upper-case letters and digits), then the separator or the end of
    /// the line (R17).
    func isSegmentLine(_ line: HL7Message.Line, fieldSeparator fs: UInt8) -> Bool {
        let s = line.start
        return line.count >= 3 && HL7Message.isIDByte(lineBytes[s]) && HL7Message.isIDByte(lineBytes[s + 1])
            && HL7Message.isIDByte(lineBytes[s + 2]) && (line.count == 3 || lineBytes[s + 3] == fs)
    }

    /// With `skipBadSegments`, removes from a message (`messageLines`) that starts with an MSH
    /// (with a usable field separator) the lines after the MSH that are not segments; returns
    /// their line numbers and positions in the message (1-based), in order.
    func removeBadSegments() -> [(line: Int, position: Int)] {
        guard options.skipBadSegments, messageLines.count > 1, let first = messageLines.first, first.count >= 4,
            lineBytes[first.start] == 77, lineBytes[first.start + 1] == 83, lineBytes[first.start + 2] == 72,
            HL7Message.isDelimiterByte(lineBytes[first.start + 3])
        else { return [] }
        let fs = lineBytes[first.start + 3]
        var skipped: [(line: Int, position: Int)] = []
        var kept = 1
        for k in 1..<messageLines.count {
            let line = messageLines[k]
            if isSegmentLine(line, fieldSeparator: fs) {
                messageLines[kept] = line
                kept += 1
            } else {
                skipped.append((line.number, k + 1))
            }
        }
        messageLines.removeLast(messageLines.count - kept)
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
