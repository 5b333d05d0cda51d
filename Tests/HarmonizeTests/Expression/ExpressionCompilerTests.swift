import Foundation
import Testing

@testable import Harmonize

@Suite struct ExpressionSemanticsTests {
    typealias F = ExpressionFixture

    /// A bare identifier read as is exposes its slot (the executor reads it without calling the
    /// evaluator); anything else, or a converted identifier, does not.
    @Test func aBareIdentifierExposesItsSlot() throws {
        func slot(_ text: String, expected: ValueType? = nil) throws -> Int? {
            try F.compiler().compile(text, file: nil, line: 1, column: 1, expected: expected).get().slotRead
        }
        let heightSlot = try #require(F.fields.firstIndex { $0.name == "height_cm" })
        #expect(try slot("height_cm") == heightSlot)
        #expect(try slot("height_cm", expected: .integer) == heightSlot)
        #expect(try slot("height_cm", expected: .number) == nil)  // widened to a number: not the slot as is
        #expect(try slot("height_cm + 0") == nil)
        #expect(try slot("'a'") == nil)
        let frame = F.frame()
        let c = try F.compiler().compile("sex", file: nil, line: 1, column: 1, expected: nil).get()
        #expect(try c.evaluate(frame) == frame.storage[try #require(c.slotRead)])
    }

    static func d(_ y: Int, _ m: Int, _ day: Int) -> Value { .date(CivilDate(year: y, month: m, day: day).daysSinceEpoch) }

