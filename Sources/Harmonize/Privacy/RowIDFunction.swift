extension FunctionRegistry {
    /// Adds `row_id(…)`: a stable non-negative 63-bit id for a row whose source has none.
    ///
    /// - `row_id(a, b, …)`: from the mapping id and a natural key (the canonical text of each
    ///   argument, in order; a null part is hashed as null, so `(a, null)` and `(null, a)` differ);
    /// - `row_id()`: from the mapping id, the source file as the run names it (relative to the input
    ///   folder) and the record number in that file.
    ///
    /// Either is the same across reruns of the same input whatever the threads, since it depends on
    /// nothing else. It is a keyed HMAC-SHA-256 (purpose `row_id`, the key of `pseudonym_int`), so
    /// that a natural key cannot be recovered from the id by trying candidates; like `pseudonym_int`
    /// it type-checks without a key, and a run without one stops before reading (`Preflight`).
    /// Parts are normalised as pseudonyms are (trimmed, upper-cased).
    public mutating func registerRowID() {
        var definition = FunctionDefinition(
            name: "row_id",
            doc:
                "A stable 63-bit id from the mapping id and a natural key (row_id(a, b, …)), or from the source file and record number (row_id()); keyed like pseudonym_int.",
            signatures: [.init([], variadic: .any, returns: .integer)],
            isPure: false,
            propagatesNull: false,
            implementation: .perRun { environment throws(EvaluationError) in
                // The run's HMAC states and cache for the purpose.
                let p = try environment.pseudonymizers(function: "row_id").pseudonymizer(purpose: "row_id")
                return .variadic { args throws(EvaluationError) in
                    guard case .string(let context)? = args.first else {
                        throw EvaluationError(reason: .expressionError, message: "row_id: no record context", function: "row_id")
                    }
                    var text = context
                    if args.count == 1 {
                        text += "\u{1E}#record"
                    } else {
                        for a in args.dropFirst() {
                            text += "\u{1E}"
                            switch a {
                            case .null: text += "\u{0}"
                            case .date(let d): text += "\u{2}" + CivilDate(daysSinceEpoch: d).isoString
                            default: text += "\u{2}" + a.description
                            }
                        }
                    }
                    return .int(p.integer(text))
                }
            })
        definition.readsRecordContext = true
        register(definition)
    }
}
