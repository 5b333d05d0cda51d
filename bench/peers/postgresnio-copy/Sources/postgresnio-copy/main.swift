// postgresnio-copy HOST PORT USER DATABASE TABLE FILE
//
// Sends FILE (rows in COPY text format, as `pg_copy … --dump-text FILE` writes them) to
// `COPY "TABLE" FROM STDIN` (TABLE in the search path: copyFrom quotes the name as given) with
// PostgresNIO's copyFrom, 4 MiB per write, after TRUNCATE. The file is read into memory first;
// the clock covers the COPY only. Prints one JSON line as pg_copy does: rows, bytes, wall
// seconds, client CPU seconds (getrusage) and the server backend's CPU seconds (/proc/PID/stat).
import Foundation
import Logging
import NIOCore
import PostgresNIO

func cpuSelf() -> Double {
    var r = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &r)
    return Double(r.ru_utime.tv_sec) + Double(r.ru_utime.tv_usec) / 1e6 + Double(r.ru_stime.tv_sec) + Double(r.ru_stime.tv_usec) / 1e6
}

/// utime + stime of a process, or -1 when /proc is not readable.
func cpuOf(_ pid: Int) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return -1 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is the state (field 3): utime and stime are fields 14 and 15
    guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return -1 }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

let args = CommandLine.arguments
guard args.count == 7, let port = Int(args[2]) else {
    FileHandle.standardError.write(Data("usage: postgresnio-copy HOST PORT USER DATABASE TABLE FILE\n".utf8))
    exit(2)
}
let (host, user, database, table, path) = (args[1], args[3], args[4], args[5], args[6])
let data = try Data(contentsOf: URL(fileURLWithPath: path))
let rows = data.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
let chunk = 4 << 20
var buffers: [ByteBuffer] = []
var offset = 0
while offset < data.count {
    let end = min(offset + chunk, data.count)
    buffers.append(ByteBuffer(data: data[offset..<end]))
    offset = end
}
let sendBuffers = buffers

var logger = Logger(label: "postgresnio-copy")
logger.logLevel = .error
let config = PostgresConnection.Configuration(host: host, port: port, username: user, password: nil, database: database, tls: .disable)
let connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
var pid = -1
for try await (p) in try await connection.query("SELECT pg_backend_pid()", logger: logger).decode(Int.self) { pid = p }
_ = try await connection.query(PostgresQuery(unsafeSQL: "TRUNCATE \"\(table)\""), logger: logger)
let (s0, c0, t0) = (cpuOf(pid), cpuSelf(), ContinuousClock.now)
try await connection.copyFrom(table: table, logger: logger) { writer in
    for b in sendBuffers { try await writer.write(b) }
}
let elapsed = t0.duration(to: .now)
let (s1, c1) = (cpuOf(pid), cpuSelf())
try await connection.close().get()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let server = s0 >= 0 && s1 >= 0 ? s1 - s0 : -1
print(
    "{\"format\": \"nio-text\", \"rows\": \(rows), \"bytes\": \(data.count), \"seconds\": \(String(format: "%.4f", seconds)), "
        + "\"client_cpu\": \(String(format: "%.3f", c1 - c0)), \"server_cpu\": \(String(format: "%.3f", server))}")
