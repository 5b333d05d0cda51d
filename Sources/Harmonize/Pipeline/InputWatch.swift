/// Opens a run's input files and keeps each one's identity (device, inode, size, times) from its
/// first opening: a later opening of the same file (another mapping, a join) and the check before
/// publication (`verifyAll`) compare against it, so every record of a run comes from one version
/// of each file, the version whose SHA-256 the manifest records.
///
/// Each `FileByteSource` also checks its own file at end of file (truncated, extended, rewritten
/// or replaced while it was read); this covers the time between readings and until publication.
final class InputWatch {
    private var first: [String: (name: String, identity: FileIdentity)] = [:]
    private var order: [String] = []

    /// Opens `path` (shown as `name`), refusing anything but a regular file and a file that
    /// changed since the run first opened it.
    func open(_ path: String, name: String) throws(RunError) -> FileByteSource {
        let source: FileByteSource
        do {
            source = try FileByteSource(path: path)
        } catch {
            throw RunError(.io, error.description, code: error.code ?? .runIO, location: .init(file: name), cause: error)
        }
        if let known = first[path] {
            let what = known.identity.differences(from: source.identity)
            if !what.isEmpty { throw Self.changed(name, what) }
        } else {
            first[path] = (name, source.identity)
            order.append(path)
        }
        return source
    }

    /// Checks every file opened by the run is still the file first opened, unchanged.
    /// - Throws: `RunError` (I/O) naming the first file that changed or disappeared.
    func verifyAll() throws(RunError) {
        for path in order {
            guard let known = first[path] else { continue }
            guard let now = FileIdentity.of(path) else { throw Self.changed(known.name, ["removed"]) }
            let what = known.identity.differences(from: now)
            if !what.isEmpty { throw Self.changed(known.name, what) }
        }
    }

    private static func changed(_ name: String, _ what: [String]) -> RunError {
        RunError(
            .io, "input \(name) changed during the run (\(what.joined(separator: ", "))); nothing was published", code: .inputChanged,
            location: .init(file: name))
    }
}

@available(*, unavailable)
extension InputWatch: Sendable {}
