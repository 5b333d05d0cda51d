/// The Pike VM: every thread advances one scalar at a time, in priority order, with at most one
/// thread per instruction; the time is O(text length × program length), the memory
/// O(program length × captures).
extension LinearRegex {
    /// Whether the pattern matches somewhere in `text`.
    func matches(_ text: String) -> Bool {
        text.withUTF8Bytes { run($0, slots: 0, firstOnly: true) != nil }
    }

    /// The machine's work on `text` when asked whether it matches: the thread steps taken (one
    /// per live thread per text position). Bounded by about 2 × program length × (text length
    /// + 1) whatever the pattern: what the tests of linear time count, instead of seconds.
    func matchWork(_ text: String) -> Int {
        var work = 0
        _ = text.withUTF8Bytes { run($0, slots: 0, firstOnly: true, work: &work) }
        return work
    }

    /// Instructions of the compiled program.
    var programLength: Int { program.count }

    /// The byte ranges of the groups of the first (leftmost-first) match: index 0 is the whole
    /// match; nil for a group that took no part in it.
    func firstMatch(_ text: UnsafeBufferPointer<UInt8>) -> [Range<Int>?]? {
        guard let caps = run(text, slots: 2 * (groupCount + 1), firstOnly: false) else { return nil }
        return (0...groupCount).map { g in
            let a = caps[2 * g]
            let b = caps[2 * g + 1]
            return a >= 0 && b >= a ? a..<b : nil
        }
    }

