/// Run-time changes to a source schema (a dialect profile: a site that writes dates as
/// `dd/MM/yyyy`, numbers with a decimal comma, `NA` for missing).
package struct SchemaOverride: Sendable, Hashable, Codable {
    /// Formats that replace those of every `date` field, and of every `datetime` field when
    /// `dateTimeFormats` is nil.
    public var dateFormats: [String]?
    /// Formats that replace those of every `datetime` field.
    public var dateTimeFormats: [String]?
    /// The decimal char of every `number` field.
    public var decimalChar: String?
    /// Missing values for the whole schema; fields' own `missingValues` are dropped.
    public var missingValues: [String]?

    /// Creates an override; nil leaves that part of the schema as it is.
    public init(dateFormats: [String]? = nil, dateTimeFormats: [String]? = nil, decimalChar: String? = nil, missingValues: [String]? = nil) {
        self.dateFormats = dateFormats
        self.dateTimeFormats = dateTimeFormats
        self.decimalChar = decimalChar
        self.missingValues = missingValues
    }

    /// `schema` with this override applied.
    public func applied(to schema: SourceSchema) -> SourceSchema {
        var result = schema
        if let missingValues { result.missingValues = missingValues }
        for i in result.fields.indices {
            if missingValues != nil { result.fields[i].missingValues = nil }
            switch result.fields[i].type {
            case .date, .datetime:
                let type = result.fields[i].type
                if let formats = type == .datetime ? (dateTimeFormats ?? dateFormats) : dateFormats {
                    result.fields[i].formats = formats
                    result.fields[i].format = nil
                }
            case .number:
                if let decimalChar { result.fields[i].decimalChar = decimalChar }
            default:
                break
            }
        }
        return result
    }
}
