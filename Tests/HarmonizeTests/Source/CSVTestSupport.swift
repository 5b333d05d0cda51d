@testable import Harmonize

/// One observable outcome of `DelimitedReader.next()`, comparable across runs.
enum CSVEvent: Equatable, CustomStringConvertible {
    case record(fields: [String], quoted: [Bool], line: Int, record: Int)
    case rejected(reason: RejectReason, line: Int, record: Int, field: String?)

    var description: String {
        switch self {
        case .record(let f, let q, let l, let r): return "record#\(r)@\(l) \(f) q=\(q)"
        case .rejected(let reason, let l, let r, let f): return "reject#\(r)@\(l) \(reason.rawValue) \(f ?? "-")"
        }
    }

    var fields: [String]? {
        if case .record(let f, _, _, _) = self { return f }
        return nil
    }
}

enum CSVTest {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func reader(
        _ bytes: [UInt8], dialect: Dialect = Dialect(), limits: ReaderLimits = ReaderLimits(),
        sourceChunk: Int = 1 << 20, readerChunk: Int = 1 << 20
    ) throws -> DelimitedReader {
        try DelimitedReader(
            source: MemoryByteSource(bytes, chunkSize: sourceChunk), displayName: "test.csv", dialect: dialect,
            limits: limits, chunkSize: readerChunk)
    }

    static func events(_ r: DelimitedReader) throws -> [CSVEvent] {
        var out: [CSVEvent] = []
        while true {
            switch try r.next() {
            case .record:
                let loc = r.location
                out.append(
                    .record(
                        fields: r.strings(), quoted: (0..<r.fieldCount).map { r.isQuoted($0) }, line: loc.line ?? -1,
                        record: loc.record ?? -1))
            case .rejected(let j):
                out.append(
                    .rejected(
                        reason: j.reason, line: j.location.line ?? -1, record: j.location.record ?? -1, field: j.field))
            case .end:
                return out
            }
        }
    }

    static func events(
        _ bytes: [UInt8], dialect: Dialect = Dialect(), limits: ReaderLimits = ReaderLimits(),
        sourceChunk: Int = 1 << 20, readerChunk: Int = 1 << 20
    ) throws -> [CSVEvent] {
        try events(reader(bytes, dialect: dialect, limits: limits, sourceChunk: sourceChunk, readerChunk: readerChunk))
    }

    /// Only the fields of accepted records.
    static func rows(_ s: String, dialect: Dialect = Dialect(header: false)) throws -> [[String]] {
        try events(bytes(s), dialect: dialect).compactMap(\.fields)
    }

    static func utf16(_ s: String, bigEndian: Bool, bom: Bool = true) -> [UInt8] {
        var out: [UInt8] = bom ? (bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]) : []
        for u in s.utf16 {
            let hi = UInt8(u >> 8)
            let lo = UInt8(u & 0xFF)
            out += bigEndian ? [hi, lo] : [lo, hi]
        }
        return out
    }
}