    static let values: [(String, Value)] = [
        // Operators and null semantics (every operator at least once).
        ("2 - 5", .int(-3)), ("2.0 * 3", .double(6)), ("-7 % 3", .int(-1)), ("7.5 % 2", .double(1.5)),
        ("1 = 1.0", .bool(true)), ("1 != 2", .bool(true)), ("2 <= 2", .bool(true)), ("3 >= 4", .bool(false)),
        ("'a' < 'b'", .bool(true)), ("false < true", .bool(true)),
        ("null = null", .null), ("null and false", .bool(false)), ("null or true", .bool(true)), ("null or false", .null),
        ("not null", .null), ("- null", .null), ("null ?? 1", .int(1)), ("1 in (null, 1)", .bool(true)),
        ("2 not in (null, 1)", .null), ("null in (1)", .null), ("null is null", .bool(true)),
        // A field against a list of literals, and against a list with a field in it.
        ("sex in ('F', 'M')", .bool(true)), ("sex in ('F', null)", .null), ("sex not in ('F', null)", .null),
        ("sex not in ('F', 'X')", .bool(true)), ("sex in (null, 'M')", .bool(true)), ("comment in ('a', 'b')", .null),
        ("height_cm in (170.0, null)", .bool(true)), ("height_cm not in (1, 2)", .bool(true)),
        ("sex in (comment, 'M')", .bool(true)), ("sex in (comment, 'F')", .null), ("sex not in (first_name, 'F')", .bool(true)),
        ("comment & 'a' is null", .bool(true)),
        // Conditionals with null conditions.
        ("if null then 1 else 2", .int(2)), ("case when null then 1 else 2 end", .int(2)),
        ("case null when null then 1 else 2 end", .int(2)),
        // Strings edge cases.
        ("substr('abc', 0, 2)", .string("a")), ("substr('abc', 5)", .string("")), ("substr('héllo', 2, 2)", .string("él")),
        ("substr('abcdef', 2, 3)", .string("bcd")),
        ("substr('abc', -1, 3)", .string("a")), ("substr('abc', 1)", .string("abc")), ("substr('abc', 2, 100)", .string("bc")),
        ("substr('a\r\nb', 2, 1)", .string("\r\n")), ("substr('x1', 3)", .string("")),
        ("split_part('a,,b', ',', 2)", .string("")), ("replace('aaa', '', 'b')", .string("aaa")),
        ("contains('abc', '')", .bool(true)), ("lpad('ab', 5, 'xy')", .string("xyxab")),
        // A fill that is a combining mark (found by the fuzzer: the padding never grew): one per
        // missing character.
        ("lpad('', 3, '\u{5BF}')", .string("\u{5BF}\u{5BF}\u{5BF}")), ("rpad('a', 3, 'e\u{301}x')", .string("ae\u{301}x")),
        ("concat('a', 'b', 'c', 'd')", .string("abcd")), ("coalesce(null, null, 3)", .int(3)),
        ("regex_extract('ab', 'a(x)?b')", .null), ("regex_extract('A1', '[A-Z][0-9]', 0)", .string("A1")),
        // Conversions.
        ("to_int('+5')", .int(5)), ("to_int(true)", .int(1)), ("to_decimal(3)", .double(3)),
        ("to_decimal('-1,25', ',')", .double(-1.25)), ("to_bool(' N ')", .bool(false)), ("to_string(true)", .string("true")),
        ("to_string(null)", .null),
        // Numbers.
        ("round(-2.45, 1)", .double(-2.5)), ("round(1234.5, -2)", .double(1200)), ("floor(-2.5)", .double(-3)),
        ("abs(-2.5)", .double(2.5)), ("min(null, null)", .null), ("max('a', 'b')", .string("b")),
        ("max(1, 2)", .int(2)), ("min(2, 1.5)", .double(1.5)),
        // Dates: leap years, end-of-month clamping, ages.
        ("add_months(date('2024-02-29'), 12)", d(2025, 2, 28)), ("add_months(date('2024-01-31'), 3)", d(2024, 4, 30)),
        ("add_months(date('2024-12-31'), 2)", d(2025, 2, 28)), ("add_months(date('2000-01-31'), 1)", d(2000, 2, 29)),
        ("add_months(date('1900-01-31'), 1)", d(1900, 2, 28)), ("add_years(date('2024-02-29'), 4)", d(2028, 2, 29)),
        ("add_days(date('2023-12-31'), 1)", d(2024, 1, 1)), ("add_days(date('1970-01-01'), -1)", d(1969, 12, 31)),
        ("age_at(date('2000-02-29'), date('2001-02-28'))", .int(0)), ("age_at(date('2000-02-29'), date('2001-03-01'))", .int(1)),
        ("age_at(date('2000-02-29'), date('2004-02-29'))", .int(4)), ("age_at(date('2010-05-05'), date('2000-01-01'))", .int(-10)),
        ("days_between(date('2024-01-01'), date('2023-12-01'))", .int(-31)),
        ("days_between(datetime('2024-01-01T23:59:59'), date('2024-01-02'))", .int(1)),
        ("year(date('0001-01-01'))", .int(1)), ("first_of_month(visit_time)", d(2024, 3, 1)),
        ("parse_date('1/2/2020', 'dd/MM/yyyy')", d(2020, 2, 1)), ("parse_date('29-FEB-2024', 'dd-MMM-yyyy')", d(2024, 2, 29)),
        ("parse_date('01/01/49', 'dd/MM/yy')", d(2049, 1, 1)), ("parse_date('01/01/50', 'dd/MM/yy')", d(1950, 1, 1)),
        ("format_date(date('2024-03-05'), 'dd/MM/yy')", .string("05/03/24")),
        ("datetime('2024-03-15 08:30')", .dateTime(CivilDate(year: 2024, month: 3, day: 15).daysSinceEpoch * 86_400 + 30_600)),
        ("to_date(visit_date)", d(2024, 3, 15)), ("date(visit_time)", d(2024, 3, 15)),
        // Lookups: integer key matches string key by normalised text.
        ("lookup('gender', 'F')", .int(8532)),
        // Calls of any number of arguments, evaluated at run time (fields: no folding), with nulls.
        ("concat(sex)", .string("M")), ("concat(sex, comment, height_cm, '/', weight, '/', visit_date, sex)", .string("M170/72.5/2024-03-15M")),
        (
            "concat(first_name, 'é/', visit_time, '/', true, '/', comment, sex, '/', height_cm * 1000000000000)",
            .string("  Marie é/2024-03-15T08:30:00/true/M/170000000000000")
        ),
        // Text and null parts only (one buffer): multi-byte characters, empty parts, a result too
        // long for a small string, and nothing but nulls.
        (
            "concat(first_name, 'é/', comment, sex, '', '/Ünïcode, long enough to be on the heap')",
            .string("  Marie é/M/Ünïcode, long enough to be on the heap")
        ),
        ("concat(comment, comment, comment, comment)", .string("")), ("concat(sex, '', comment, sex)", .string("MM")),
        ("concat_ws('-', sex, comment, height_cm, sex, raw)", .string("M-170-M-42")),
        ("coalesce(comment, comment, comment, comment, sex)", .string("M")),
        ("max(height_cm, 3, 4, 5, weight)", .double(170)), ("min(comment, raw, sex, first_name, 'N')", .string("  Marie ")),
    ]

    @Test(arguments: values)
    func evaluates(_ text: String, _ expected: Value) {
        #expect(F.run(text) == .value(expected))
    }

