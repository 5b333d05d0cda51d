/// String functions.
extension Builtins {
    typealias Sig = FunctionDefinition.Signature

    static func trimmed(_ s: String, leading: Bool, trailing: Bool) -> String {
        // Fast path: nothing to trim when the relevant ends are ASCII non-space bytes.
        @inline(__always) func plain(_ b: UInt8?) -> Bool {
            guard let b else { return true }
            return b < 0x80 && b != 0x20 && (b < 0x09 || b > 0x0D)
        }
        if (!leading || plain(s.utf8.first)) && (!trailing || plain(s.utf8.last)) { return s }
        var sub = Substring(s)
        if leading { sub = sub.drop(while: { $0.isWhitespace }) }
        if trailing {
            while let last = sub.last, last.isWhitespace { sub.removeLast() }
        }
        return String(sub)
    }

    static func pad(_ s: String, _ n: Int, _ fill: String, left: Bool, fn: String) throws(EvaluationError) -> String {
        guard n >= 0 else { throw fail(fn, "length must not be negative") }
        guard n <= 10_000 else { throw fail(fn, "length must not exceed 10000") }
        let count = s.count
        if count >= n { return String(s.prefix(n)) }
        guard !fill.isEmpty else { throw fail(fn, "fill string must not be empty") }
        // The fill's characters, repeated, one per missing character: bounded by `n` whatever the
        // fill (a combining mark joins the character before it, so counting the padding's
        // characters while appending never reached `n`: the fuzzer's `lpad('', 23, '\u{5BF}')`).
        let characters = Array(fill)
        var padding = ""
        for i in 0..<(n - count) { padding.append(characters[i % characters.count]) }
        return left ? padding + s : s + padding
    }

    static func substring(_ s: String, _ start: Int, _ length: Int?) throws(EvaluationError) -> String {
        if let length, length < 0 { throw fail("substr", "length must not be negative") }
        // 1-based start; positions before 1 consume length like SQL.
        var from = start - 1
        var len = length ?? Int.max
        if from < 0 {
            if length != nil { len = max(0, len + from) }
            from = 0
        }
        // ASCII without CR (a CR LF pair is one character): characters are bytes.
        var text = s
        var ascii = true
        let fast: String = text.withUTF8 { u in
            for b in u where b >= 0x80 || b == 13 {
                ascii = false
                return ""
            }
            guard from < u.count, len > 0 else { return "" }
            let end = len >= u.count - from ? u.count : from + len
            if from == 0 && end == u.count { return s }
            return String(decoding: UnsafeBufferPointer(rebasing: u[from..<end]), as: UTF8.self)
        }
        if ascii { return fast }
        let chars = Substring(s)
        guard from < chars.count, len > 0 else { return "" }
        let a = chars.index(chars.startIndex, offsetBy: from)
        let b = chars.index(a, offsetBy: len, limitedBy: chars.endIndex) ?? chars.endIndex
        return String(chars[a..<b])
    }

