extension HL7Reader {
    /// MSH-3 (sending application), MSH-4 (sending facility) and MSH-10 (message control id):
    /// what identifies a message re-sent after a lost acknowledgement.
    private static let identityPaths: [HL7Path] = ["MSH-3", "MSH-4", "MSH-10"].compactMap { HL7Path($0) }

    /// The number of the current record's message in the file (1-based; messages that could not
    /// be read count too), the same whichever record of the message is current.
    package var messageIndex: Int { messageNumber }

    /// The line of the current message's MSH segment (0 when there is no current message).
    package var messageLine: Int { message?.segLine.first ?? 0 }

    /// Writes the identity of the current record's message into `out`: MSH-3, MSH-4 and MSH-10
    /// as sent, each preceded by its length (so that no two different triples give the same
    /// bytes). False, with `out` empty, when there is no current message or its MSH-10 is empty
    /// or `""`: such a message has no identity and is never taken for a duplicate.
    package func messageIdentity(into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        guard let msg = message else { return false }
        var part: [UInt8] = []
        for (i, p) in Self.identityPaths.enumerated() {
            let isNull = msg.extract(p, segment: 0, into: &part)
            if i == 2 && (isNull || part.isEmpty) {
                out.removeAll(keepingCapacity: true)
                return false
            }
            var n = part.count
            for _ in 0..<4 {
                out.append(UInt8(truncatingIfNeeded: n))
                n >>= 8
            }
            out.append(contentsOf: part)
        }
        return true
    }
}
