/// French code-system rules, as plain functions (tested one by one) that `DomainFunctions` exposes
/// to mappings.
public enum FrenchCodes {
    /// A CIM-10 (French ICD-10) code in the compact form SNDS and PMSI use: upper-case, without the
    /// dot, spaces or the ATIH `+`/`*` suffix markers (`e11.9` → `E119`, `I10+0` → `I100`).
    public static func cim10Compact(_ code: String) -> String {
        String(code.uppercased().unicodeScalars.filter { $0 != "." && $0 != " " && $0 != "+" && $0 != "*" && $0 != "\t" })
    }

    /// A CIM-10 code with the dot after the category, as OMOP's ICD10 and CIM10 vocabularies write
    /// it (`E119` → `E11.9`; a 3-character category stays as it is).
    public static func cim10Dotted(_ code: String) -> String {
        let c = cim10Compact(code)
        guard c.count > 3 else { return c }
        let i = c.index(c.startIndex, offsetBy: 3)
        return String(c[..<i]) + "." + String(c[i...])
    }

    /// The 3-character CIM-10 category (`E119` → `E11`), a generalisation used before release.
    public static func cim10Category(_ code: String) -> String { String(cim10Compact(code).prefix(3)) }

    /// The department of a French commune code (INSEE COG): the first two characters, `2A`/`2B` for
    /// Corsica, three characters for overseas departments (`97x`), nil when malformed.
    public static func department(ofCommune code: String) -> String? {
        let c = code.uppercased().trimmingCharacters()
        guard c.count == 5 else { return nil }
        if c.hasPrefix("97") || c.hasPrefix("98") { return String(c.prefix(3)) }
        let two = String(c.prefix(2))
        if two == "2A" || two == "2B" { return two }
        guard two.allSatisfy(\.isNumber) else { return nil }
        return two
    }

    /// Normalises a department code: `1` → `01`, `2a` → `2A`, `20` (old Corsica) kept; nil when
    /// malformed.
    public static func department(_ code: String) -> String? {
        let c = code.uppercased().trimmingCharacters()
        if c == "2A" || c == "2B" { return c }
        guard !c.isEmpty, c.count <= 3, c.allSatisfy(\.isNumber) else { return nil }
        return c.count == 1 ? "0" + c : c
    }

    /// Whether a 15-character NIR (French social-security number: 13 characters + a 2-digit key)
    /// has a valid control key: key = 97 − (n mod 97), where Corsican `2A`/`2B` in the department
    /// position count as 19 and 18. Spaces are ignored.
    public static func nirIsValid(_ nir: String) -> Bool {
        let s = nir.uppercased().filter { $0 != " " }
        guard s.count == 15 else { return false }
        var body = String(s.prefix(13))
        let keyText = String(s.suffix(2))
        guard let key = Int(keyText) else { return false }
        if body.contains("A") || body.contains("B") {
            // Department in positions 6-7 (1-based): 2A → 19, 2B → 18 (subtract from the number).
            let dept = body.dropFirst(5).prefix(2)
            if dept == "2A" {
                body = String(body.prefix(5)) + "19" + String(body.dropFirst(7))
            } else if dept == "2B" {
                body = String(body.prefix(5)) + "18" + String(body.dropFirst(7))
            } else {
                return false
            }
        }
        guard body.allSatisfy(\.isNumber), let n = UInt64(body) else { return false }
        return key == 97 - Int(n % 97)
    }

    /// SNDS marks unknown or "still alive" dates with sentinels (`1600-01-01`, and `2100-01-01`
    /// in some extracts); they mean "no date".
    public static func isSentinelDate(_ days: Int) -> Bool {
        days == sentinel1600 || days == sentinel2100
    }

    static let sentinel1600 = -135_140
    static let sentinel2100 = 47_482
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
