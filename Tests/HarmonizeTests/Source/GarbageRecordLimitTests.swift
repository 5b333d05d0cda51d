import Foundation
import Testing

@testable import Harmonize

#if canImport(Glibc)
    import Glibc
#endif

/// The per-record and per-field limits also bound a whole record of garbage: an HL7 v2 or XML
/// input that is one enormous line is rejected with a reason, in bounded memory, and reading goes
/// on (issue 15, item 4).
@Suite(.serialized) struct GarbageRecordLimitTests {
    static let msh = "MSH|^~\\&|APP|FAC|RCV|RFAC|20240101||ADT^A01|1|P|2.5\r"

    @Test func anHL7MessageWithAnEnormousLineIsRejectedAndTheNextOneRead() throws {
        var bytes = Array((Self.msh + "PID|1||").utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "x"), count: 4 << 20)
        bytes += Array(("\r" + Self.msh + "PID|1||42\r").utf8)
        let events = try HL7Test.events(bytes, paths: ["PID-3"], maxMessageBytes: 64 << 10)
        #expect(events.count == 2, "\(events.count) events")
        guard events.count == 2 else { return }
        if case .rejected(let reason, _, _, _) = events[0] { #expect(reason == .limitExceeded) } else { Issue.record("not rejected: \(events[0])") }
        if case .record(let values, _, _, _) = events[1] { #expect(values == ["42"]) } else { Issue.record("not read: \(events[1])") }
    }

    @Test func anXMLRecordWithAnEnormousTextIsRejected() throws {
        var bytes = Array("<export><sejour><id>".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "x"), count: 4 << 20)
        bytes += Array("</id></sejour><sejour><id>42</id></sejour></export>".utf8)
        let events = try XMLRecordReaderTests.events(bytes, fields: ["id"], maxText: 64 << 10)
        #expect(events.first.map { if case .rejected(.limitExceeded, _) = $0 { true } else { false } } == true, "\(events)")
    }

    /// The peak resident memory of `inspect` on a 128 MiB file that is one line of garbage.
    static func peakMemoryOfInspect(_ bytes: (Int) -> [UInt8], name: String) throws -> (peakKB: Int, status: Int32) {
        let dir = TestSupport.temporaryDirectory("garbage")
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let h = try #require(FileHandle(forWritingAtPath: path))
        for i in 0..<128 { try h.write(contentsOf: Data(bytes(i))) }
        try h.close()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIProcess(["inspect", path])
        var peak = 0
        let deadline = Date().addingTimeInterval(120)
        while run.process.isRunning, Date() < deadline {
            if let status = try? String(contentsOfFile: "/proc/\(run.process.processIdentifier)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            {
                peak = max(peak, kb)
            }
            usleep(5_000)
        }
        let (r, _) = run.wait(timeout: 1)
        return (peak, r.status)
    }

    @Test func oneLineOfGarbageIsReadInBoundedMemory() throws {
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        let hl7 = try Self.peakMemoryOfInspect({ $0 == 0 ? Array((Self.msh + "PID|1||").utf8) + chunk : chunk }, name: "one-line.hl7")
        #expect(hl7.status == 1, "rejected, with a reason")
        #expect(hl7.peakKB < 100 << 10, "peak \(hl7.peakKB) KB for a 128 MiB line")
        let xml = try Self.peakMemoryOfInspect({ $0 == 0 ? Array("<export><sejour id=\"".utf8) + chunk : chunk }, name: "one-line.xml")
        #expect(xml.status == 1)
        #expect(xml.peakKB < 100 << 10, "peak \(xml.peakKB) KB for a 128 MiB line")
        #expect(hl7.peakKB > 0 && xml.peakKB > 0, "the memory was sampled")
        print("one line of garbage, 128 MiB: inspect peaks at \(hl7.peakKB / 1024) MiB (HL7 v2), \(xml.peakKB / 1024) MiB (XML)")
    }
}
