import Foundation
import Testing

@testable import Harmonize

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loopback listener proves that the XML reader connects nowhere: an external entity or DTD
/// pointing at it leaves its accept queue empty.
@Suite struct XMLLoopbackTests {
    /// A non-blocking TCP listener on 127.0.0.1 with an ephemeral port.
    final class Listener {
        let fd: Int32
        let port: UInt16

        init?() {
            #if canImport(Glibc)
                let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #else
                let s = socket(AF_INET, SOCK_STREAM, 0)
            #endif
            guard s >= 0 else { return nil }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = 0
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(s, 8) == 0 else {
                close(s)
                return nil
            }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
            }
            _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
            fd = s
            port = UInt16(bigEndian: addr.sin_port)
        }

        deinit { close(fd) }

        /// Whether a client connected.
        var wasConnected: Bool {
            let c = accept(fd, nil, nil)
            if c >= 0 {
                close(c)
                return true
            }
            return false
        }
    }

    static func read(_ text: String) throws -> [ReadEvent] {
        let r = try XMLRecordReader(
            source: MemoryByteSource(Array(text.utf8)), displayName: "t.xml", options: XMLReaderOptions(record: "/export/sejour"))
        _ = try r.bind(fields: ["@id", "."])
        var out: [ReadEvent] = []
        for _ in 0..<100 {
            let e = try r.next()
            if case .end = e { break }
            out.append(e)
        }
        return out
    }

    @Test func theListenerSeesAConnection() throws {
        // Positive control: a real client connection is noticed.
        let l = try #require(Listener())
        #if canImport(Glibc)
            let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let c = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        defer { close(c) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = l.port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(rc == 0)
        #expect(l.wasConnected)
    }

    @Test func anExternalEntityOnLoopbackIsNeverFetched() throws {
        let l = try #require(Listener())
        let events = try Self.read(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE export [<!ENTITY x SYSTEM \"http://127.0.0.1:\(l.port)/secret\">]>\n<export><sejour id=\"1\">&x;</sejour></export>"
        )
        #expect(events.count == 1)
        if case .rejected(let r) = events.first { #expect(r.reason == .structureError) } else { Issue.record("not rejected") }
        #expect(!l.wasConnected)
    }

    @Test func anExternalDTDOnLoopbackIsNeverFetched() throws {
        let l = try #require(Listener())
        let events = try Self.read(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE export SYSTEM \"http://127.0.0.1:\(l.port)/export.dtd\">\n<export><sejour id=\"1\"/></export>")
        #expect(events.count == 1)
        #expect(!l.wasConnected)
    }

    @Test func aParameterEntityOnLoopbackIsNeverFetched() throws {
        let l = try #require(Listener())
        _ = try Self.read(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE export [<!ENTITY % p SYSTEM \"http://127.0.0.1:\(l.port)/p.dtd\"> %p;]>\n<export><sejour id=\"1\"/></export>"
        )
        #expect(!l.wasConnected)
    }
}
