/// Creates the reader a mapping's `source.format` calls for.
enum ReaderFactory {
    /// Opens a reader of `format` over `source`.
    /// - Throws: `RunError` (`.configuration` for an unsupported format, `.io` when the reader
    ///   cannot start, such as a delimited file without a readable header).
    /// `taps`: later mappings' collectors an XML reader's parse feeds too (`SharedXMLParses`).
    static func makeReader(
        spec: SourceSpec, dialect: Dialect, source: any ByteSource, displayName: String, taps: [XMLRecordTap] = []
    ) throws(RunError) -> any RecordReader {
        switch spec.format.text.lowercased() {
        case "csv":
            do {
                var limits = ReaderLimits()
                if let m = spec.maxRecordBytes { limits.maxRecordBytes = m }
                return try DelimitedReader(source: source, displayName: displayName, dialect: dialect, limits: limits)
            } catch {
                throw RunError(.io, "\(error)")
            }
        case "hl7v2":
            let unit: HL7RecordUnit
            switch spec.record?.text {
            case nil, "message": unit = .message
            case let id?: unit = .segment(id)
            }
            var options = HL7ReaderOptions(record: unit, skipBadSegments: spec.skipBadSegments)
            if let m = spec.maxRecordBytes { options.maxMessageBytes = m }
            return HL7Reader(source: source, displayName: displayName, options: options)
        case "xml":
            do {
                return try XMLRecordReader(source: source, displayName: displayName, options: xmlOptions(spec), taps: taps)
            } catch {
                throw RunError(.configuration, error.description)
            }
        default:
            throw RunError(.configuration, "\(displayName): source format '\(spec.format.text)' is not supported by this engine")
        }
    }

    /// The options of an XML reader for `spec`.
    static func xmlOptions(_ spec: SourceSpec) -> XMLReaderOptions {
        var options = XMLReaderOptions(record: spec.record?.text ?? "", namespaces: spec.namespaces)
        if let m = spec.maxRecordBytes { options.maxRecordTextBytes = m }
        return options
    }

    /// Whether `spec` reads XML.
    static func isXML(_ spec: SourceSpec) -> Bool { spec.format.text.lowercased() == "xml" }
}
