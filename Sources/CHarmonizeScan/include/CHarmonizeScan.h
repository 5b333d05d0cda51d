// Byte-level loops that take vector instructions (SSE2 on x86-64, a byte at a time elsewhere):
// the byte classes of a buffer of delimited text, 64 bytes to a word, for Harmonize's CSV reader
// (DelimitedReader): where its fields and records may end, and where a byte is not ASCII; and
// the hexadecimal text of bytes (the keyed pseudonyms').
#ifndef CHARMONIZE_SCAN_H
#define CHARMONIZE_SCAN_H

#include <stddef.h>
#include <stdint.h>

/// For the `n` bytes at `p`, sets bit `i % 64` of `stopBits[i / 64]` when byte `i` is one of the
/// `stopCount` bytes of `stops` (1 to 4 of them), and the same bit of `highBits[i / 64]` when
/// byte `i` is 0x80 or above; bits past `n` are 0 up to the end of the word after the last
/// (a scan for the next stop that starts at `n` finds none there, whatever the arrays held
/// before). Both arrays need `n / 64 + 1` words. SSE2 on x86-64 (16 bytes per comparison), a
/// byte at a time elsewhere.
void harmonize_scan_classes(const uint8_t *p, size_t n, const uint8_t *stops, size_t stopCount, uint64_t *stopBits,
                            uint64_t *highBits);

/// Writes the `2 * n` lowercase hexadecimal digits of the `n` bytes at `in` to `out` (each
/// byte's high digit first). SSE2 on x86-64 (16 bytes at a time), a byte at a time elsewhere
/// and for the last `n % 16` bytes.
void harmonize_hex_lower(const uint8_t *in, size_t n, uint8_t *out);

#endif