    static let runtimeFailures: [(String, RejectReason, String)] = [
        ("height_cm % 0", .expressionError, "%"), ("to_int(first_name)", .expressionError, "to_int"),
        ("to_decimal(first_name)", .expressionError, "to_decimal"), ("to_bool(first_name)", .expressionError, "to_bool"),
        ("make_date(height_cm, 13, 1)", .expressionError, "make_date"),
        ("parse_date(first_name, 'yyyy')", .expressionError, "parse_date"),
        ("height_cm * 9223372036854775807", .expressionError, "*"),
        ("add_days(visit_date, height_cm * 100000)", .expressionError, "add_days"),
        ("lpad(sex, -height_cm)", .expressionError, "lpad"),
        ("lookup('unit', sex)", .lookupMiss, "lookup"),
        ("upper(raw + 1)", .expressionError, "+"),
        ("if raw then 1 else 2", .expressionError, "if"),
        ("raw < 1", .expressionError, "<"),
        ("left(sex, -height_cm)", .expressionError, "left"),
        ("right(sex, -height_cm)", .expressionError, "right"),
        ("substr(sex, 1, -height_cm)", .expressionError, "substr"),
        ("split_part(sex, '', height_cm)", .expressionError, "split_part"),
        ("split_part(sex, ',', -height_cm)", .expressionError, "split_part"),
        ("round(weight, height_cm)", .expressionError, "round"),
        ("add_months(visit_date, height_cm * 1000)", .expressionError, "add_months"),
        ("add_years(visit_date, height_cm * 100)", .expressionError, "add_years"),
        ("to_bool(height_cm)", .expressionError, "to_bool"),
        ("to_int(visit_date ?? raw)", .expressionError, "to_int"),
        ("parse_datetime(first_name, 'yyyy')", .expressionError, "parse_datetime"),
        ("datetime(first_name)", .expressionError, "datetime"),
        ("weight / (height_cm - 170)", .expressionError, "/"),
        // An argument's error keeps its function; the call's own error is the call's.
        ("concat(sex, '/', sex, '/', to_int(first_name), '/', sex)", .expressionError, "to_int"),
        ("max(raw, 1, 2, 3, height_cm)", .expressionError, "max"),
    ]

    @Test(arguments: runtimeFailures)
    func runtimeFailure(_ text: String, _ reason: RejectReason, _ function: String) throws {
        let c = try F.compiler().compile(text, file: nil, line: 1, column: 1, expected: nil).get()
        do {
            _ = try c.evaluate(F.frame())
            Issue.record("no error")
        } catch {
            #expect(error.reason == reason)
            #expect(error.function == function)
            // Errors never contain cell values.
            for field in F.fields where field.value.description.count >= 3 {
                #expect(!error.description.contains(field.value.description.trimmingCharacters()))
            }
        }
    }