    static let strings: [FunctionDefinition] = [
        FunctionDefinition(
            name: "trim", doc: "Removes leading and trailing white space.",
            signatures: [Sig([.string], returns: .string)],
            implementation: .unary { v throws(EvaluationError) in .string(trimmed(try string(v, "trim"), leading: true, trailing: true)) }),
        FunctionDefinition(
            name: "ltrim", doc: "Removes leading white space.", signatures: [Sig([.string], returns: .string)],
            implementation: .unary { v throws(EvaluationError) in .string(trimmed(try string(v, "ltrim"), leading: true, trailing: false)) }),
        FunctionDefinition(
            name: "rtrim", doc: "Removes trailing white space.", signatures: [Sig([.string], returns: .string)],
            implementation: .unary { v throws(EvaluationError) in .string(trimmed(try string(v, "rtrim"), leading: false, trailing: true)) }),
        FunctionDefinition(
            name: "upper", doc: "Upper-cases (Unicode).", signatures: [Sig([.string], returns: .string)],
            implementation: .unary { v throws(EvaluationError) in .string(try string(v, "upper").uppercased()) }),
        FunctionDefinition(
            name: "lower", doc: "Lower-cases (Unicode).", signatures: [Sig([.string], returns: .string)],
            implementation: .unary { v throws(EvaluationError) in .string(try string(v, "lower").lowercased()) }),
        FunctionDefinition(
            name: "length", doc: "Number of characters.", signatures: [Sig([.string], returns: .integer)],
            implementation: .unary { v throws(EvaluationError) in .int(try string(v, "length").count) }),
        FunctionDefinition(
            name: "substr", doc: "Substring from a 1-based start, optionally limited in length.",
            signatures: [
                Sig([.string, .integer], returns: .string),
                Sig(
                    [.string, .integer, .integer], returns: .string,
                    implementation: .ternary { s, a, l throws(EvaluationError) in
                        .string(try substring(try string(s, "substr"), try integer(a, "substr"), try integer(l, "substr")))
                    }),
            ],
            implementation: .binary { s, a throws(EvaluationError) in
                .string(try substring(try string(s, "substr"), try integer(a, "substr"), nil))
            }),
        FunctionDefinition(
            name: "left", doc: "The first n characters.", signatures: [Sig([.string, .integer], returns: .string)],
            implementation: .binary { s, n throws(EvaluationError) in
                let k = try integer(n, "left")
                guard k >= 0 else { throw fail("left", "length must not be negative") }
                return .string(String(try string(s, "left").prefix(k)))
            }),
        FunctionDefinition(
            name: "right", doc: "The last n characters.", signatures: [Sig([.string, .integer], returns: .string)],
            implementation: .binary { s, n throws(EvaluationError) in
                let k = try integer(n, "right")
                guard k >= 0 else { throw fail("right", "length must not be negative") }
                return .string(String(try string(s, "right").suffix(k)))
            }),
        FunctionDefinition(
            name: "lpad", doc: "Pads on the left to n characters (default fill: space); truncates longer strings to n.",
            signatures: [
                Sig([.string, .integer], returns: .string),
                Sig(
                    [.string, .integer, .string], returns: .string,
                    implementation: .ternary { s, n, f throws(EvaluationError) in
                        .string(try pad(try string(s, "lpad"), try integer(n, "lpad"), try string(f, "lpad"), left: true, fn: "lpad"))
                    }),
            ],
            implementation: .binary { s, n throws(EvaluationError) in
                .string(try pad(try string(s, "lpad"), try integer(n, "lpad"), " ", left: true, fn: "lpad"))
            }),
        FunctionDefinition(
            name: "rpad", doc: "Pads on the right to n characters (default fill: space); truncates longer strings to n.",
            signatures: [
                Sig([.string, .integer], returns: .string),
                Sig(
                    [.string, .integer, .string], returns: .string,
                    implementation: .ternary { s, n, f throws(EvaluationError) in
                        .string(try pad(try string(s, "rpad"), try integer(n, "rpad"), try string(f, "rpad"), left: false, fn: "rpad"))
                    }),
            ],
            implementation: .binary { s, n throws(EvaluationError) in
                .string(try pad(try string(s, "rpad"), try integer(n, "rpad"), " ", left: false, fn: "rpad"))
            }),
        FunctionDefinition(
            name: "concat", doc: "Concatenates the canonical text of its arguments, skipping nulls.",
            signatures: [
                Sig(
                    [.any, .any], returns: .string,
                    implementation: .binary { a, b in .string(a.description + b.description) }),
                Sig(
                    [.any, .any, .any], returns: .string,
                    implementation: .ternary { a, b, c in .string(a.description + b.description + c.description) }),
                Sig([.any], variadic: .any, returns: .string),
            ],
            propagatesNull: false,
            implementation: .variadic { args in .string(concatenated(args)) },
            textOfParts: .concatenated),
        FunctionDefinition(
            name: "concat_ws",
            doc:
                "Joins the canonical text of the non-null arguments after the first with the first (a separator), skipping null parts; null only when every part is null.",
            signatures: [Sig([.string, .any], variadic: .any, returns: .string)],
            propagatesNull: false,
            implementation: .variadic { args in joinSkippingNulls(args) },
            textOfParts: .separated),
        FunctionDefinition(
            name: "replace", doc: "Replaces every occurrence of a substring.",
            signatures: [Sig([.string, .string, .string], returns: .string)],
            implementation: .ternary { s, f, t throws(EvaluationError) in
                let str = try string(s, "replace")
                let from = try string(f, "replace")
                let to = try string(t, "replace")
                guard !from.isEmpty else { return .string(str) }
                return .string(str.replacing(from, with: to))
            }),
        FunctionDefinition(
            name: "starts_with", doc: "Whether s starts with the prefix.", signatures: [Sig([.string, .string], returns: .boolean)],
            implementation: .binary { s, p throws(EvaluationError) in .bool(try string(s, "starts_with").hasPrefix(try string(p, "starts_with"))) }),
        FunctionDefinition(
            name: "ends_with", doc: "Whether s ends with the suffix.", signatures: [Sig([.string, .string], returns: .boolean)],
            implementation: .binary { s, p throws(EvaluationError) in .bool(try string(s, "ends_with").hasSuffix(try string(p, "ends_with"))) }),
        FunctionDefinition(
            name: "contains", doc: "Whether s contains the substring.", signatures: [Sig([.string, .string], returns: .boolean)],
            implementation: .binary { s, p throws(EvaluationError) in
                let needle = try string(p, "contains")
                let hay = try string(s, "contains")
                return .bool(needle.isEmpty || hay.contains(needle))
            }),
        FunctionDefinition(
            name: "split_part", doc: "The n-th (1-based) part of s split on sep; null when there is no such part.",
            signatures: [Sig([.string, .string, .integer], returns: .string)],
            implementation: .ternary { s, sep, n throws(EvaluationError) in
                let str = try string(s, "split_part")
                let separator = try string(sep, "split_part")
                let k = try integer(n, "split_part")
                guard !separator.isEmpty else { throw fail("split_part", "separator must not be empty") }
                guard k >= 1 else { throw fail("split_part", "part number must be at least 1") }
                let parts = str.split(separator: separator, omittingEmptySubsequences: false)
                return k <= parts.count ? .string(String(parts[k - 1])) : .null
            }),
        FunctionDefinition(
            name: "nullif", doc: "Null when a equals b, otherwise a.",
            signatures: [Sig([.any, .any], returns: .computed({ t in unify(t[0], t[1]) == nil ? nil : t[0] }))],
            propagatesNull: false,
            implementation: .binary { a, b throws(EvaluationError) in
                if a.isNull || b.isNull { return a }
                return (try Operators.equal(a, b, "nullif")) == .bool(true) ? .null : a
            }),
        FunctionDefinition(
            name: "regex_match", doc: "Whether the (literal) pattern matches somewhere in s.",
            signatures: [Sig([.string, .string], returns: .boolean)], requiresLiteralArguments: [1],
            implementation: .specialized { lits throws(FunctionDefinition.SpecializationError) in
                let re = try BoundedRegex.make(lits[1], argument: 1)
                return .unary { s throws(EvaluationError) in .bool(re.matches(try string(s, "regex_match"))) }
            }),
        FunctionDefinition(
            name: "regex_extract",
            doc: "The text of a capture group (default 1, or 0 when the pattern has no group) of the first match; null when no match.",
            signatures: [Sig([.string, .string], returns: .string), Sig([.string, .string, .integer], returns: .string)],
            requiresLiteralArguments: [1, 2],
            implementation: .specialized { lits throws(FunctionDefinition.SpecializationError) in
                let re = try BoundedRegex.make(lits[1], argument: 1)
                var group = re.groupCount >= 1 ? 1 : 0
                if lits.count > 2 {
                    guard case .int(let g)? = lits[2], g >= 0, g <= re.groupCount else {
                        throw FunctionDefinition.SpecializationError(argument: 2, message: "group number out of range for this pattern")
                    }
                    group = g
                }
                let g = group
                return .unary { s throws(EvaluationError) in
                    guard let m = re.extract(try string(s, "regex_extract"), group: g) else { return .null }
                    return .string(m)
                }
            }),
    ]
}

