/// Resolves identifiers in a mapping's expressions: named values first, then source fields.
/// Source fields get a slot the first time an expression reads them, so the plan decodes only the
/// fields a mapping uses.
final class PlanScope: ExpressionScope {
    struct FieldInfo {
        let name: String
        let type: ValueType
    }

    private var lets: [String: ExpressionBinding] = [:]
    private let fieldsByName: [String: FieldInfo]
    private let fieldOrder: [String]
    /// When the source has no schema and no declared columns, any identifier is a text field,
    /// checked against the file header when the run opens it.
    let acceptsUnknownFields: Bool
    private(set) var usedFields: [(name: String, slot: Int, type: ValueType)] = []
    private var slotsByField: [String: Int] = [:]
    private(set) var slotCount = 0

    init(fields: [FieldInfo], acceptsUnknownFields: Bool) {
        var byName: [String: FieldInfo] = [:]
        for f in fields where byName[f.name] == nil { byName[f.name] = f }
        self.fieldsByName = byName
        self.fieldOrder = fields.map(\.name)
        self.acceptsUnknownFields = acceptsUnknownFields
    }

    /// The fields of one joined source read by the mapping (`name.FIELD`), each in its own slot.
    final class JoinFields {
        let name: String
        private let fieldsByName: [String: FieldInfo]
        let fieldOrder: [String]
        let acceptsUnknownFields: Bool
        /// Whether a miss gives nulls (so the fields' static types stay, but may be null).
        private(set) var used: [(name: String, slot: Int, type: ValueType)] = []

        init(name: String, fields: [FieldInfo], acceptsUnknownFields: Bool) {
            self.name = name
            var byName: [String: FieldInfo] = [:]
            for f in fields where byName[f.name] == nil { byName[f.name] = f }
            self.fieldsByName = byName
            self.fieldOrder = fields.map(\.name)
            self.acceptsUnknownFields = acceptsUnknownFields
        }

        func info(_ field: String) -> FieldInfo? {
            fieldsByName[field] ?? (acceptsUnknownFields ? FieldInfo(name: field, type: .string) : nil)
        }

        func slot(of field: String) -> (slot: Int, type: ValueType)? {
            used.first { $0.name == field }.map { ($0.slot, $0.type) }
        }

        func use(_ field: String, slot: Int, type: ValueType) { used.append((field, slot, type)) }
    }

    /// Joined sources whose fields are in reach, by name; a join is added once its key is compiled,
    /// so a join's key can read the joins declared before it, not itself.
    private var joins: [String: JoinFields] = [:]
    private var joinOrder: [String] = []

    /// Makes `join.FIELD` identifiers resolve to the fields of `join`.
    func addJoin(_ j: JoinFields) {
        joins[j.name] = j
        joinOrder.append(j.name)
    }

    func binding(for identifier: String) -> ExpressionBinding? {
        if let b = lets[identifier] { return b }
        if let dot = identifier.firstIndex(of: "."), let j = joins[String(identifier[..<dot])] {
            let field = String(identifier[identifier.index(after: dot)...])
            if let known = j.slot(of: field) { return ExpressionBinding(slot: known.slot, type: known.type) }
            guard let info = j.info(field) else { return nil }
            let slot = slotCount
            slotCount += 1
            j.use(info.name, slot: slot, type: info.type)
            return ExpressionBinding(slot: slot, type: info.type)
        }
        if let slot = slotsByField[identifier], let u = usedFields.first(where: { $0.slot == slot }) {
            return ExpressionBinding(slot: slot, type: u.type)
        }
        let info: FieldInfo
        if let f = fieldsByName[identifier] {
            info = f
        } else if acceptsUnknownFields {
            info = FieldInfo(name: identifier, type: .string)
        } else {
            return nil
        }
        let slot = slotCount
        slotCount += 1
        slotsByField[info.name] = slot
        usedFields.append((info.name, slot, info.type))
        return ExpressionBinding(slot: slot, type: info.type)
    }

    var knownIdentifiers: [String] {
        Array(lets.keys) + fieldOrder + joinOrder.flatMap { n in (joins[n]?.fieldOrder ?? []).map { "\(n).\($0)" } }
    }

    /// Declares a named value; returns its slot, or nil if the name is taken.
    func declareLet(_ name: String, type: ValueType) -> Int? {
        guard lets[name] == nil else { return nil }
        let slot = slotCount
        slotCount += 1
        lets[name] = ExpressionBinding(slot: slot, type: type)
        return slot
    }

    /// Whether `name` is a source field.
    func isField(_ name: String) -> Bool { fieldsByName[name] != nil }
}