    /// `to_int` of text: the byte fast path (sign and up to 18 digits) gives what the general path
    /// (trimmed, one `+` dropped, `Int(_:)`) gives, and leaves everything else to it.
    @Test func toIntOfTextMatchesTheGeneralPath() {
        func general(_ s: String) -> Int? {
            var digits = Substring(Builtins.trimmed(s, leading: true, trailing: true))
            if digits.first == "+" { digits = digits.dropFirst() }
            guard let i = Int(digits), !digits.isEmpty, digits.first != "+" else { return nil }
            return i
        }
        let texts = [
            "0", "7", "007", "-0", "+0", "+5", "-12", "2692", "123456789012345678", "-123456789012345678",
            "999999999999999999", "1234567890123456789", "9223372036854775807", "9223372036854775808",
            "-9223372036854775808", "-9223372036854775809", "", "-", "+", "+-5", "-+5", "--5", "++5", " 12",
            "12 ", "\t-3\n", "1a", "a1", "12.0", "1_000", "\u{661}\u{662}", "１２", "0x1F", "1e3",
        ]
        for text in texts {
            if let fast = Builtins.plainInteger(text) { #expect(fast == general(text), "\(text.debugDescription)") }
            let result: Value?
            do { result = try Builtins.toInt(.string(text)) } catch { result = nil }
            #expect(result == general(text).map { .int($0) }, "\(text.debugDescription)")
        }
        // The fast path takes the plain texts (the others fall through to the general path).
        #expect(Builtins.plainInteger("2692") == 2692)
        #expect(Builtins.plainInteger("-123456789012345678") == -123_456_789_012_345_678)
        #expect(Builtins.plainInteger("1234567890123456789") == nil)
        #expect(Builtins.plainInteger(" 12") == nil)
        #expect(Builtins.plainInteger("+-5") == nil)
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String { Builtins.trimmed(self, leading: true, trailing: true) }
}

@Suite struct ExpressionDiagnosticsTests {
    typealias F = ExpressionFixture

    @Test func exactLineAndColumnWithOffset() throws {
        let d = F.diagnostics("upper(sexe)", line: 12, column: 20)
        #expect(d.count == 1)
        #expect(d[0].code == "HZ3002")
        #expect(d[0].line == 12 && d[0].column == 26)
        #expect(d[0].notes == ["did you mean 'sex'?"])
        #expect(d[0].description == "m.yaml:12:26: error: unknown identifier 'sexe' (did you mean 'sex'?) [HZ3002]")
    }

    @Test func multiLineTextAdvancesLines() {
        let d = F.diagnostics("if sex = 'M'\n  then uper(sex)\n  else 'é' & lowr(sex)", line: 5, column: 9, continuationColumn: 5)
        #expect(d.map(\.code) == ["HZ3003", "HZ3003"])
        #expect(d.map(\.line) == [6, 7])
        #expect(d.map(\.column) == [12, 18])
        #expect(d[0].notes == ["did you mean 'upper'?"])
        #expect(d[1].notes == ["did you mean 'lower'?"])
    }

    @Test func collectsEveryProblem() {
        let d = F.diagnostics("concat(sexx, uper(1), substr(sex), lookup('gendr', sex), regex_match(sex, sex), upper(height_cm))")
        #expect(d.map(\.code) == ["HZ3002", "HZ3003", "HZ3004", "HZ3008", "HZ3006", "HZ3005"])
        #expect(d.map(\.column) == [8, 14, 23, 43, 75, 87])
        #expect(d[3].notes == ["did you mean 'gender'?"])
    }

    @Test func syntaxErrorPointsAtToken() {
        let d = F.diagnostics("upper(sex) sex", line: 3, column: 4)
        #expect(d.count == 1)
        #expect(d[0].code == "HZ3001")
        #expect(d[0].column == 15)
        #expect(d[0].message == "syntax error: expected an operator or end of expression, found identifier 'sex'")
    }

    @Test func typeMismatchMessages() {
        let d = F.diagnostics("visit_date = 'x'")
        #expect(d.first?.message == "type mismatch: cannot compare date with string")
        #expect(d.first?.column == 12)
        let a = F.diagnostics("substr(sex, 'a')")
        #expect(a.first?.message == "type mismatch: argument 2 of 'substr' expects integer, found string")
        #expect(a.first?.column == 13)
    }

    @Test func expectedTypeIsCheckedAndWidened() throws {
        let c = F.compiler()
        #expect(F.run("height_cm", expected: .number) == .value(.double(170)))
        #expect(F.run("visit_date", expected: .datetime) == .value(.dateTime(CivilDate(year: 2024, month: 3, day: 15).daysSinceEpoch * 86_400)))
        #expect(F.run("sex", expected: .integer, compiler: c) == .diagnostics(["HZ3005"]))
        #expect(F.run("raw", expected: .integer) == .runtime(.expressionError))
        #expect(F.run("to_int(raw)", expected: .number) == .value(.double(42)))
        #expect(F.run("null", expected: .date) == .value(.null))
        let compiled = try c.compile("height_cm", file: nil, line: 1, column: 1, expected: .number).get()
        #expect(compiled.type == .number)
        // The mismatch is reported at the start of the whole expression.
        let d = F.diagnostics("  sex & 'x' & sex", line: 2, column: 10)
        #expect(d.isEmpty)
        if case .failure(let e) = c.compile("  sex & 'x'", file: nil, line: 2, column: 10, expected: .date) {
            #expect(e.diagnostics.map(\.column) == [12])
        } else {
            Issue.record("compiled")
        }
    }

    @Test func conditions() throws {
        let c = F.compiler()
        let frame = F.frame()
        #expect(try c.compile("comment = 'x'", file: nil, line: 1, column: 1, expected: .boolean).get().evaluateCondition(frame) == false)
        #expect(try c.compile("sex = 'M'", file: nil, line: 1, column: 1, expected: .boolean).get().evaluateCondition(frame) == true)
        #expect(throws: EvaluationError.self) {
            try c.compile("raw", file: nil, line: 1, column: 1, expected: nil).get().evaluateCondition(frame)
        }
    }

    /// Patterns that are one run of an ASCII class are matched on bytes: same results as
    /// `NSRegularExpression` (leftmost longest run; non-ASCII text around it; no match).
    @Test func asciiClassRunsMatchLikeTheRegexEngine() throws {
        let patterns = ["([0-9]+)", "[0-9]+", "([A-Z0-9]+)", "[a-fA-F0-9]+", "([xy]+)"]
        let inputs = ["LAB4711", "4711", "", "abc", "é12é34", "12\r\n34", "👩‍⚕️99x", "A-1-B", "xyxxa", "ÀB9"]
        for p in patterns {
            #expect(BoundedRegex.ASCIIClass.run(of: p) != nil, "\(p)")
            let fast = try BoundedRegex.make(.string(p), argument: 1)
            let slow = try NSRegularExpression(pattern: p)
            for s in inputs {
                let ns = s as NSString
                let m = slow.firstMatch(in: s, range: NSRange(location: 0, length: ns.length))
                let expected = m.map { ns.substring(with: $0.range(at: 0)) }
                #expect(fast.extract(s, group: 0) == expected, "\(p) on \(s)")
                #expect(fast.extract(s, group: fast.groupCount) == expected, "\(p) on \(s)")
                #expect(fast.matches(s) == (expected != nil), "\(p) on \(s)")
            }
        }
        for p in ["[^0-9]+", "([0-9]*)", "[0-9]+x", "[\\d]+", "[9-0]+", "[a-Z]+", "[0-9]", "[.]+", "([0-9]+)(x)"] {
            #expect(BoundedRegex.ASCIIClass.run(of: p) == nil, "\(p)")
        }
    }

    /// Matching is linear (`LinearRegex`), so nested quantifiers are allowed; back-references,
    /// unsupported syntax, huge counts and long patterns are refused.
    @Test func unsafePatternsAreRejected() {
        for p in ["(a)\\\\1", "a{0,30000}", "(?=a)", "\\\\bx", String(repeating: "a", count: 257)] {
            let d = F.diagnostics("regex_match(sex, '\(p)')")
            #expect(d.map(\.code) == ["HZ3007"], "\(p)")
        }
        for p in [
            "(a+)+", "(a*)*b", "(x|y+){2,}", "(a|aa)+", "((ab)+c)*", "(ab)+", "a+b*", "([0-9]{2})+", "(a+)?", "^(M|F)$", "[(]a+[)]+", "\\\\(a+\\\\)+",
            "\\\\d+",
        ] {
            #expect(F.diagnostics("regex_match(sex, '\(p)')").isEmpty, "\(p)")
        }
    }
}

@Suite struct ExpressionCompilationTests {
    typealias F = ExpressionFixture

