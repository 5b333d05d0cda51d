import Harmonize

/// French code-system rules, as plain functions (tested one by one) that `DomainFunctions` exposes
/// to mappings.
package enum FrenchCodes {
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
    /// in some extracts) and open-ended periods with far-future ends (`2999-12-31`,
    /// `9999-12-31`, e.g. `IMB_ALD_DTF` of a long-term illness still running); they all mean
    /// "no date".
    public static func isSentinelDate(_ days: Int) -> Bool {
        days == sentinel1600 || days == sentinel2100 || days == sentinel2999 || days == sentinel9999
    }

    static let sentinel1600 = -135_140
    static let sentinel2100 = 47_482
    static let sentinel2999 = CivilDate(year: 2999, month: 12, day: 31).daysSinceEpoch
    static let sentinel9999 = CivilDate(year: 9999, month: 12, day: 31).daysSinceEpoch

    /// A SAS date-time as SAS exports write it, `ddMONyyyy:HH:mm:ss` (`02JAN2007:22:12:17`,
    /// English month abbreviations in any case), or a SAS date `ddMONyyyy` (midnight); seconds
    /// since 1970-01-01T00:00:00, nil when the text is not such a date-time or the date does not
    /// exist. Surrounding spaces are ignored.
    public static func sasDateTime(_ text: String) -> Int? {
        let u = Array(text.uppercased().trimmingCharacters().utf8)
        guard u.count == 9 || u.count == 18 else { return nil }
        func digits(_ from: Int, _ count: Int) -> Int? {
            var n = 0
            for i in from..<(from + count) {
                guard u[i] >= 48, u[i] <= 57 else { return nil }
                n = n * 10 + Int(u[i] - 48)
            }
            return n
        }
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        guard let day = digits(0, 2), let year = digits(5, 4),
            let month = months.firstIndex(of: String(decoding: u[2..<5], as: UTF8.self)).map({ $0 + 1 })
        else { return nil }
        let date = CivilDate(year: year, month: month, day: day)
        guard date.isValid else { return nil }
        var seconds = 0
        if u.count == 18 {
            guard u[9] == 58, u[12] == 58, u[15] == 58, let h = digits(10, 2), let m = digits(13, 2), let s = digits(16, 2),
                h < 24, m < 60, s < 60
            else { return nil }
            seconds = h * 3600 + m * 60 + s
        }
        return date.daysSinceEpoch * 86_400 + seconds
    }

    /// A department code as the SNDS writes it (`BEN_RES_DPT`, nomenclature `IR_DPT_V`: three
    /// characters) in the usual two-character form: `075` → `75`, `02A` and `201` → `2A`, `02B`
    /// and `202` → `2B`, `020` and `209` (Corsica, undetermined) → `20`, overseas `971`…`976`
    /// kept; nil for `000` (confidential), `099` and `999` (abroad, unknown) and malformed codes.
    /// Shorter forms (`75`, `2A`, `1`) are normalised as by `department(_:)`.
    public static func sndsDepartment(_ code: String) -> String? {
        let c = code.uppercased().trimmingCharacters()
        switch c {
        case "02A", "201": return "2A"
        case "02B", "202": return "2B"
        case "020", "209": return "20"
        case "000", "099", "999", "": return nil
        default: break
        }
        if c.count == 3, c.hasPrefix("0"), c.allSatisfy(\.isNumber) { return String(c.dropFirst()) }
        if c.count == 3, c.hasPrefix("97"), c.allSatisfy(\.isNumber) { return c }
        if c.count == 3 { return nil }
        return department(c)
    }

    /// The canonical text of an SNDS beneficiary, the one key every SNDS mapping hashes into
    /// `person_id` (`pseudonym_int(snds_person_key(…), 'person')`): the pseudonymised NIR
    /// (`BEN_NIR_PSA` in DCIR and the referential, equal to `NIR_ANO_17` in PMSI) trimmed and
    /// upper-cased, `#`, and the birth rank `BEN_RNG_GEM` as a decimal integer without leading
    /// zeros (twins share the NIR and differ by rank): `" abc "`, `"01"` → `ABC#1`. Nil when the
    /// NIR is empty or the rank is not a non-negative integer.
    public static func sndsPersonKey(nir: String, rank: String) -> String? {
        let n = nir.uppercased().trimmingCharacters()
        let r = rank.trimmingCharacters()
        guard !n.isEmpty, !r.isEmpty, r.utf8.count <= 9, r.allSatisfy({ $0.isASCII && $0.isNumber }), let rank = Int(r), rank >= 0 else { return nil }
        return n + "#" + String(rank)
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
