/// Where a record, a reject or a finding comes from, without any cell value.
package struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file path as given to the run (relative to the input folder when there is one).
    public var file: String
    /// 1-based physical line where the record starts, when the format has lines.
    public var line: Int?
    /// 1-based column, when known.
    public var column: Int?
    /// 1-based record number within the file (data row, HL7 message, XML record element).
    public var record: Int?
    /// A structural path inside the record (XML element path, HL7 segment and field such as `OBX[2]`).
    public var path: String?

    /// Creates a location.
    public init(file: String, line: Int? = nil, column: Int? = nil, record: Int? = nil, path: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.record = record
        self.path = path
    }

    /// `file:line:column` plus record and path where known.
    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        if let column { s += ":\(column)" }
        if let record { s += " record \(record)" }
        if let path { s += " at \(path)" }
        return s
    }
}