    @Test func metadata() throws {
        let c = try F.compiler().compile(
            "if lookup('gender', sex) = 8507 then upper(`PID-5.1`) else case sex when 'F' then lower(sex) end",
            file: nil, line: 1, column: 1, expected: .string
        ).get()
        #expect(c.referencedIdentifiers == ["sex", "PID-5.1"])
        #expect(c.lookupsUsed == ["gender"])
        #expect(c.functionsUsed == ["lookup", "upper", "lower"])
        #expect(c.branchCount == 4)
        #expect(!c.isConstant)
        #expect(c.type == .string)
    }

    @Test func constantFolding() throws {
        let c = try F.compiler().compile(
            "upper(trim('  ab ')) & to_string(add_days(date('2020-01-31'), 1))", file: nil, line: 1, column: 1, expected: nil
        ).get()
        #expect(c.isConstant)
        #expect(c.constantValue == .string("AB2020-02-01"))
        #expect(c.functionsUsed == ["upper", "trim", "to_string", "add_days", "date"])
        let partial = try F.compiler().compile("sex & upper('x')", file: nil, line: 1, column: 1, expected: nil).get()
        #expect(!partial.isConstant)
        let f = try F.compiler().compile("if 1 < 2 then 'a' else sex", file: nil, line: 1, column: 1, expected: nil).get()
        #expect(f.constantValue == .string("a"))
    }

    @Test func coverageCounters() throws {
        let rec = CoverageRecorder()
        let compiler = F.compiler(coverage: rec)
        let c = try compiler.compile("case sex when 'M' then 1 when 'F' then 2 end", file: "m.yaml", line: 3, column: 7, expected: nil).get()
        let i = try compiler.compile("if height_cm > 200 then 'a' else 'b'", file: "m.yaml", line: 4, column: 7, expected: nil).get()
        let frame = F.frame()
        for _ in 0..<3 { _ = try c.evaluate(frame) }
        frame.slots[0] = .string("X")
        _ = try c.evaluate(frame)
        _ = try i.evaluate(frame)
        #expect(rec.branches.map(\.label) == ["when 'M'", "when 'F'", "else (implicit)", "then", "else"])
        #expect(rec.counts == [3, 0, 1, 0, 1])
        #expect(rec.branches[0].id == "m.yaml:3:7@0:0")
        #expect(rec.branches[1].column == 32)
        #expect(rec.count(for: "m.yaml:4:7@0:1") == 1)
        #expect(rec.uncovered.map(\.label) == ["when 'F'", "then"])
        #expect(c.branchCount == 3)
    }