/// `concat_ws(sep, a, b, …)`: the non-null parts joined with `sep` (null when `sep` is null or
/// every part is null, as in PostgreSQL, except that no part gives null rather than '').
/// `concat`'s result: the canonical texts of `parts` end to end. Text and null parts (the usual
/// ones: a key made of fields and separators) are copied into the result's own buffer, allocated
/// once; appending them one by one to a `String` grew it part by part, through the small-string
/// form, and took 12 % of the diagnoses' row loop (`perf`, 100k stays, one thread).
func concatenated(_ parts: UnsafeBufferPointer<Value>) -> String {
    var total = 0
    for p in parts {
        switch p {
        case .string(let s): total += s.utf8.count
        case .null: continue
        default:
            var out = ""
            for a in parts { out += a.description }
            return out
        }
    }
    guard total > 0 else { return "" }
    return String(unsafeUninitializedCapacity: total) { buffer in
        var at = 0
        for p in parts {
            guard case .string(let s) = p else { continue }
            s.withUTF8Bytes { u in
                guard let base = u.baseAddress, u.count > 0, let to = buffer.baseAddress else { return }
                (to + at).initialize(from: base, count: u.count)
                at += u.count
            }
        }
        return at
    }
}

func joinSkippingNulls(_ args: UnsafeBufferPointer<Value>) -> Value {
    guard let sep = args.first, !sep.isNull else { return .null }
    let separator = sep.description
    var out = ""
    var any = false
    for a in args.dropFirst() where !a.isNull {
        if any { out += separator }
        out += a.description
        any = true
    }
    return any ? .string(out) : .null
}
