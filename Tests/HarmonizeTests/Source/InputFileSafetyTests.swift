import Foundation
import Testing

@testable import Harmonize

#if canImport(Glibc)
    import Glibc
#endif

/// Only regular files are read, and a file that changes while it is read is never taken as read
/// (issue 15, items 3 and 4).
@Suite struct InputFileSafetyTests {
    /// Reads the whole source in chunks of `chunk` bytes, calling `between` after the first chunk.
    static func drain(_ source: FileByteSource, chunk: Int = 4096, between: () -> Void = {}) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: chunk)
        var total = 0
        var first = true
        while true {
            let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { return total }
            total += n
            if first {
                first = false
                between()
            }
        }
    }

    static func file(_ dir: String, bytes: Int = 100_000) -> String {
        let path = dir + "/in.csv"
        TestSupport.write(bytes: [UInt8](repeating: UInt8(ascii: "x"), count: bytes), to: path)
        return path
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let dir = TestSupport.temporaryDirectory("fifo")
        let path = dir + "/in.csv"
        #expect(mkfifo(path, 0o600) == 0)
        let error = #expect(throws: SourceIOError.self) { try FileByteSource(path: path) }
        #expect(error?.description.contains("a FIFO") == true)
        #expect(error?.description.contains(path) == true)
        // Through a symbolic link too.
        #expect(symlink(path, dir + "/link.csv") == 0)
        #expect(throws: SourceIOError.self) { try FileByteSource(path: dir + "/link.csv") }
    }

    @Test(arguments: ["/dev/zero", "/dev/urandom", "/dev/null"])
    func aLinkToADeviceIsRefused(device: String) throws {
        let dir = TestSupport.temporaryDirectory("device")
        #expect(symlink(device, dir + "/in.csv") == 0)
        let error = #expect(throws: SourceIOError.self) { try FileByteSource(path: dir + "/in.csv") }
        #expect(error?.description.contains("character device") == true)
        #expect(throws: SourceIOError.self) { try FileByteSource.requireRegularFile(dir + "/in.csv") }
    }

    @Test func aFolderIsRefused() throws {
        let dir = TestSupport.temporaryDirectory("folder")
        let error = #expect(throws: SourceIOError.self) { try FileByteSource(path: dir) }
        #expect(error?.description.contains("a folder") == true)
    }

    @Test func anUnchangedFileReadsToTheEnd() throws {
        let dir = TestSupport.temporaryDirectory("same")
        let source = try FileByteSource(path: Self.file(dir))
        #expect(try Self.drain(source) == 100_000)
        // Reading again at end of file checks again, and still passes.
        var b = [UInt8](repeating: 0, count: 8)
        #expect(try b.withUnsafeMutableBytes { try source.read(into: $0) } == 0)
    }

    @Test func aFileTruncatedWhileReadIsRefusedAtTheEnd() throws {
        let dir = TestSupport.temporaryDirectory("truncated")
        let path = Self.file(dir)
        let source = try FileByteSource(path: path)
        let error = #expect(throws: SourceIOError.self) {
            _ = try Self.drain(source) { _ = truncate(path, 50_000) }
        }
        #expect(error?.description.contains("changed while it was read") == true)
        #expect(error?.description.contains(path) == true)
    }

    @Test func aFileExtendedWhileReadIsRefusedAtTheEnd() throws {
        let dir = TestSupport.temporaryDirectory("extended")
        let path = Self.file(dir)
        let source = try FileByteSource(path: path)
        #expect(throws: SourceIOError.self) {
            _ = try Self.drain(source) {
                let h = FileHandle(forWritingAtPath: path)
                h?.seekToEndOfFile()
                h?.write(Data("more\n".utf8))
                try? h?.close()
            }
        }
    }

    @Test func aFileRewrittenInPlaceWithTheSameSizeIsRefused() throws {
        let dir = TestSupport.temporaryDirectory("rewritten")
        let path = Self.file(dir)
        let source = try FileByteSource(path: path)
        #expect(throws: SourceIOError.self) {
            _ = try Self.drain(source) {
                // Same size, and the modification time set back: the change time still moves.
                // (File times move in clock ticks of a few milliseconds: let one pass.)
                usleep(30_000)
                let attributes = try? FileManager.default.attributesOfItem(atPath: path)
                let h = FileHandle(forWritingAtPath: path)
                h?.write(Data("y".utf8))
                try? h?.close()
                if let m = attributes?[.modificationDate] as? Date {
                    try? FileManager.default.setAttributes([.modificationDate: m], ofItemAtPath: path)
                }
            }
        }
    }

    @Test func aFileReplacedByRenameWhileReadIsRefused() throws {
        let dir = TestSupport.temporaryDirectory("replaced")
        let path = Self.file(dir)
        let source = try FileByteSource(path: path)
        let error = #expect(throws: SourceIOError.self) {
            _ = try Self.drain(source) {
                TestSupport.write(bytes: [UInt8](repeating: UInt8(ascii: "x"), count: 100_000), to: dir + "/new.csv")
                _ = rename(dir + "/new.csv", path)
            }
        }
        #expect(error?.description.contains("replaced") == true)
    }

    @Test func theRunComparesEveryOpeningAndTheInputsBeforePublication() throws {
        let dir = TestSupport.temporaryDirectory("watch")
        let path = Self.file(dir)
        let watch = InputWatch()
        _ = try watch.open(path, name: "in.csv")
        _ = try watch.open(path, name: "in.csv")
        try watch.verifyAll()
        TestSupport.write("id\n1\n", to: path)
        let reopened = #expect(throws: RunError.self) { _ = try watch.open(path, name: "in.csv") }
        #expect(reopened?.kind == .io)
        #expect(reopened?.message.contains("input in.csv changed during the run") == true)
        let atEnd = #expect(throws: RunError.self) { try watch.verifyAll() }
        #expect(atEnd?.message.contains("nothing was published") == true)
    }
}
