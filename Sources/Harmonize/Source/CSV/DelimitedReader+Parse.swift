/// The tokenizer's hot loop.
extension DelimitedReader {
    /// The next stop byte at or after `p` (a delimiter, a line break or the escape byte): the
    /// next set bit of `bits` in `p`'s word or a later one; `e` when there is none before `e`
    /// (or the bit found lies past it).
    @inline(__always)
    static func nextStop(_ bits: UnsafeMutablePointer<UInt64>, from p: Int, end e: Int) -> Int {
        var q = p
        while true {
            let word = bits[q &>> 6] &>> UInt64(q & 63)
            if word != 0 { return Swift.min(q &+ word.trailingZeroBitCount, e) }
            q = (q | 63) &+ 1
            if q >= e { return e }
        }
    }

    /// Parses one record starting at `s` (not a blank line). Returns false when the buffer ends
    /// before the record does and more input may come (the caller refills and parses again from
    /// the record start); true with the `p…` results set otherwise. At end of input it always
    /// completes (an open quote makes it `pUnterminated`).
    @inline(__always)
    func parseRecord(from s: Int) -> Bool {
        classifyBytes()
        let b = buf
        let e = end
        let atEOF = eof
        let bits = stopBits
        let dl = delimiterByte
        let qt = quoteInt
        let es = escapeInt
        let trim = trimSpaces
        var starts = fStart
        var ends = fEnd
        var flags = fFlags
        var fcap = fCap
        var nf = 0
        var lines = 0
        var anyUnescape = false
        var overflow = false
        var p = s
        var terminated = false
        var crAtEnd = false
        var unterminated = false
        var contentEnd = s
        var next = s
        var strayQuote = -1

        fieldLoop: while true {
            if !trim {
                // Fields that end at a delimiter, without a quote at their start or an escape or
                // line break inside: each ends at the next stop byte. Any other field (and the
                // record's last) is read by the loop below from its start.
                while nf < fcap && p < e && Int(b[p]) != qt {
                    let stop = Self.nextStop(bits, from: p, end: e)
                    guard stop < e, b[stop] == dl else { break }
                    starts[nf] = p
                    ends[nf] = stop
                    flags[nf] = 0
                    nf &+= 1
                    p = stop &+ 1
                    // As below: a field may follow the buffer's last delimiter (the byte classes
                    // past the buffer's end are not this input's).
                    if p == e && !atEOF { return false }
                }
            }
            if trim { while p < e && b[p] == 32 { p &+= 1 } }
            var fs = p
            var fe = p
            var fl: UInt8 = 0
            var scanUnquoted = true
            if p < e && Int(b[p]) == qt {
                fl = DelimitedReader.flagQuoted
                p &+= 1
                var clean = true
                var closed = false
                while p < e {
                    let c = b[p]
                    if Int(c) == qt {
                        if p &+ 1 < e {
                            if Int(b[p &+ 1]) == qt {
                                clean = false
                                p &+= 2
                                continue
                            }
                        } else if !atEOF {
                            return false
                        }
                        p &+= 1
                        closed = true
                        break
                    }
                    if Int(c) == es {
                        if p &+ 1 >= e {
                            if !atEOF { return false }
                            p &+= 1
                            continue
                        }
                        clean = false
                        p &+= 1  // count the escaped byte below like any content byte
                    }
                    let d = b[p]
                    if d == 10 {
                        lines &+= 1
                    } else if d == 13 {
                        if p &+ 1 < e {
                            if b[p &+ 1] != 10 { lines &+= 1 }
                        } else if !atEOF {
                            return false
                        } else {
                            lines &+= 1
                        }
                    }
                    p &+= 1
                }
                if !closed {
                    if !atEOF { return false }
                    unterminated = true
                    fe = p
                    if nf < fcap {
                        starts[nf] = fs
                        ends[nf] = fe
                        flags[nf] = fl
                    }
                    nf &+= 1
                    contentEnd = p
                    next = p
                    break fieldLoop
                }
                let closeEnd = p
                var q = p
                if trim { while q < e && b[q] == 32 { q &+= 1 } }
                if q == e && !atEOF { return false }
                if q == e || b[q] == dl || b[q] == 10 || b[q] == 13 {
                    scanUnquoted = false
                    p = q
                    if clean {
                        fs &+= 1
                        fe = closeEnd &- 1
                    } else {
                        fe = closeEnd
                        fl |= DelimitedReader.flagUnescape
                        anyUnescape = true
                    }
                } else {
                    // Content after the closing quote: read on as unquoted text (the record is
                    // rejected unless the dialect keeps such text).
                    if strayQuote < 0 { strayQuote = nf }
                    fl |= DelimitedReader.flagUnescape
                    anyUnescape = true
                    p = q
                }
            }
            if scanUnquoted {
                while true {
                    p = Self.nextStop(bits, from: p, end: e)
                    if p == e {
                        if !atEOF { return false }
                        break
                    }
                    let c = b[p]
                    if Int(c) != es || c == dl { break }
                    // Escape byte: the next byte is literal.
                    if p &+ 1 >= e {
                        if !atEOF { return false }
                        p &+= 1
                        continue
                    }
                    let d = b[p &+ 1]
                    if d == 10 {
                        lines &+= 1
                    } else if d == 13 {
                        if p &+ 2 < e {
                            if b[p &+ 2] != 10 { lines &+= 1 }
                        } else if !atEOF {
                            return false
                        } else {
                            lines &+= 1
                        }
                    }
                    fl |= DelimitedReader.flagUnescape
                    anyUnescape = true
                    p &+= 2
                }
                fe = p
                if trim { while fe > fs && b[fe &- 1] == 32 { fe &-= 1 } }
            }
            if nf < fcap {
                starts[nf] = fs
                ends[nf] = fe
                flags[nf] = fl
            } else if growFields() {
                starts = fStart
                ends = fEnd
                flags = fFlags
                fcap = fCap
                starts[nf] = fs
                ends[nf] = fe
                flags[nf] = fl
            } else {
                overflow = true
            }
            nf &+= 1
            if p == e {
                contentEnd = p
                next = p
                break
            }
            let c = b[p]
            if c == dl {
                p &+= 1
                if p == e && !atEOF { return false }
                continue
            }
            contentEnd = p
            terminated = true
            if c == 10 {
                next = p &+ 1
            } else if p &+ 1 < e {
                next = b[p &+ 1] == 10 ? p &+ 2 : p &+ 1
            } else {
                next = p &+ 1
                crAtEnd = !atEOF
            }
            break
        }
        pFields = nf
        pNext = next
        pContentEnd = contentEnd
        pLines = lines
        pTerminated = terminated
        pCRAtEnd = crAtEnd
        // Every byte of the record's fields lies in `s ..< contentEnd`.
        pNonASCII = hasHighByte(from: s, to: contentEnd)
        pUnescape = anyUnescape
        pUnterminated = unterminated
        pOverflow = overflow
        pStrayQuote = strayQuote
        return true
    }
}
