/// The bodies of the libFuzzer targets in `fuzz/` (run by `Scripts/fuzz.sh`): each reads one
/// input the way the engine reads data, touching every field, and must neither crash nor hang.
/// Exposed to the fuzz package only (`@_spi(Fuzzing) import Harmonize`), not part of the API.
@_spi(Fuzzing) public enum FuzzEntryPoints {
    /// Reads the input as a delimited file (default dialect, then ';' Latin-1 without header,
    /// ragged rows padded), in small chunks.
    public static func csv(_ bytes: [UInt8]) {
        let limits = ReaderLimits(maxFieldBytes: 4096, maxColumns: 256, maxRecordBytes: 1 << 16)
        for dialect in [Dialect(), Dialect(delimiter: 59, escape: 92, header: false, encoding: .latin1, raggedRows: .pad)] {
            do {
                let r = try DelimitedReader(source: MemoryByteSource(bytes, chunkSize: 7), displayName: "fuzz.csv", dialect: dialect, limits: limits)
                drain(r) { for i in 0..<r.fieldCount { _ = r.string(i) } }
            } catch {
                continue  // a header the dialect refuses: nothing more to read
            }
        }
    }

    /// Reads the input as HL7 v2 messages, per message and per OBX, extracting a few paths.
    public static func hl7(_ bytes: [UInt8]) {
        let paths = ["MSH-10", "PID-3[4.1=INS-NIR].1", "PID-5.1", "OBX-5", "OBX[2]-3.1", "OBR-4.1", "ZBE-1"]
        for options in [
            HL7ReaderOptions(record: .message, maxMessageBytes: 1 << 16),
            HL7ReaderOptions(record: .segment("OBX"), maxMessageBytes: 1 << 16, skipBadSegments: true),
        ] {
            let r = HL7Reader(source: MemoryByteSource(bytes, chunkSize: 5), displayName: "fuzz.hl7", options: options)
            do {
                let positions = try r.bind(fields: paths)
                drain(r) { for p in positions { _ = r.withField(p) { $0.count } } }
            } catch {
                continue
            }
        }
    }

    /// Reads the input as an XML export with records at /export/sejour, binding attributes,
    /// text, child and ancestor paths.
    public static func xml(_ bytes: [UInt8]) {
        let options = XMLReaderOptions(record: "/export/sejour", namespaces: ["h": "urn:example:his"], maxDepth: 32, maxRecordTextBytes: 1 << 16)
        do {
            let r = try XMLRecordReader(source: MemoryByteSource(bytes, chunkSize: 11), displayName: "fuzz.xml", options: options)
            let positions = try r.bind(fields: ["@id", ".", "patient/@ipp", "unite/diagnostic/@code", "../@version"])
            drain(r) { for p in positions { _ = r.withField(p) { $0.count } } }
        } catch {
            return  // refused before the first record
        }
    }

    /// Compiles the first line of the input as an expression and evaluates it over values
    /// taken from the rest: keyed calls run under the public mapping-test key.
    public static func expression(_ text: String, registry: FunctionRegistry) {
        let fields: [(name: String, type: ValueType)] = [("s", .string), ("n", .integer), ("x", .number), ("d", .date), ("b", .boolean)]
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let expression = String(parts.first ?? "")
        let value = parts.count > 1 ? String(parts[1]) : "a1"
        // A compiler per input: its call-site table belongs to this expression only.
        let compiler = ExpressionCompiler(functions: registry, scope: StaticExpressionScope(fields), lookups: nil)
        guard case .success(let c) = compiler.compile(expression, file: nil, line: 1, column: 1, expected: nil) else { return }
        let frame = EvaluationFrame(slotCount: fields.count)
        let environment = RunEnvironment()
        environment.pseudonymKey = .mappingTests
        environment.dateShiftDays = 7
        do {
            frame.bind(try c.callSites.bind(environment))
            frame[0] = .string(value)
            frame[1] = .int(value.utf8.count)
            frame[2] = .double(Double(value.utf8.count) / 3)
            frame[3] = .null
            frame[4] = .bool(value.isEmpty)
            _ = try c.evaluate(frame)
        } catch {
            return  // an evaluation error is an answer
        }
    }

    /// Reads every record, calling `touch` on each; stops at the end, at a reading error, or
    /// after 100,000 events.
    private static func drain(_ r: any RecordReader, touch: () -> Void) {
        var events = 0
        while events < 100_000 {
            events += 1
            let e: ReadEvent
            do {
                e = try r.next()
            } catch {
                return
            }
            if case .end = e { return }
            if case .record = e { touch() }
        }
    }
}
