/// Decodes the cells of one source field from UTF-8 bytes into typed values, applying the
/// field's missing values, type, formats and constraints.
///
/// Built once per used field (compiling formats, patterns and constraint values), then called
/// once per cell: integers, numbers, booleans and dates are read straight from the bytes without
/// creating a `String`. Results never carry the cell text.
///
/// A class: the row loop calls a decoder where it lies (a struct of 80 bytes was copied onto the
/// stack for every cell read through its table, `perf`), and its members never change.
package final class FieldDecoder: Sendable {
    enum Kind: Sendable {
        case string, integer, number, boolean, date, datetime, time, year, yearmonth
    }

    /// The field name (for rejects and diagnostics).
    public let name: String
    /// The declared type.
    public let type: SchemaFieldType
    /// Whether a missing value is refused (`constraints.required`, or part of the primary key).
    public let isRequired: Bool
    /// Whether values must be unique in the file (checked by the caller, which sees every row).
    public let isUnique: Bool
    let kind: Kind
    let emptyIsMissing: Bool
    let missingMarkers: [[UInt8]]
    let decimalChar: UInt8
    let groupChar: UInt8?
    let bareNumber: Bool
    let trueValues: [[UInt8]]
    let falseValues: [[UInt8]]
    let dateFormats: [DateFormat]
    let checker: ConstraintChecker?

    /// The type of the values produced (`.null` aside).
    public var valueType: ValueType { type.valueType }

    /// Builds the decoder of `field` with the given missing-value markers (the field's own
    /// `missingValues`, when declared, win).
    /// - Throws: `DiagnosticsError` with the errors `SourceSchema.validate()` reports for this field.
    public convenience init(field: SchemaField, missingValues: [String] = [""], isPrimaryKey: Bool = false)
        throws(DiagnosticsError)
    {
        var diagnostics: [Diagnostic] = []
        guard
            let d = FieldDecoder.compile(
                field: field, missingValues: field.missingValues ?? missingValues, isPrimaryKey: isPrimaryKey,
                diagnostics: &diagnostics)
        else { throw DiagnosticsError(diagnostics) }
        self.init(
            name: d.name, type: d.type, isRequired: d.isRequired, isUnique: d.isUnique, kind: d.kind, emptyIsMissing: d.emptyIsMissing,
            missingMarkers: d.missingMarkers, decimalChar: d.decimalChar, groupChar: d.groupChar, bareNumber: d.bareNumber,
            trueValues: d.trueValues, falseValues: d.falseValues, dateFormats: d.dateFormats, checker: d.checker)
    }

    /// Builds the decoder of `field` as declared in `schema` (its missing values; primary-key
    /// fields are required, as the spec says).
    public convenience init(field: SchemaField, in schema: SourceSchema) throws(DiagnosticsError) {
        try self.init(
            field: field, missingValues: schema.missingValues(for: field),
            isPrimaryKey: schema.primaryKey.contains(field.name))
    }

    /// A decoder for a column without a schema: `type` with date `formats` (tried in order;
    /// empty = `default`), a decimal char and missing values. Type `.string` (or `.any`, `.null`)
    /// just decodes text, with an empty cell read as null.
    public convenience init(
        type: ValueType, formats: [String] = [], decimalChar: String = ".", missingValues: [String] = [""],
        name: String = ""
    ) throws(DiagnosticsError) {
        let fieldType: SchemaFieldType
        switch type {
        case .null, .any, .string: fieldType = .string
        case .integer: fieldType = .integer
        case .number: fieldType = .number
        case .boolean: fieldType = .boolean
        case .date: fieldType = .date
        case .datetime: fieldType = .datetime
        }
        let field = SchemaField(
            name: name, type: fieldType, formats: formats.isEmpty ? nil : formats, decimalChar: decimalChar)
        try self.init(field: field, missingValues: missingValues)
    }

    private init(
        name: String, type: SchemaFieldType, isRequired: Bool, isUnique: Bool, kind: Kind, emptyIsMissing: Bool,
        missingMarkers: [[UInt8]], decimalChar: UInt8, groupChar: UInt8?, bareNumber: Bool,
        trueValues: [[UInt8]], falseValues: [[UInt8]], dateFormats: [DateFormat], checker: ConstraintChecker?
    ) {
        self.name = name
        self.type = type
        self.isRequired = isRequired
        self.isUnique = isUnique
        self.kind = kind
        self.emptyIsMissing = emptyIsMissing
        self.missingMarkers = missingMarkers
        self.decimalChar = decimalChar
        self.groupChar = groupChar
        self.bareNumber = bareNumber
        self.trueValues = trueValues
        self.falseValues = falseValues
        self.dateFormats = dateFormats
        self.checker = checker
    }

    // MARK: Decoding

    /// Decodes one cell (valid UTF-8).
    @inline(__always)
    public func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> FieldDecodeResult {
        if isMissing(bytes) {
            return isRequired ? .failure(.requiredMissing, rule: "required") : .value(.null)
        }
        guard let value = parse(bytes) else { return .failure(.typeError, rule: "type") }
        if let checker, let rule = checker.failedRule(value, bytes: bytes) {
            return .failure(.constraintError, rule: rule)
        }
        return .value(value)
    }

    /// Decodes one cell of a text field that the row loop may leave as its bytes
    /// (`EvaluationFrame.spans`): nil when the cell's value is the text its bytes spell as they
    /// are (a present text, well-formed UTF-8, with no constraint to check), else what `decode`
    /// gives (null for a missing value, a value or a failure).
    @inline(__always)
    func decodeText(_ bytes: UnsafeBufferPointer<UInt8>) -> FieldDecodeResult? {
        if kind == .string, checker == nil, let base = bytes.baseAddress, !isMissing(bytes),
            UTF8Validation.isValid(base, count: bytes.count)
        {
            return nil
        }
        return decode(bytes)
    }

    /// Every rule of the field that the cell breaks (`required`, `type`, or each failing
    /// constraint, in checking order); empty when the cell decodes. For reporting a rejected
    /// record completely; the row path calls `decode`, which stops at the first rule.
    func failedRules(_ bytes: UnsafeBufferPointer<UInt8>) -> [(reason: RejectReason, rule: String)] {
        if isMissing(bytes) { return isRequired ? [(.requiredMissing, "required")] : [] }
        guard let value = parse(bytes) else { return [(.typeError, "type")] }
        return checker?.failedRules(value, bytes: bytes).map { (.constraintError, $0) } ?? []
    }

    /// Decodes one cell given as text (tests, inline values; the row path uses bytes).
    public func decode(_ text: String) -> FieldDecodeResult {
        text.withUTF8Bytes { decode($0) }
    }

    @inline(__always)
    func isMissing(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if bytes.isEmpty { return emptyIsMissing }
        for marker in missingMarkers where marker.count == bytes.count {
            if marker.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) { return true }
        }
        return false
    }

    /// The typed value of a present cell, or nil when it is not of the field's type.
    func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Value? {
        switch kind {
        case .string:
            return .string(String(decoding: bytes, as: UTF8.self))
        case .integer:
            let b = bareNumber ? bytes : ByteNumberParser.stripNonNumeric(bytes, decimalChar: decimalChar)
            return ByteNumberParser.parseInt(b, groupChar: groupChar).map(Value.int)
        case .number:
            let b = bareNumber ? bytes : ByteNumberParser.stripNonNumeric(bytes, decimalChar: decimalChar)
            return ByteNumberParser.parseDouble(b, decimalChar: decimalChar, groupChar: groupChar).map(Value.double)
        case .boolean:
            for t in trueValues where t.count == bytes.count {
                if t.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) { return .bool(true) }
            }
            for f in falseValues where f.count == bytes.count {
                if f.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) { return .bool(false) }
            }
            return nil
        case .date:
            return dateFormats.withUnsafeBufferPointer { formats in
                for i in formats.indices {
                    if let days = formats[i].parseDays(bytes) { return .date(days) }
                }
                return nil
            }
        case .yearmonth:
            return parseParts(bytes).map { .date($0.daysSinceEpoch) }
        case .datetime:
            return parseParts(bytes).map { .dateTime($0.secondsSinceEpoch) }
        case .year:
            return parseParts(bytes).map { .int($0.year) }
        case .time:
            return parseParts(bytes).map { .string(DateFormat.isoTime.format($0)) }
        }
    }

    /// The parts read by the first date format that matches.
    @inline(__always)
    private func parseParts(_ bytes: UnsafeBufferPointer<UInt8>) -> DateFormat.Parts? {
        dateFormats.withUnsafeBufferPointer { formats in
            for i in formats.indices {
                if let parts = formats[i].parseParts(bytes) { return parts }
            }
            return nil
        }
    }

    // MARK: Compilation

    /// Compiles `field`, appending its problems to `diagnostics`; nil when one is an error.
    static func compile(
        field: SchemaField, missingValues: [String], isPrimaryKey: Bool, diagnostics: inout [Diagnostic]
    ) -> FieldDecoder? {
        let errorsBefore = diagnostics.filter { $0.severity == .error }.count
        func report(_ code: String, _ message: String, _ severity: Diagnostic.Severity = .error) {
            diagnostics.append(Diagnostic(code: code, severity: severity, message: "field '\(field.name)': " + message))
        }

        let kind: Kind
        switch field.type {
        case .string, .any: kind = .string
        case .integer: kind = .integer
        case .number: kind = .number
        case .boolean: kind = .boolean
        case .date: kind = .date
        case .datetime: kind = .datetime
        case .time: kind = .time
        case .year: kind = .year
        case .yearmonth: kind = .yearmonth
        case .unsupported(let name):
            kind = .string
            if SchemaFieldType.specTypesDecodedAsText.contains(name) {
                report("HZ2002", "type '\(name)' is not decoded; values are read as text", .warning)
            } else {
                report("HZ2002", "unknown type '\(name)'")
            }
        }

        func singleByte(_ s: String, _ key: String) -> UInt8? {
            let bytes = Array(s.utf8)
            guard bytes.count == 1, bytes[0] < 0x80, bytes[0] &- 48 >= 10 else {
                report("HZ2007", "\(key) must be one ASCII character that is not a digit")
                return nil
            }
            return bytes[0]
        }
        let decimalChar = singleByte(field.decimalChar, "decimalChar") ?? UInt8(ascii: ".")
        var groupChar: UInt8?
        if let g = field.groupChar, !g.isEmpty {
            groupChar = singleByte(g, "groupChar")
            if groupChar == decimalChar { report("HZ2007", "groupChar and decimalChar are the same") }
        }

        var dateFormats: [DateFormat] = []
        switch kind {
        case .date, .datetime, .time, .year, .yearmonth:
            for spec in field.dateFormats {
                do throws(DateFormatError) {
                    let resolved = try FieldDecoder.resolve(format: spec, for: field.type)
                    for f in resolved where kind == .date || kind == .datetime {
                        if !f.hasYear, f.hasDate {
                            report(
                                "HZ2009",
                                "format '\(f.pattern)' has no year; values read as in strptime, in 1900", .warning)
                        }
                    }
                    dateFormats += resolved
                } catch {
                    report("HZ2003", error.description)
                }
            }
        default:
            break
        }

        if kind == .boolean {
            let both = Set(field.trueValues).intersection(field.falseValues)
            if !both.isEmpty {
                report("HZ2008", "\(both.count) value(s) are both in trueValues and falseValues; read as true", .warning)
            }
        }

        let constraints = field.constraints
        var pattern: PatternMatcher?
        if let p = constraints.pattern {
            pattern = PatternMatcher(p)
            if pattern == nil {
                report("HZ2004", "constraint 'pattern' is not a valid regular expression (\(PatternMatcher.problem(p) ?? "invalid"))")
            }
        }

        let partial = FieldDecoder(
            name: field.name, type: field.type, isRequired: constraints.required || isPrimaryKey,
            isUnique: constraints.unique || isPrimaryKey, kind: kind, emptyIsMissing: missingValues.contains(""),
            missingMarkers: missingValues.filter { !$0.isEmpty }.map { Array($0.utf8) }, decimalChar: decimalChar,
            groupChar: groupChar, bareNumber: field.bareNumber, trueValues: field.trueValues.map { Array($0.utf8) },
            falseValues: field.falseValues.map { Array($0.utf8) }, dateFormats: dateFormats, checker: nil)

        func bound(_ scalar: SchemaScalar?, _ rule: String) -> Value? {
            guard let scalar else { return nil }
            guard let v = partial.constraintValue(scalar) else {
                report("HZ2006", "constraint '\(rule)' has a value that is not a valid \(field.type.rawValue)")
                return nil
            }
            return v
        }
        let minimum = bound(constraints.minimum, "minimum")
        let maximum = bound(constraints.maximum, "maximum")
        var allowed: Set<Value>?
        if let values = constraints.enum {
            allowed = Set(values.compactMap { bound($0, "enum") })
        }

        guard diagnostics.filter({ $0.severity == .error }).count == errorsBefore else { return nil }
        guard constraints.hasValueChecks else { return partial }
        let checker = ConstraintChecker(
            allowed: allowed, pattern: pattern, minimum: minimum, maximum: maximum,
            minLength: constraints.minLength, maxLength: constraints.maxLength, enumOnBytes: kind == .string)
        return FieldDecoder(
            name: partial.name, type: partial.type, isRequired: partial.isRequired, isUnique: partial.isUnique,
            kind: kind, emptyIsMissing: partial.emptyIsMissing, missingMarkers: partial.missingMarkers,
            decimalChar: decimalChar, groupChar: groupChar, bareNumber: partial.bareNumber,
            trueValues: partial.trueValues, falseValues: partial.falseValues, dateFormats: dateFormats,
            checker: checker)
    }

    /// A constraint value (`minimum`, `maximum`, `enum` entry) in the field's type: numbers as
    /// they are, strings read like a cell (then with `.` decimals or ISO dates as a fallback).
    func constraintValue(_ scalar: SchemaScalar) -> Value? {
        switch (kind, scalar) {
        case (.integer, .integer(let i)), (.year, .integer(let i)): return .int(i)
        case (.integer, .number(let d)), (.year, .number(let d)):
            return d.rounded() == d && abs(d) < 9e18 ? .int(Int(d)) : .double(d)
        case (.number, .integer(let i)): return .double(Double(i))
        case (.number, .number(let d)): return .double(d)
        case (.boolean, .boolean(let b)): return .bool(b)
        default: break
        }
        var text = scalar.description
        return text.withUTF8 { bytes -> Value? in
            if let v = parse(bytes) { return v }
            switch kind {
            case .number:
                return ByteNumberParser.parseDouble(bytes, decimalChar: UInt8(ascii: "."), groupChar: nil).map(Value.double)
            case .date:
                return DateFormat.isoDate.parseDate(bytes).map(Value.date)
            case .time:
                return DateFormat.isoTime.parseParts(bytes).map { .string(DateFormat.isoTime.format($0)) }
            case .datetime:
                return (DateFormat.isoDateTime.parseDateTime(bytes) ?? DateFormat.isoDate.parseDateTime(bytes))
                    .map(Value.dateTime)
            default:
                return nil
            }
        }
    }

    /// The formats a `format` entry stands for: `default`, `any`, or a pattern.
    static func resolve(format spec: String, for type: SchemaFieldType) throws(DateFormatError) -> [DateFormat] {
        switch (spec, type) {
        case ("default", .datetime), ("", .datetime): return [DateFormat.isoDateTime]
        case ("default", .time), ("", .time): return [DateFormat.isoTime]
        case ("default", .year), ("", .year), ("any", .year): return [try DateFormat(pattern: "yyyy")]
        case ("default", .yearmonth), ("", .yearmonth), ("any", .yearmonth):
            return [try DateFormat(pattern: "yyyy-MM"), try DateFormat(pattern: "yyyyMM")]
        case ("default", _), ("", _): return [DateFormat.isoDate]
        case ("any", .datetime):
            return [
                DateFormat.isoDateTime, try DateFormat(pattern: "yyyy-MM-dd HH:mm:ss"),
                try DateFormat(pattern: "ddMMMyyyy:HH:mm:ss"), try DateFormat(pattern: "dd/MM/yyyy HH:mm:ss"),
                DateFormat.isoDate,
            ]
        case ("any", .time): return [DateFormat.isoTime, try DateFormat(pattern: "HH:mm")]
        case ("any", _):
            return [
                DateFormat.isoDate, try DateFormat(pattern: "yyyyMMdd"), try DateFormat(pattern: "dd/MM/yyyy"),
                try DateFormat(pattern: "dd-MM-yyyy"), try DateFormat(pattern: "dd.MM.yyyy"),
                try DateFormat(pattern: "ddMMMyyyy"),
            ]
        default:
            return [try DateFormat(pattern: spec)]
        }
    }
}
