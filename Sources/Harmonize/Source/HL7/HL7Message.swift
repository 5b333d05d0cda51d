import Foundation

/// One HL7 v2 message held in UTF-8, with its delimiters (read from its own MSH-1/MSH-2, rule R2)
/// and the byte range, id and line of each segment. Values are split and unescaped on demand;
/// each segment's field separators are found once, on first use.
///
/// A reader owns one and loads every message into it (`load(from:lines:)`): its buffers keep
/// their capacity, so reading a message allocates nothing once they have grown. A class, not a
/// struct: the reader reads it for every record (one per OBX), and copying a struct of arrays
/// cost a retain and a release of each.
final class HL7Message {
    /// The delimiters of one message.
    struct Delimiters: Equatable {
        var field: UInt8
        var component: UInt8
        var repetition: UInt8
        var escape: UInt8
        var subcomponent: UInt8
        /// The v2.7 truncation character, when MSH-2 has five characters (kept as data, R13).
        var truncation: UInt8?
    }

    /// Why a message cannot be read; the text never holds a value.
    struct Failure: Error {
        var reason: RejectReason
        var path: String
        var line: Int
        var message: String
    }

    /// One line of a message: `buffer[start..<end]`, terminators removed, raw bytes as read.
    struct Line {
        var start: Int
        var end: Int
        var number: Int
        var count: Int { end - start }
    }

    // The members read for every bound path of every record skip the dynamic exclusivity checks
    // (10 % of an ORU run when they were class `var`s with the checks): one reader uses a
    // message, from one thread, and no access outlives a call.
    /// The message in UTF-8 (segments one after another, no terminators).
    @exclusivity(unchecked) private(set) var bytes: [UInt8] = []
    @exclusivity(unchecked) private(set) var segStart: [Int] = []
    @exclusivity(unchecked) private(set) var segEnd: [Int] = []
    @exclusivity(unchecked) private(set) var segID: [UInt32] = []
    @exclusivity(unchecked) private(set) var segLine: [Int] = []
    /// Per segment, where its field separators start in `separators` (-1: not found yet).
    @exclusivity(unchecked) private var separatorBase: [Int] = []
    /// Per segment, how many field separators it has (valid once `separatorBase` is set).
    @exclusivity(unchecked) private var separatorCount: [Int] = []
    /// Positions of the field separators of the segments looked at so far, segment by segment
    /// (`separatorsUsed` of `separatorsCapacity`): written through a pointer, where an array's
    /// append per separator cost a uniqueness check each.
    @exclusivity(unchecked) private var separators = UnsafeMutablePointer<Int>.allocate(capacity: 256)
    @exclusivity(unchecked) private var separatorsUsed = 0
    @exclusivity(unchecked) private var separatorsCapacity = 256
    @exclusivity(unchecked) private(set) var delimiters = Delimiters(
        field: 124, component: 94, repetition: 126, escape: 92, subcomponent: 38, truncation: nil)
    /// The charset named by MSH-18, as written (empty when absent).
    private(set) var charset = ""
    @exclusivity(unchecked) private(set) var charsetKind = HL7Charset.Kind.asciiOrUTF8

