/// The outcome of decoding one cell: a typed value (possibly `.null`), or why it was refused and
/// which rule refused it. Never carries the cell text.
package enum FieldDecodeResult: Sendable, Hashable {
    /// The decoded value; `.null` for a missing value of a field that is not required.
    case value(Value)
    /// The cell was refused: `.requiredMissing` (rule `required`), `.typeError` (rule `type`) or
    /// `.constraintError` (rule `enum`, `pattern`, `minimum`, `maximum`, `minLength` or `maxLength`).
    case failure(RejectReason, rule: String)

    /// The value, or nil for a failure.
    public var value: Value? {
        if case .value(let v) = self { return v }
        return nil
    }
}
