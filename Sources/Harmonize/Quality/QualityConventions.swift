/// The tables and columns of the target model that the person-, visit-, death- and
/// vocabulary-aware checks rely on (for OMOP: `Mappings.omopQualityConventions`). The engine knows
/// no model by name: everything model-specific comes from here or from the checks.
package struct QualityConventions: Sendable, Hashable {
    /// The person table and its key (shared by event tables), e.g. `person`, `person_id`.
    public var personTable: String
    /// The person key column.
    public var personKey: String
    /// Birth date-time column of the person table.
    public var birthDateTime: String
    /// Birth year, month and day columns of the person table.
    public var birthYear: String, birthMonth: String, birthDay: String
    /// Gender concept column of the person table.
    public var personGender: String
    /// Gender concept ids by the names used in control files (`male`, `female`).
    public var genderConcepts: [String: Int]
    /// Death table and its date column.
    public var deathTable: String, deathDate: String
    /// Visit table, its key (shared by event tables), start and end date columns.
    public var visitTable: String, visitKey: String, visitStart: String, visitEnd: String
    /// Observation-period key, start and end columns (the overlap check's table has them).
    public var periodKey: String, periodStart: String, periodEnd: String
    /// Vocabulary tables: concepts and their ancestry.
    public var conceptTable: String, conceptAncestorTable: String
    /// The unit column of measurement-like tables.
    public var unitField: String

    /// Creates conventions.
    public init(
        personTable: String, personKey: String, birthDateTime: String, birthYear: String, birthMonth: String, birthDay: String,
        personGender: String, genderConcepts: [String: Int], deathTable: String, deathDate: String, visitTable: String, visitKey: String,
        visitStart: String, visitEnd: String, periodKey: String, periodStart: String, periodEnd: String, conceptTable: String,
        conceptAncestorTable: String, unitField: String
    ) {
        self.personTable = personTable
        self.personKey = personKey
        self.birthDateTime = birthDateTime
        self.birthYear = birthYear
        self.birthMonth = birthMonth
        self.birthDay = birthDay
        self.personGender = personGender
        self.genderConcepts = genderConcepts
        self.deathTable = deathTable
        self.deathDate = deathDate
        self.visitTable = visitTable
        self.visitKey = visitKey
        self.visitStart = visitStart
        self.visitEnd = visitEnd
        self.periodKey = periodKey
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.conceptTable = conceptTable
        self.conceptAncestorTable = conceptAncestorTable
        self.unitField = unitField
    }
}