    static func id(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt32 { UInt32(a) << 16 | UInt32(b) << 8 | UInt32(c) }
    static let mshID = id(77, 83, 72)
    static func idBytes(_ id: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: id >> 16), UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id)]
    }

    static func isIDByte(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 48 && c <= 57) }
    static func isDelimiterByte(_ c: UInt8) -> Bool {
        c >= 0x21 && c <= 0x7E && !isIDByte(c) && !(c >= 97 && c <= 122)
    }

    /// An empty message (load one with `load(from:lines:)`).
    init() {}

    deinit { separators.deallocate() }

    /// Loads a message from its segment lines, ranges of `buffer`, replacing the one held.
    /// - Throws: `Failure` for a missing or malformed MSH, a line that is not a segment, or bytes
    ///   not valid in the declared charset; the message held is then unusable until the next load.
    func load(from buffer: [UInt8], lines: [Line]) throws(Failure) {
        bytes.removeAll(keepingCapacity: true)
        segStart.removeAll(keepingCapacity: true)
        segEnd.removeAll(keepingCapacity: true)
        segID.removeAll(keepingCapacity: true)
        segLine.removeAll(keepingCapacity: true)
        separatorBase.removeAll(keepingCapacity: true)
        separatorCount.removeAll(keepingCapacity: true)
        separatorsUsed = 0
        guard let first = lines.first else {
            throw Failure(reason: .structureError, path: "MSH", line: 0, message: "empty message")
        }
        let firstLine = first.number
        let f0 = first.start
        guard first.count >= 3, buffer[f0] == 77, buffer[f0 + 1] == 83, buffer[f0 + 2] == 72 else {
            throw Failure(reason: .structureError, path: "MSH", line: firstLine, message: "message does not start with an MSH segment")
        }
        guard first.count >= 4, Self.isDelimiterByte(buffer[f0 + 3]) else {
            throw Failure(
                reason: .structureError, path: "MSH-1", line: firstLine, message: "MSH-1 (field separator) missing or not a printable ASCII delimiter"
            )
        }
        let fs = buffer[f0 + 3]
        var enc: [UInt8] = []
        var i = f0 + 4
        while i < first.end, buffer[i] != fs {
            enc.append(buffer[i])
            i += 1
        }
        guard enc.count == 4 || enc.count == 5, enc.allSatisfy(Self.isDelimiterByte), !enc.contains(fs),
            Set(enc).count == enc.count
        else {
            throw Failure(
                reason: .structureError, path: "MSH-2", line: firstLine,
                message: "MSH-2 must hold 4 or 5 distinct printable ASCII delimiters (R2, R13)")
        }
        let delimiters = Delimiters(
            field: fs, component: enc[0], repetition: enc[1], escape: enc[2], subcomponent: enc[3],
            truncation: enc.count == 5 ? enc[4] : nil)
        // MSH-18: the 17th item after the segment id (MSH-1 is the separator itself).
        var fieldNo = 2
        var fstart = f0 + 4
        var msh18: ArraySlice<UInt8> = []
        for j in (f0 + 4)...first.end where j == first.end || buffer[j] == fs {
            if fieldNo == 18 {
                msh18 = buffer[fstart..<j]
                break
            }
            fieldNo += 1
            fstart = j + 1
        }
        if let r = msh18.firstIndex(of: enc[1]) { msh18 = msh18[..<r] }
        // The name is kept as text only when it changes (most files name one charset, or none).
        if !msh18.elementsEqual(charset.utf8) {
            let name = String(decoding: msh18, as: UTF8.self).trimmingSpaces()
            charsetKind = try Self.charset(named: name, line: firstLine)
            charset = name
        }
        let cs = charsetKind
        for (k, line) in lines.enumerated() {
            let s = line.start
            guard line.count >= 3, Self.isIDByte(buffer[s]), Self.isIDByte(buffer[s + 1]), Self.isIDByte(buffer[s + 2]),
                line.count == 3 || buffer[s + 3] == fs
            else {
                throw Failure(
                    reason: .structureError, path: "segment \(k + 1)", line: line.number,
                    message: "line is not a segment (3-character id then the field separator, R17)")
            }
            let id = Self.id(buffer[s], buffer[s + 1], buffer[s + 2])
            if k > 0, id == Self.mshID {
                throw Failure(reason: .structureError, path: "segment \(k + 1)", line: line.number, message: "second MSH inside a message")
            }
            let start = bytes.count
            guard HL7Charset.append(buffer[line.start..<line.end], charset: cs, to: &bytes) else {
                throw Failure(
                    reason: .encodingError, path: "segment \(k + 1)", line: line.number,
                    message: "bytes not valid in charset '\(charset.isEmpty ? "ASCII" : charset)'")
            }
            segStart.append(start)
            segEnd.append(bytes.count)
            segID.append(id)
            segLine.append(line.number)
            separatorBase.append(-1)
            separatorCount.append(0)
        }
        self.delimiters = delimiters
    }

    static func charset(named name: String, line: Int) throws(Failure) -> HL7Charset.Kind {
        guard let kind = HL7Charset.kind(named: name) else {
            throw Failure(reason: .encodingError, path: "MSH-18", line: line, message: "unsupported character set in MSH-18")
        }
        return kind
    }

    var segmentCount: Int { segStart.count }

    // MARK: Splitting

    /// The n-th (1-based) part of `range` split on `sep`; nil when absent (R6).
    func part(_ range: Range<Int>, _ sep: UInt8, _ n: Int) -> Range<Int>? {
        var k = 1
        var s = range.lowerBound
        var i = s
        while i < range.upperBound {
            if bytes[i] == sep {
                if k == n { return s..<i }
                k += 1
                s = i + 1
            }
            i += 1
        }
        return k == n ? s..<range.upperBound : nil
    }

    /// The number of parts of `range` split on `sep` (0 for an empty range).
    func partCount(_ range: Range<Int>, _ sep: UInt8) -> Int {
        if range.isEmpty { return 0 }
        var k = 1
        for i in range where bytes[i] == sep { k += 1 }
        return k
    }

    /// What a field lookup found.
    enum FieldRange {
        case absent
        case verbatim(Range<Int>)
        case data(Range<Int>)
    }

    /// Field `n` of segment `s`, with MSH numbering (R3).
    func field(segment s: Int, _ n: Int) -> FieldRange {
        if segID[s] == Self.mshID {
            if n == 1 { return .verbatim(segStart[s] + 3..<segStart[s] + 4) }
            guard let r = fieldPart(segment: s, n) else { return .absent }
            return n == 2 ? .verbatim(r) : .data(r)
        }
        guard let r = fieldPart(segment: s, n + 1) else { return .absent }
        return .data(r)
    }

    /// The n-th (1-based) part of segment `s` split on the field separator, nil when absent: the
    /// same as `part(segStart[s]..<segEnd[s], delimiters.field, n)`, from the segment's separator
    /// positions (found on the first call for the segment, so the paths of one record do not
    /// scan its segment again each).
    func fieldPart(segment s: Int, _ n: Int) -> Range<Int>? {
        guard n >= 1 else { return nil }
        var base = separatorBase[s]
        if base < 0 {
            base = separatorsUsed
            let fs = delimiters.field
            let start = segStart[s]
            let end = segEnd[s]
            if separatorsUsed + (end - start) > separatorsCapacity {
                var capacity = separatorsCapacity * 2
                while capacity < separatorsUsed + (end - start) { capacity *= 2 }
                let grown = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
                grown.update(from: separators, count: separatorsUsed)
                separators.deallocate()
                separators = grown
                separatorsCapacity = capacity
            }
            let out = separators
            var k = separatorsUsed
            bytes.withUnsafeBufferPointer { b in
                var i = start
                while i < end {
                    if b[i] == fs {
                        out[k] = i
                        k += 1
                    }
                    i += 1
                }
            }
            separatorsUsed = k
            separatorBase[s] = base
            separatorCount[s] = k - base
        }
        let count = separatorCount[s]
        guard n <= count + 1 else { return nil }
        let lower = n == 1 ? segStart[s] : separators[base + n - 2] + 1
        let upper = n <= count ? separators[base + n - 1] : segEnd[s]
        return lower..<upper
    }

    /// The component/sub-component `c.s` of one repetition.
    func item(_ rep: Range<Int>, _ c: Int, _ s: Int) -> Range<Int>? {
        guard let comp = part(rep, delimiters.component, c) else { return nil }
        return part(comp, delimiters.subcomponent, s)
    }

    /// Whether `r` is exactly `""` (present but null, R5).
    func isPresentNull(_ r: Range<Int>) -> Bool {
        r.count == 2 && bytes[r.lowerBound] == 34 && bytes[r.lowerBound + 1] == 34
    }

    /// Finds the segment a path reads: explicit occurrence, the current record's segment, the
    /// nearest preceding one, else the first one.
    func segmentIndex(for path: HL7Path, current: Int?) -> Int? {
        segmentIndex(for: path.compiled, current: current)
    }

    /// `segmentIndex(for:current:)` of a compiled path.
    func segmentIndex(for path: HL7Path.Compiled, current: Int?) -> Int? {
        let want = path.segment
        if path.occurrence > 0 {
            var k = 0
            for i in 0..<segmentCount where segID[i] == want {
                k += 1
                if k == path.occurrence { return i }
            }
            return nil
        }
        if let current {
            var i = min(current, segmentCount - 1)
            while i >= 0 {
                if segID[i] == want { return i }
                i -= 1
            }
        }
        return segID.firstIndex(of: want)
    }

    /// Where an extracted value is.
    enum Located: Equatable {
        /// Absent: empty text.
        case absent
        /// Sent as `""`: present but null (R5).
        case null
        /// These bytes of the message, as they are (no escape sequence to decode).
        case bytes(Range<Int>)
        /// Decoded into the buffer given.
        case decoded
    }

    /// The bytes `range` of the message (valid until the next `load`).
    func buffer(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        bytes.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[range]) }
    }

    /// Extracts the value of `path` into `out` (decoded UTF-8); returns whether it is present-null.
    func extract(_ path: HL7Path, current: Int?, into out: inout [UInt8]) -> Bool {
        extract(path, segment: segmentIndex(for: path, current: current), into: &out)
    }

    /// Extracts the value of `path` in segment `s` (as found by `segmentIndex`) into `out`.
    func extract(_ path: HL7Path, segment s: Int?, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        switch locate(path, segment: s, decodingInto: &out) {
        case .absent, .decoded: return false
        case .null: return true
        case .bytes(let r):
            out.append(contentsOf: bytes[r])
            return false
        }
    }

    /// Finds the value of `path` in segment `s`: a value without escape sequences is a range of
    /// the message (nothing copied), one with them is decoded into `out`.
    func locate(_ path: HL7Path, segment s: Int?, decodingInto out: inout [UInt8]) -> Located {
        guard case .condition(let c, let sc, let value) = path.repetition else {
            return locate(path.compiled, segment: s, decodingInto: &out)
        }
        return locate(path.compiled, segment: s, condition: (c, sc, value), decodingInto: &out)
    }

    /// `locate` of a compiled path: its repetition is the numbered one, or with `condition` the
    /// first whose component (and sub-component) decodes to the value (the `HL7Path`'s).
    func locate(
        _ path: HL7Path.Compiled, segment s: Int?, condition: (component: Int, subcomponent: Int, value: [UInt8])? = nil,
        decodingInto out: inout [UInt8]
    ) -> Located {
        guard let s else { return .absent }
        let data: Range<Int>
        switch field(segment: s, path.field) {
        case .absent: return .absent
        case .verbatim(let r): return .bytes(r)
        case .data(let r): data = r
        }
        let rep = condition.map { firstRepetition(of: data, where: $0) } ?? part(data, delimiters.repetition, path.repetition)
        guard let rep else { return .absent }
        return locate(repetition: rep, path.component, path.subcomponent, decodingInto: &out)
    }

    /// The first repetition of field `data` whose component `c` (sub-component `s`) decodes to
    /// exactly `value`.
    private func firstRepetition(of data: Range<Int>, where condition: (component: Int, subcomponent: Int, value: [UInt8])) -> Range<Int>? {
        var scratch: [UInt8] = []
        for n in 1...max(1, partCount(data, delimiters.repetition)) {
            guard let r = part(data, delimiters.repetition, n), let v = item(r, condition.component, condition.subcomponent) else { continue }
            scratch.removeAll(keepingCapacity: true)
            HL7Escapes.decode(bytes[v], delimiters: delimiters, charset: charsetKind, into: &scratch)
            if scratch == condition.value { return r }
        }
        return nil
    }

    /// Component `c`, sub-component `sc` of repetition `rep`.
    private func locate(repetition rep: Range<Int>, _ c: Int, _ sc: Int, decodingInto out: inout [UInt8]) -> Located {
        guard let v = item(rep, c, sc) else { return .absent }
        if isPresentNull(v) { return .null }
        let esc = delimiters.escape
        let plain = bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress, !v.isEmpty else { return true }
            return memchr(base + v.lowerBound, Int32(esc), v.count) == nil
        }
        if plain { return .bytes(v) }
        out.removeAll(keepingCapacity: true)
        HL7Escapes.decode(bytes[v], delimiters: delimiters, charset: charsetKind, into: &out)
        return .decoded
    }
}

@available(*, unavailable)
extension HL7Message: Sendable {}