    @Test func registeringDomainFunctions() throws {
        final class Key: Sendable { let secret = "k" }
        let key = Key()
        var registry = FunctionRegistry.standard
        registry.register(
            FunctionDefinition(
                name: "pseudonym", doc: "Keyed pseudonym.",
                signatures: [.init([.string, .string], returns: .string)], requiresLiteralArguments: [1], isPure: false,
                implementation: .specialized { lits in
                    let domain = lits[1]?.description ?? ""
                    return .unary { v in .string("\(key.secret)-\(domain)-\(v.description.count)") }
                }))
        let compiler = F.compiler(functions: registry)
        #expect(F.run("pseudonym(sex, 'person')", compiler: compiler) == .value(.string("k-person-1")))
        // Not pure: not folded even with literal arguments.
        let c = try compiler.compile("PSEUDONYM('ab', 'person')", file: nil, line: 1, column: 1, expected: nil).get()
        #expect(!c.isConstant)
        #expect(F.run("pseudonym(sex, sex)", compiler: compiler) == .diagnostics(["HZ3006"]))
        #expect(F.run("pseudonym(sex)", compiler: F.compiler()) == .diagnostics(["HZ3003"]))
    }

    /// Calls with per-run state are called through their frame's bound implementation, of every
    /// shape (one, two, three arguments, variadic with few or many arguments): each sees its own
    /// run's state; an implementation of the wrong shape, or a frame not bound to the run, is an
    /// expression error naming the function, not a crash.
    @Test func perRunCallsOfEveryShapeAreBound() throws {
        final class Counter {
            var calls = 0
        }
        var registry = FunctionRegistry.standard
        func perRun(
            _ name: String, _ parameters: [ValueType], variadic: ValueType? = nil, _ make: @escaping @Sendable (Counter) -> BoundImplementation
        ) {
            registry.register(
                FunctionDefinition(
                    name: name, doc: "Test.", signatures: [.init(parameters, variadic: variadic, returns: .string)], isPure: false,
                    implementation: .perRun { _ throws(EvaluationError) in make(Counter()) }))
        }
        @Sendable func text(_ v: Value) -> String { if case .string(let s) = v { s } else { "?" } }
        perRun("one", [.string]) { c in
            .unary { a in
                c.calls += 1
                return .string("1:\(text(a)):\(c.calls)")
            }
        }
        perRun("two", [.string, .string]) { c in
            .binary { a, b in
                c.calls += 1
                return .string("2:\(text(a))\(text(b)):\(c.calls)")
            }
        }
        perRun("three", [.string, .string, .string]) { c in
            .ternary { a, b, d in
                c.calls += 1
                return .string("3:\(text(a))\(text(b))\(text(d)):\(c.calls)")
            }
        }
        perRun("many", [], variadic: .string) { c in
            .variadic { vs in
                c.calls += 1
                return .string("v:" + vs.map(text).joined() + ":\(c.calls)")
            }
        }
        perRun("wrong", [.string]) { _ in .binary { _, _ in .null } }
        let compiler = F.compiler(functions: registry)
        let cases: [(String, String)] = [
            ("one(sex)", "1:M"), ("two(sex, 'x')", "2:Mx"), ("three(sex, 'x', 'y')", "3:Mxy"), ("many(sex, 'x')", "v:Mx"),
            ("many(sex, 'a', 'b', 'c', 'd')", "v:Mabcd"),
        ]
        for (expression, result) in cases {
            let c = try compiler.compile(expression, file: nil, line: 1, column: 1, expected: nil).get()
            let frame = F.frame()
            frame.bind(try c.callSites.bind(RunEnvironment()))
            #expect(try c.evaluate(frame) == .string(result + ":1"), "\(expression)")
            #expect(try c.evaluate(frame) == .string(result + ":2"), "\(expression): the run's state")
            // Another run starts from its own state.
            let other = F.frame()
            other.bind(try c.callSites.bind(RunEnvironment()))
            #expect(try c.evaluate(other) == .string(result + ":1"), "\(expression): another run")
            // A frame not bound to the run.
            #expect(throws: EvaluationError.self) { try c.evaluate(F.frame()) }
        }
        let wrong = try compiler.compile("wrong(sex)", file: nil, line: 1, column: 1, expected: nil).get()
        let frame = F.frame()
        frame.bind(try wrong.callSites.bind(RunEnvironment()))
        do {
            _ = try wrong.evaluate(frame)
            Issue.record("a binary implementation called with one argument")
        } catch {
            #expect(error.function == "wrong" && error.message.contains("does not take 1 argument"))
        }
    }

