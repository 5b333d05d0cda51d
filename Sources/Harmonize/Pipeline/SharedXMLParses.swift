/// Which mappings of a run share the parse of an XML file (`XMLSharedParse.swift`): the first
/// mapping in run order that reads the file parses it and feeds a tap for every later XML mapping
/// that reads it too; a later mapping reads its records from its tap's spill when the tap is
/// complete, and parses the file itself otherwise. Used by one run, from the thread that runs it.
final class SharedXMLParses {
    private struct Key: Hashable {
        let plan: Int
        let file: String
    }

    private let plans: [MappingPlan]
    private let spillDirectory: String
    /// The most taps waiting for their mapping at once (each holds an open spill file): a folder
    /// of many XML files read by several mappings would otherwise hold one file descriptor per
    /// file and later mapping until those mappings run. Past it, files are parsed per mapping.
    private let maxWaitingTaps: Int
    /// The disk the spills may take together.
    private let budget: XMLSpillBudget
    /// (first mapping, file) → the later mappings that read the file.
    private var laterReaders: [Key: [Int]] = [:]
    /// (later mapping, file) → its tap and the mapping whose parse feeds it, until the mapping
    /// opens the file.
    private var taps: [Key: (tap: XMLRecordTap, parsedBy: Int)] = [:]
    /// The mappings that read a file's records from another mapping's parse (the manifest's
    /// `sharedParses`), in run order.
    private(set) var reads: [RunManifest.SharedParse] = []
    /// The workers of later mapping `pj` that may map the tap of file `file` (interned as
    /// `fileIndex`) during the parse, fed the tap's collector (`EarlyXMLMapping`); nil: none.
    var earlyMapping: ((_ pj: Int, _ file: String, _ fileIndex: Int32, _ collector: XMLRecordCollector) -> EarlyXMLMapping?)?

    /// The sharing for the mappings `running` (indices into `plans`, in run order) over their
    /// files; nil when no XML file is read by two of them.
    init?(
        plans: [MappingPlan], running: [Int], filesPerPlan: [[String]], spillDirectory: String, maxWaitingTaps: Int = 64,
        spillBytes: Int = XMLSpillBudget.defaultBytes
    ) {
        var first: [String: Int] = [:]
        var later: [Key: [Int]] = [:]
        for pi in running where ReaderFactory.isXML(plans[pi].spec.source) {
            for f in Set(filesPerPlan[pi]) {
                if let p = first[f] {
                    later[Key(plan: p, file: f), default: []].append(pi)
                } else {
                    first[f] = pi
                }
            }
        }
        guard !later.isEmpty else { return nil }
        self.plans = plans
        self.spillDirectory = spillDirectory
        self.maxWaitingTaps = maxWaitingTaps
        self.budget = XMLSpillBudget(limit: spillBytes)
        self.laterReaders = later
    }

    /// The taps mapping `pi`'s parse of `file` (interned as `fileIndex`) feeds (once: a second
    /// opening feeds none).
    func taps(forFirstReader pi: Int, of file: String, fileIndex: Int32) -> [XMLRecordTap] {
        guard let later = laterReaders.removeValue(forKey: Key(plan: pi, file: file)) else { return [] }
        var out: [XMLRecordTap] = []
        for pj in later where taps.count < maxWaitingTaps {
            let plan = plans[pj]
            let names = plan.readFieldNames
            guard
                let tap = XMLRecordTap(
                    options: ReaderFactory.xmlOptions(plan.spec.source), names: names, spillDirectory: spillDirectory, budget: budget)
            else {
                continue
            }
            tap.early = earlyMapping?(pj, file, fileIndex, tap.collector)
            taps[Key(plan: pj, file: file)] = (tap, pi)
            out.append(tap)
        }
        return out
    }

    /// The records of `file` for mapping `pj` from its tap, when the tap is complete (once);
    /// nil: the mapping parses the file itself.
    func spilledReader(for pj: Int, of file: String) -> SpilledXMLRecordReader? {
        guard let t = taps.removeValue(forKey: Key(plan: pj, file: file)), t.tap.state == .complete else { return nil }
        let reader = SpilledXMLRecordReader(tap: t.tap, displayName: file)
        let early = (reader.early as? EarlyXMLMapping)?.records
        reads.append(.init(mapping: plans[pj].id, file: file, parsedBy: plans[t.parsedBy].id, mappedDuringParse: early))
        return reader
    }
}

@available(*, unavailable)
extension SharedXMLParses: Sendable {}
