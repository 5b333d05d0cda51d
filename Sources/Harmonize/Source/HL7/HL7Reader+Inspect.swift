/// One value of a message, with the path that reads it (for `harmonize-run inspect`).
package struct HL7Leaf: Sendable, Hashable {
    /// The path, such as `PID-3[2].4.1` (repetition shown when there are several).
    public var path: String
    /// The decoded value; nil when sent as `""` (present but null).
    public var value: String?
    /// The 1-based line of the segment.
    public var line: Int
}

extension HL7Reader {
    /// Every non-empty value of the current message, in order, with its path (allocates; for inspection).
    public func leaves() -> [HL7Leaf] {
        guard let msg = message else { return [] }
        var out: [HL7Leaf] = []
        let d = msg.delimiters
        var seen: [UInt32: Int] = [:]
        var scratch: [UInt8] = []
        for s in 0..<msg.segmentCount {
            let id = String(decoding: HL7Message.idBytes(msg.segID[s]), as: UTF8.self)
            let occ = (seen[msg.segID[s]] ?? 0) + 1
            seen[msg.segID[s]] = occ
            let seg = occ > 1 ? "\(id)[\(occ)]" : id
            let line = msg.segLine[s]
            let isMSH = msg.segID[s] == HL7Message.mshID
            let fieldCount = msg.partCount(msg.segStart[s]..<msg.segEnd[s], d.field) - (isMSH ? 0 : 1)
            guard fieldCount >= 1 else { continue }
            for f in 1...fieldCount {
                let range: Range<Int>
                switch msg.field(segment: s, f) {
                case .absent: continue
                case .verbatim(let r):
                    out.append(HL7Leaf(path: "\(seg)-\(f)", value: String(decoding: msg.bytes[r], as: UTF8.self), line: line))
                    continue
                case .data(let r): range = r
                }
                if range.isEmpty { continue }
                let reps = msg.partCount(range, d.repetition)
                for rIndex in 1...max(1, reps) {
                    guard let rep = msg.part(range, d.repetition, rIndex) else { continue }
                    let repText = reps > 1 ? "[\(rIndex)]" : ""
                    let comps = msg.partCount(rep, d.component)
                    for c in 1...max(1, comps) {
                        guard let comp = msg.part(rep, d.component, c) else { continue }
                        let subs = msg.partCount(comp, d.subcomponent)
                        for sc in 1...max(1, subs) {
                            guard let v = msg.part(comp, d.subcomponent, sc), !v.isEmpty else { continue }
                            var path = "\(seg)-\(f)\(repText)"
                            if comps > 1 || subs > 1 { path += ".\(c)" }
                            if subs > 1 { path += ".\(sc)" }
                            if msg.isPresentNull(v) {
                                out.append(HL7Leaf(path: path, value: nil, line: line))
                            } else {
                                scratch.removeAll(keepingCapacity: true)
                                HL7Escapes.decode(msg.bytes[v], delimiters: d, charset: msg.charsetKind, into: &scratch)
                                out.append(HL7Leaf(path: path, value: String(decoding: scratch, as: UTF8.self), line: line))
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
