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

    func binding(for identifier: String) -> ExpressionBinding? {
        if let b = lets[identifier] { return b }
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

    var knownIdentifiers: [String] { Array(lets.keys) + fieldOrder }

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
