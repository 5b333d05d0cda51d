/// Identifies one record of a source file the way readers locate it: the record number (CSV data
/// row, HL7 message, XML record element) and the physical line where it starts (for HL7 segment
/// records, the line of the segment: several segment records share their message's number).
package struct RecordKey: Sendable, Hashable, Codable {
    /// 1-based record number, when known.
    public var record: Int?
    /// 1-based line, when known.
    public var line: Int?

    /// Creates a key.
    public init(record: Int?, line: Int?) {
        self.record = record
        self.line = line
    }

    /// The key of a location.
    public init(_ location: SourceLocation) {
        self.init(record: location.record, line: location.line)
    }
}