    /// A call with per-run state that takes text as bytes (`BoundImplementation.unaryText`),
    /// given a `concat` or a chain of `&`, gets the parts end to end as bytes (every part's
    /// canonical text, as the call or the operators make it: nulls skipped by `concat`, a null
    /// making a chain of `&` null, texts longer than the stack's buffer too); a call that takes
    /// no bytes gets the same text as a string; any other argument, its value.
    @Test func aTextOfPartsIsHandedOverAsBytes() throws {
        var registry = FunctionRegistry.standard
        registry.register(
            FunctionDefinition(
                name: "keyed", doc: "Test.", signatures: [.init([.any], returns: .string)], isPure: false,
                implementation: .perRun { _ throws(EvaluationError) in
                    .unaryText(
                        { v in .string("value:" + v.description) }, text: { u in .string("bytes:" + String(decoding: u, as: UTF8.self)) },
                        prefetch: { _ in })
                }))
        registry.register(
            FunctionDefinition(
                name: "plain", doc: "Test.", signatures: [.init([.any], returns: .string)], isPure: false,
                implementation: .perRun { _ throws(EvaluationError) in .unary { v in .string("value:" + v.description) } }))
        let compiler = F.compiler(functions: registry)
        let long = String(repeating: "x", count: 3 * TextParts.stackBytes)
        let cases: [(String, Value)] = [
            ("keyed(concat(sex, '/', `PID-5.1`))", .string("bytes:M/DUPONT^JEAN")),
            ("keyed(concat(sex, comment, first_name, 12, null))", .string("bytes:M  Marie 12")),
            ("keyed(concat(sex, height_cm, '/', birth_date, weight))", .string("bytes:M170/1980-02-2972.5")),
            ("keyed(concat(upper(first_name), sex, raw))", .string("bytes:  MARIE M42")),
            ("keyed(concat(sex, '\(long)', sex))", .string("bytes:M\(long)M")),
            ("keyed('MCO|' & sex & '|' & height_cm & '|' & to_string(birth_date))", .string("bytes:MCO|M|170|1980-02-29")),
            ("keyed(sex & first_name)", .string("bytes:M  Marie ")),
            ("keyed('MCO|' & sex & '|' & comment & '|' & sex)", .null),
            ("keyed(concat(sex, sex & comment))", .string("bytes:M")),
            ("keyed(concat_ws('|', sex, comment, height_cm, upper(first_name), null, 'x'))", .string("bytes:M|170|  MARIE |x")),
            ("keyed(concat_ws('', comment, sex, sex))", .string("bytes:MM")),
            ("keyed(concat_ws('|', comment, comment & sex))", .null),
            ("keyed(concat_ws('|', comment))", .null),
            ("keyed(concat_ws(sex, 'a', 'b'))", .string("value:aMb")),
            ("keyed(sex)", .string("value:M")),
            ("plain(concat(sex, '/', `PID-5.1`))", .string("value:M/DUPONT^JEAN")),
            ("plain('a' & sex & '|' & height_cm)", .string("value:aM|170")),
            // Chains of `&` on their own: one text.
            ("'MCO|' & sex & '|' & height_cm & '|' & birth_date", .string("MCO|M|170|1980-02-29")),
            ("'MCO|' & sex & '|' & comment & '|' & sex", .null),
            ("sex & '\(long)' & sex", .string("M\(long)M")),
        ]
        for (expression, result) in cases {
            let c = try compiler.compile(expression, file: nil, line: 1, column: 1, expected: nil).get()
            let frame = F.frame()
            frame.bind(try c.callSites.bind(RunEnvironment()))
            #expect(try c.evaluate(frame) == result, "\(expression)")
        }
    }

    @Test func dictionaryLookupNormalisesKeys() {
        let t = DictionaryLookupTable(valueType: .string, [(.string("12"), .string("a")), (.int(7), .string("b"))])
        #expect(t.value(forKey: .int(12)) == .string("a"))
        #expect(t.value(forKey: .double(12)) == .string("a"))
        #expect(t.value(forKey: .string("7")) == .string("b"))
        #expect(t.value(forKey: .string(" 7")) == nil)
        let two = DictionaryLookupTable(keyCount: 2, valueType: .integer, rows: [([.int(1), .string("x")], .int(5))])
        #expect(two.value(for: [.string("1"), .string("x")]) == .int(5))
        #expect(two.value(for: [.string("1")]) == nil)
    }

