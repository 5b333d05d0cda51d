import Foundation
package import Harmonize

/// OMOP's `cdm_source` row, written by every run of the OMOP model (`RunDescription`): which
/// data, which CDM, which vocabulary release, which ETL.
///
/// | column | value |
/// | --- | --- |
/// | `cdm_source_name`, `cdm_source_abbreviation`, `cdm_holder`, `source_description`, `source_documentation_reference` | `Settings` (`run --cdm-source-name` …); by default from the mapping ids |
/// | `cdm_etl_reference` | `Harmonize <version>; mappings sha256:<hash of the mapping files>` |
/// | `source_release_date` | the UTC day of the newest modification time of the input files read (the run's day when it read none) |
/// | `cdm_release_date` | the UTC day of the run |
/// | `cdm_version`, `cdm_version_concept_id` | `v5.4`, 756265 (OMOP CDM Version 5.4.0) |
/// | `vocabulary_version` | the `None` row of the store's `VOCABULARY` (the release), `none` for a run without a store; cut to the column's 20 characters (the manifest keeps it whole) |
package enum CDMSource {
    /// The table's name in the OMOP model.
    package static let tableName = "cdm_source"
    /// `cdm_version_concept_id`: the concept *OMOP CDM Version 5.4.0* (vocabulary `CDM`).
    package static let cdmVersionConceptID = 756_265
    /// `vocabulary_version` of a run without a vocabulary store.
    package static let noVocabulary = "none"

    /// The columns a run cannot know: who holds the data and what it is.
    package struct Settings: Sendable, Hashable {
        /// `cdm_source_name` (nil: `Harmonize output of ` and the mappings' id prefixes).
        package var name: String?
        /// `cdm_source_abbreviation` (nil: the mappings' id prefixes).
        package var abbreviation: String?
        /// `cdm_holder` (nil: `not stated`).
        package var holder: String?
        /// `source_description` (nil: what was run: mappings, inputs, vocabulary release).
        package var description: String?
        /// `source_documentation_reference` (nil: none).
        package var documentationReference: String?

        /// Settings: nil takes the default.
        package init(
            name: String? = nil, abbreviation: String? = nil, holder: String? = nil, description: String? = nil, documentationReference: String? = nil
        ) {
            self.name = name
            self.abbreviation = abbreviation
            self.holder = holder
            self.description = description
            self.documentationReference = documentationReference
        }
    }

    /// The run description of `model`, nil when the model has no `cdm_source` table.
    package static func runDescription(model: TargetModel, settings: Settings = Settings()) -> RunDescription? {
        guard let table = model.table(named: tableName) else { return nil }
        return RunDescription(
            table: table, row: { facts in row(facts, settings: settings) },
            remapped: { old, manifest, day in remapped(old, manifest: manifest, day: day) })
    }

    /// The row's values by column.
    package static func row(_ facts: RunDescription.Facts, settings: Settings) -> [String: Value] {
        let m = facts.manifest
        let prefixes = Array(Set(m.mappings.map { $0.id.split(separator: ".").first.map(String.init) ?? $0.id })).sorted()
        let packs = prefixes.isEmpty ? "no mapping" : prefixes.joined(separator: ", ")
        let release = vocabularyRelease(m)
        let description =
            "Mapped by Harmonize \(m.engineVersion) with \(m.mappings.count) mapping\(m.mappings.count == 1 ? "" : "s") (\(packs)) "
            + "from \(m.inputs.count) input file\(m.inputs.count == 1 ? "" : "s"); vocabulary release: \(release ?? "none")."
        let sourceDay = facts.newestInputDate ?? facts.runDate
        var row: [String: Value] = [
            "cdm_source_name": .string(settings.name ?? "Harmonize output of \(packs)"),
            "cdm_source_abbreviation": .string(settings.abbreviation ?? packs),
            "cdm_holder": .string(settings.holder ?? "not stated"),
            "source_description": .string(settings.description ?? description),
            "cdm_etl_reference": .string("Harmonize \(m.engineVersion); mappings sha256:\(facts.mappingsSHA256)"),
            "source_release_date": .date(sourceDay.daysSinceEpoch),
            "cdm_release_date": .date(facts.runDate.daysSinceEpoch),
            "cdm_version": .string("v5.4"),
            "cdm_version_concept_id": .int(cdmVersionConceptID),
            "vocabulary_version": .string(release ?? noVocabulary),
        ]
        if let reference = settings.documentationReference { row["source_documentation_reference"] = .string(reference) }
        return row
    }

    /// The columns `harmonize-run remap` changes: `vocabulary_version` (the new release),
    /// `cdm_release_date` (the remap's day: the CDM changed) and the release named at the end of
    /// the default `source_description` (a description given with `run --source-description` is
    /// kept as it is).
    package static func remapped(_ old: [String: Value], manifest: RunManifest, day: CivilDate) -> [String: Value] {
        let release = vocabularyRelease(manifest) ?? noVocabulary
        var out: [String: Value] = ["vocabulary_version": .string(release), "cdm_release_date": .date(day.daysSinceEpoch)]
        let marker = "; vocabulary release: "
        if case .string(let d)? = old["source_description"], d.hasPrefix("Mapped by Harmonize "), let r = d.range(of: marker, options: .backwards) {
            out["source_description"] = .string(String(d[..<r.upperBound]) + release + ".")
        }
        return out
    }

    /// The release of the run's vocabulary store: its `None` vocabulary's version.
    package static func vocabularyRelease(_ manifest: RunManifest) -> String? {
        manifest.vocabularies?.first { $0.id == "None" }?.version
    }
}
