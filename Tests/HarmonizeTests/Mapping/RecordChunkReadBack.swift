@testable import Harmonize

extension RecordChunk {
    /// The chunk's records as a worker reads them (`ChunkReader`): each record's location and its
    /// fields joined by `|`, or its location and reject; and the bytes of the fields read.
    func readBack(names: [String]) throws -> (events: [String], fieldBytes: Int) {
        let reader = ChunkReader(names: names)
        reader.reset(self)
        var events: [String] = []
        var fieldBytes = 0
        while true {
            switch try reader.next() {
            case .end: return (events, fieldBytes)
            case .rejected(let r): events.append("\(r.location) reject \(r.reason.rawValue) \(r.message)")
            case .record:
                let fields = names.indices.map { reader.field($0) }
                fieldBytes += fields.reduce(0) { $0 + $1.count }
                events.append("\(reader.location) " + fields.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "|"))
            }
        }
    }
}
