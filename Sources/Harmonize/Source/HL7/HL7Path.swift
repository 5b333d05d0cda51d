/// A compiled HL7 v2 path such as `PID-5.1`, `PID-3[2].1`, `OBX-5`, `PID-3.4.2`, `OBX[2]-5` or
/// `PID-3[4.1=INS-NIR].1`.
///
/// Grammar: `SEG[occurrence]-field[repetition].component.subcomponent`, where
/// - `SEG` is a three-character segment id (`A`–`Z`, `0`–`9`), Z-segments included;
/// - `[occurrence]` (optional, 1-based) picks the n-th such segment of the message; without it the
///   path reads the segment of the current record (record unit = that segment), else the nearest
///   preceding one (so `OBR-4.1` read from an `OBX` record is its parent order), else the first one;
/// - `field` is 1-based, with MSH numbering (`MSH-1` is the field separator, `MSH-2` the encoding
///   characters, both returned verbatim);
/// - `[repetition]` (optional) is a 1-based index, or a condition `[c=VALUE]` / `[c.s=VALUE]` that picks
///   the first repetition whose component `c` (sub-component `s`) decodes to exactly `VALUE`;
/// - omitted levels mean the first one: `PID-5` is `PID-5[1].1.1` (the terser convention).
package struct HL7Path: Sendable, Hashable, CustomStringConvertible {
    /// How a repetition is chosen.
    public enum Repetition: Sendable, Hashable {
        /// The n-th repetition (1-based).
        case index(Int)
        /// The first repetition whose component (and sub-component) equals the UTF-8 value.
        case condition(component: Int, subcomponent: Int, value: [UInt8])
    }

    /// The segment id bytes (3 ASCII bytes).
    public var segment: [UInt8]
    /// An explicit 1-based occurrence of the segment in the message.
    public var occurrence: Int?
    /// The 1-based field number.
    public var field: Int
    /// The repetition.
    public var repetition: Repetition
    /// The 1-based component.
    public var component: Int
    /// The 1-based sub-component.
    public var subcomponent: Int
    /// The text the path was compiled from.
    public var description: String

    /// Compiles `text`; nil when it is not a valid path.
    public init?(_ text: String) {
        var p = Array(text.utf8)[...]
        func isIDByte(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 48 && c <= 57) }
        func number(_ p: inout ArraySlice<UInt8>) -> Int? {
            var n = 0
            var digits = 0
            while let c = p.first, c >= 48, c <= 57 {
                n = n * 10 + Int(c - 48)
                digits += 1
                p = p.dropFirst()
                if digits > 6 { return nil }
            }
            return digits > 0 && n > 0 ? n : nil
        }
        guard p.count >= 5, isIDByte(p[p.startIndex]), isIDByte(p[p.startIndex + 1]), isIDByte(p[p.startIndex + 2]) else { return nil }
        segment = Array(p.prefix(3))
        p = p.dropFirst(3)
        occurrence = nil
        if p.first == UInt8(ascii: "[") {
            p = p.dropFirst()
            guard let n = number(&p), p.first == UInt8(ascii: "]") else { return nil }
            occurrence = n
            p = p.dropFirst()
        }
        guard p.first == UInt8(ascii: "-") else { return nil }
        p = p.dropFirst()
        guard let f = number(&p) else { return nil }
        field = f
        repetition = .index(1)
        if p.first == UInt8(ascii: "[") {
            p = p.dropFirst()
            guard let n = number(&p) else { return nil }
            if p.first == UInt8(ascii: "]") {
                repetition = .index(n)
                p = p.dropFirst()
            } else {
                var sub = 1
                if p.first == UInt8(ascii: ".") {
                    p = p.dropFirst()
                    guard let s = number(&p) else { return nil }
                    sub = s
                }
                guard p.first == UInt8(ascii: "="), let close = p.lastIndex(of: UInt8(ascii: "]")) else { return nil }
                let value = Array(p[(p.startIndex + 1)..<close])
                repetition = .condition(component: n, subcomponent: sub, value: value)
                p = p[(close + 1)...]
            }
        }
        component = 1
        subcomponent = 1
        if p.first == UInt8(ascii: ".") {
            p = p.dropFirst()
            guard let c = number(&p) else { return nil }
            component = c
            if p.first == UInt8(ascii: ".") {
                p = p.dropFirst()
                guard let s = number(&p) else { return nil }
                subcomponent = s
            }
        }
        guard p.isEmpty else { return nil }
        description = text
    }

    /// The segment id as text.
    public var segmentID: String { String(decoding: segment, as: UTF8.self) }

    /// The path as plain numbers, what a reader reads for every record: copying an `HL7Path`
    /// retains its segment bytes, repetition and text (with the releases, a tenth of the reading
    /// thread of an ORU run, `perf`); a `Compiled` holds nothing to retain.
    struct Compiled {
        /// The segment id, packed as `HL7Message.id`.
        var segment: UInt32
        /// The explicit 1-based occurrence, 0 when there is none.
        var occurrence: Int
        var field: Int
        /// The 1-based repetition; 0 when a condition picks it (read from the `HL7Path`).
        var repetition: Int
        var component: Int
        var subcomponent: Int
    }

    /// The path as plain numbers.
    var compiled: Compiled {
        let index: Int
        switch repetition {
        case .index(let n): index = n
        case .condition: index = 0
        }
        return Compiled(
            segment: HL7Message.id(segment[0], segment[1], segment[2]), occurrence: occurrence ?? 0, field: field, repetition: index,
            component: component, subcomponent: subcomponent)
    }
}