    /// The text of one group of the first match (nil when no match or the group took no part).
    func extract(_ text: String, group: Int) -> String? {
        text.withUTF8Bytes { u in
            guard let m = firstMatch(u), group < m.count, let r = m[group] else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: u[r]), as: UTF8.self)
        }
    }

    @inline(__always)
    static func decode(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(t[i])
        if b0 < 0x80 { return (b0, 1) }
        let n = t.count
        if b0 >= 0xC0, b0 < 0xE0, i + 1 < n {
            return ((b0 & 0x1F) << 6 | UInt32(t[i + 1]) & 0x3F, 2)
        }
        if b0 >= 0xE0, b0 < 0xF0, i + 2 < n {
            return ((b0 & 0x0F) << 12 | (UInt32(t[i + 1]) & 0x3F) << 6 | UInt32(t[i + 2]) & 0x3F, 3)
        }
        if b0 >= 0xF0, i + 3 < n {
            return ((b0 & 0x07) << 18 | (UInt32(t[i + 1]) & 0x3F) << 12 | (UInt32(t[i + 2]) & 0x3F) << 6 | UInt32(t[i + 3]) & 0x3F, 4)
        }
        return (0xFFFD, 1)
    }

    /// Whether an assertion holds at byte offset `pos`.
    static func holds(_ a: Assertion, _ t: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Bool {
        let n = t.count
        switch a {
        case .start: return pos == 0
        case .end: return pos == n
        case .endOrFinalNewline:
            if pos == n { return true }
            let (c, len) = decode(t, pos)
            if pos + len == n, isLineTerminator(c) {
                // Not between the CR and the LF of a final CR LF.
                return !(c == 10 && pos > 0 && t[pos - 1] == 13)
            }
            return c == 13 && pos + 2 == n && t[pos + 1] == 10
        }
    }

    /// Runs the machine; returns the capture slots of the match (the first one found when
    /// `firstOnly`, else the leftmost-first one), or nil. `captures` slots are recorded (0 for a
    /// yes/no answer); the empty-iteration registers follow them in each thread's slots.
    ///
    /// Written over raw buffers: the loops run per text scalar and live thread, and must stay
    /// fast in debug builds too.
    private func run(_ text: UnsafeBufferPointer<UInt8>, slots captures: Int, firstOnly: Bool) -> [Int]? {
        var work = 0
        return run(text, slots: captures, firstOnly: firstOnly, work: &work)
    }

    /// The machine; `work` counts the thread steps (`matchWork`).
    private func run(_ text: UnsafeBufferPointer<UInt8>, slots captures: Int, firstOnly: Bool, work: inout Int) -> [Int]? {
        if !requiredBytes.isEmpty {
            guard let base = text.baseAddress else { return nil }
            for b in requiredBytes {
                var i = 0
                let n = text.count
                while i < n, base[i] != b { i += 1 }
                if i == n { return nil }
            }
        }
        let size = program.count
        let slots = captures + registerCount
        let stride = max(slots, 1)
        // Two thread lists (pcs and slots), the marks of the instructions already added at the
        // current position, one scratch slot vector and the work stack.
        let pcsA = UnsafeMutablePointer<Int>.allocate(capacity: 2 * size)
        let pcsB = UnsafeMutablePointer<Int>.allocate(capacity: 2 * size)
        let capsA = UnsafeMutablePointer<Int>.allocate(capacity: 2 * size * stride)
        let capsB = UnsafeMutablePointer<Int>.allocate(capacity: 2 * size * stride)
        let seen = UnsafeMutablePointer<Int>.allocate(capacity: 2 * size)
        seen.initialize(repeating: -1, count: 2 * size)
        let scratch = UnsafeMutablePointer<Int>.allocate(capacity: stride)
        // Work items: explore pc (value ≥ 0), or restore slot s to v (-(s + 1), then v).
        let stack = UnsafeMutablePointer<Int>.allocate(capacity: 8 * size + 8)
        defer {
            pcsA.deallocate()
            pcsB.deallocate()
            capsA.deallocate()
            capsB.deallocate()
            seen.deallocate()
            scratch.deallocate()
            stack.deallocate()
        }
        return kinds.withUnsafeBufferPointer { kindBuf in
            operandA.withUnsafeBufferPointer { aBuf in
                operandB.withUnsafeBufferPointer { bBuf in
                    setLow.withUnsafeBufferPointer { lowBuf in
                        setHigh.withUnsafeBufferPointer { highBuf in
                            guard let kind = kindBuf.baseAddress, let opA = aBuf.baseAddress, let opB = bBuf.baseAddress else { return nil }
                            let low = lowBuf.baseAddress
                            let high = highBuf.baseAddress
                            var curPcs = pcsA
                            var curCaps = capsA
                            var nextPcs = pcsB
                            var nextCaps = capsB
                            var curCount = 0
                            var nextCount = 0
                            var stamp = 0  // identifies the list being filled, for `seen`
                            var matched: [Int]?
                            let n = text.count
                            let anchored = size > 1 && kind[1] == 3 && opA[1] == 0
                            let firstByte: Int = size > 1 && kind[1] == 0 && opA[1] < 128 ? opA[1] : -1
                            let m = Machine(
                                kind: kind, opA: opA, opB: opB, seen: seen, scratch: scratch, stack: stack, text: text, captures: captures,
                                slots: slots, stride: stride)

                            var pos = 0
                            stamp = 1
                            while true {
                                if matched == nil, !anchored || pos == 0 {
                                    if curCount == 0, firstByte >= 0 {
                                        while pos < n, Int(text[pos]) != firstByte { pos += 1 }
                                        if pos == n { break }
                                    }
                                    for s in 0..<stride { scratch[s] = -1 }
                                    curCount = Self.add(m, curPcs, curCaps, curCount, 0, pos, stamp)
                                }
                                if curCount == 0, matched != nil || anchored || pos >= n { break }
                                var c: UInt32 = 0
                                var len = 1
                                if pos < n { (c, len) = Self.decode(text, pos) }
                                stamp += 1
                                nextCount = 0
                                work += curCount + 1
                                var t = 0
                                while t < curCount {
                                    let pc = curPcs[t]
                                    let k = kind[pc]
                                    var advances = false
                                    if k == 9 {
                                        matched = captures > 0 ? Array(UnsafeBufferPointer(start: curCaps + t * stride, count: captures)) : []
                                        if firstOnly { return matched }
                                        break  // threads of lower priority are cut
                                    } else if pos < n {
                                        if k == 0 {
                                            advances = UInt32(opA[pc]) == c
                                        } else if k == 1 {
                                            advances = !Self.isLineTerminator(c)
                                        } else if k == 2 {
                                            let i = opA[pc]
                                            if c < 64, let low {
                                                advances = low[i] & (1 << UInt64(c)) != 0
                                            } else if c < 128, let high {
                                                advances = high[i] & (1 << UInt64(c - 64)) != 0
                                            } else {
                                                advances = sets[i].slowContains(c)
                                            }
                                        }
                                    }
                                    if advances {
                                        if slots > 0 {
                                            let base = t * stride
                                            for s in 0..<slots { scratch[s] = curCaps[base + s] }
                                        }
                                        nextCount = Self.add(m, nextPcs, nextCaps, nextCount, pc + 1, pos + len, stamp)
                                    }
                                    t += 1
                                }
                                if pos >= n { break }
                                swap(&curPcs, &nextPcs)
                                swap(&curCaps, &nextCaps)
                                curCount = nextCount
                                pos += len
                            }
                            return matched
                        }
                    }
                }
            }
        }
    }

    /// The buffers of one run, passed to `add` (no closure captures: fast in debug builds too).
    private struct Machine {
        let kind: UnsafePointer<Int>
        let opA: UnsafePointer<Int>
        let opB: UnsafePointer<Int>
        let seen: UnsafeMutablePointer<Int>
        let scratch: UnsafeMutablePointer<Int>
        let stack: UnsafeMutablePointer<Int>
        let text: UnsafeBufferPointer<UInt8>
        let captures: Int
        let slots: Int
        let stride: Int
    }

    /// Adds the thread at `pc0` (slots in `m.scratch`) to the list `pcs`/`caps` holding `count`
    /// threads, following jumps, splits, saves, marks and assertions in priority order; returns
    /// the new count. An instruction is added at most twice per position: once by a thread that
    /// started an empty-checked loop iteration at this position (`mark`), once by one that did not
    /// (they decide `loopEnd` differently).
    private static func add(
        _ m: Machine, _ pcs: UnsafeMutablePointer<Int>, _ caps: UnsafeMutablePointer<Int>, _ count0: Int, _ pc0: Int, _ pos: Int,
        _ stamp: Int
    ) -> Int {
        let kind = m.kind
        let opA = m.opA
        let opB = m.opB
        let seen = m.seen
        let scratch = m.scratch
        let stack = m.stack
        let captures = m.captures
        let slots = m.slots
        var count = count0
        // Work items: explore (2 × pc + flag ≥ 0), or restore slot s to v (-(s + 1), then v).
        stack[0] = 2 * pc0
        var top = 1
        while top > 0 {
            top -= 1
            let item = stack[top]
            if item < 0 {
                top -= 1
                scratch[-item - 1] = stack[top]
                continue
            }
            var pc = item >> 1
            var flag = item & 1
            while true {
                let key = 2 * pc + flag
                if seen[key] == stamp { break }
                seen[key] = stamp
                let k = kind[pc] & 15
                if k == 5 {
                    pc = opA[pc]
                } else if k == 4 {
                    stack[top] = 2 * opB[pc] + flag
                    top += 1
                    pc = opA[pc]
                } else if k == 6 || k == 7 {
                    let slot = k == 6 ? opA[pc] : captures + opA[pc]
                    if k == 7 || slot < captures {
                        stack[top] = scratch[slot]
                        stack[top + 1] = -(slot + 1)
                        top += 2
                        scratch[slot] = pos
                    }
                    if k == 7 { flag = 1 }
                    pc += 1
                } else if k == 8 {
                    let r = captures + (kind[pc] >> 4)
                    pc = scratch[r] == pos ? opB[pc] : opA[pc]
                } else if k == 3 {
                    let a = opA[pc]
                    let ok = a == 0 ? pos == 0 : (a == 2 ? pos == m.text.count : holds(.endOrFinalNewline, m.text, pos))
                    if !ok { break }
                    pc += 1
                } else {
                    pcs[count] = pc
                    if slots > 0 {
                        let base = count * m.stride
                        for s in 0..<slots { caps[base + s] = scratch[s] }
                    }
                    count += 1
                    break
                }
            }
        }
        return count
    }
}
