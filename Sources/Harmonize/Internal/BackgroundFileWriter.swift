import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Appends bytes to a file on a thread of its own, so that the thread producing them does not
/// wait for the file system (a `BufferRing`): `submit` copies the bytes into one of `depth`
/// buffers of `slotBytes` (waiting while all are full), the thread writes them in order from
/// `offset` on, and `finish` waits until every buffer is written and tells whether every write
/// succeeded. Memory: `depth` × `slotBytes` (1 MiB by default), whatever is written. The thread
/// starts with the first `submit`. Used by one producing thread.
///
/// The XML spill (`XMLRecordSpill`) writes through it: its `pwrite`s took 6 % of the reading
/// thread of a shared parse (`perf`, 100k HIS stays), a copy into a buffer costs a fifth of that.
final class BackgroundFileWriter {
    /// Where the writing thread writes next, and the `errno` of the first write that failed (0:
    /// none; -1 when a write wrote nothing). After a failure, buffers are taken and not written.
    struct Progress: Sendable {
        var at: Int
        var failure: Int32 = 0
    }

    private let ring: BufferRing<Progress>

    /// A writer appending to `fd` from byte `offset` on (the file is not closed by the writer).
    init(fd: Int32, offset: Int = 0, slotBytes: Int = 1 << 18, depth: Int = 4) {
        ring = BufferRing(state: Progress(at: offset), slotBytes: slotBytes, depth: depth, name: "harmonize-spill") { progress, bytes in
            BackgroundFileWriter.write(bytes, to: fd, &progress)
        }
    }

    /// Hands `bytes` (copied) to the writing thread; they follow the bytes submitted before.
    func submit(_ bytes: UnsafeRawBufferPointer) { ring.submit(bytes) }

    /// Writes what was submitted and stops the thread; true when every byte was written. Later
    /// submissions are ignored.
    func finish() -> Bool { ring.finish().failure == 0 }

    /// Writes one buffer at `progress.at` (the writing thread).
    private static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32, _ progress: inout Progress) {
        var written = 0
        while progress.failure == 0 && written < bytes.count, let base = bytes.baseAddress {
            let r = pwrite(fd, base + written, bytes.count - written, off_t(progress.at + written))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 {
                progress.failure = r < 0 ? errno : -1
                break
            }
            written += r
        }
        progress.at += bytes.count
    }
}

@available(*, unavailable)
extension BackgroundFileWriter: Sendable {}