    /// A lookup of two keys (the keys evaluated into a buffer on the stack): a hit, a miss, a
    /// null key (null, the table not asked), and a key whose evaluation fails (its error).
    @Test func aTwoKeyLookupFindsItsRowFromBothKeys() throws {
        let cases: [(String, Value?)] = [
            ("lookup('route', 'oral', 'tablet')", .int(4_132_161)),
            ("lookup('route', 'oral', lower('TABLET'))", .int(4_132_161)),
            ("lookup('route', 'tablet', 'oral')", .null),
            ("lookup('route', 'oral', comment)", .null),
            ("lookup('route', to_int(sex), 'tablet')", nil),
        ]
        for (expression, expected) in cases {
            let c = try F.compiler().compile(expression, file: nil, line: 1, column: 1, expected: nil).get()
            let frame = F.frame()
            if let expected {
                #expect(try c.evaluate(frame) == expected, "\(expression)")
            } else {
                #expect(throws: EvaluationError.self, "\(expression)") { try c.evaluate(frame) }
            }
        }
    }

    @Test func evaluationIsFast() throws {
        // Smoke test of the closure-tree overhead (not a strict benchmark; debug builds are slow).
        let c = try F.compiler().compile("if sex = 'M' then 8507 else 8532", file: nil, line: 1, column: 1, expected: nil).get()
        let frame = F.frame()
        var sum = 0
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<100_000 {
                if case .int(let i) = try c.evaluate(frame) { sum &+= i }
            }
        }
        #expect(sum == 850_700_000)
        #expect(elapsed < .seconds(5))
        // Per-evaluation cost of typical shapes, printed for information.
        for text in [
            "height_cm", "upper(sex)", "lookup('gender', sex)", "year(birth_date)", "height_cm * 2 + 1",
            "case sex when 'M' then 8507 when 'F' then 8532 else 0 end", "to_int(raw)", "coalesce(comment, sex)",
        ] {
            let e = try F.compiler().compile(text, file: nil, line: 1, column: 1, expected: nil).get()
            let n = 200_000
            var hits = 0
            let t = try clock.measure {
                for _ in 0..<n where !(try e.evaluate(frame)).isNull { hits += 1 }
            }
            #expect(hits == n)
            let ns = Double(t.components.attoseconds / 1_000_000_000 + t.components.seconds * 1_000_000_000) / Double(n)
            print("expression-benchmark \(text): \(Int(ns)) ns")
        }
    }
}

@Suite struct ExpressionWideningTests {
    typealias F = ExpressionFixture

    static let cases: [(String, ValueType, Value)] = [
        ("height_cm ?? 1.5", .number, .double(170)),
        ("coalesce(height_cm, 1.5)", .number, .double(170)),
        ("coalesce(visit_date, visit_time)", .datetime, .dateTime(CivilDate(year: 2024, month: 3, day: 15).daysSinceEpoch * 86_400)),
        ("case sex when 'M' then 1 else 2.5 end", .number, .double(1)),
        ("add_days(raw, 1)", .any, .null),
        ("raw in ('42', 'x')", .boolean, .bool(true)),
        ("sex in (comment ?? 'M')", .boolean, .bool(true)),
    ]

    @Test(arguments: cases)
    func staticTypeMatchesRuntimeValue(_ text: String, _ type: ValueType, _ value: Value) throws {
        let c = try F.compiler().compile(text, file: nil, line: 1, column: 1, expected: nil).get()
        #expect(c.type == type)
        if type != .any { #expect(try c.evaluate(F.frame()) == value) }
    }
}

/// `case` with literal `when`s (code lists) is evaluated from its literals; the result is the one
/// the general evaluation gives (which a coverage run uses: it counts each arm).
@Suite struct LiteralCaseArmsTests {
    typealias F = ExpressionFixture

    static let cases: [(String, F.Outcome)] = [
        ("case sex when 'F' then 1 when 'M' then 2 end", .value(.int(2))),
        ("case sex when 'F' then 1 end", .value(.null)),
        ("case sex when 'F' then 1 else 3 end", .value(.int(3))),
        ("case comment when 'a' then 1 else 3 end", .value(.int(3))),
        ("case sex when null then 'n' when 'M' then lower(sex) end", .value(.string("m"))),
        ("case sex when 'M' then 1 else 2.5 end", .value(.double(1))),
        ("case height_cm when 170.0 then 'x' else 'y' end", .value(.string("x"))),
        ("case visit_date when date('2024-03-15') then 'that day' end", .value(.string("that day"))),
        ("case sex when 'X' then 1 when 'M' then to_int(first_name) end", .runtime(.expressionError)),
        ("case raw when 42 then 1 else 0 end", .runtime(.expressionError)),
        ("case raw when '42' then first_name else 'no' end", .value(.string("  Marie "))),
    ]

    @Test(arguments: cases)
    func literalArmsGiveTheGeneralEvaluationsResult(_ text: String, _ expected: F.Outcome) {
        #expect(F.run(text) == expected)
        #expect(F.run(text, compiler: F.compiler(coverage: CoverageRecorder())) == expected)
    }
}
