import ArgumentParser
import Harmonize
import Mappings

@main
struct HarmonizeRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harmonize-run",
        abstract: "Harmonize heterogeneous health data into OMOP CDM v5.4.")
}
