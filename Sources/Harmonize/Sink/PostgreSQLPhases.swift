import Foundation

/// Wall-clock seconds of the phases of a PostgreSQL run (no data values), for `run --json`
/// (`postgresql_phases`) and `bench/run_bench.py --suite postgresql`.
package struct PostgreSQLPhases: Encodable, Sendable {
    /// From connecting to the last COPY: mapping and loading overlap (the sink has its own thread).
    package var load = 0.0
    /// The primary keys.
    package var keys = 0.0
    /// The foreign-key constraints (`NOT VALID`).
    package var constraints = 0.0
    /// The indices.
    package var indices = 0.0
    /// `ANALYZE` of the run's tables.
    package var analyze = 0.0
    /// The publication transaction.
    package var publish = 0.0

    package init() {}
}

/// Laps of a monotonic clock, in seconds rounded to the millisecond.
struct PhaseClock {
    var last: ContinuousClock.Instant

    init(since start: ContinuousClock.Instant) { last = start }

    mutating func lap() -> Double {
        let now = ContinuousClock.now
        let d = last.duration(to: now).components
        last = now
        return ((Double(d.seconds) + Double(d.attoseconds) / 1e18) * 1000).rounded() / 1000
    }
}
