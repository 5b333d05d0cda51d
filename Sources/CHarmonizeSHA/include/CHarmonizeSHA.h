// SHA-256 block compression with the x86 SHA extensions (SHA-NI), for Harmonize's keyed
// pseudonyms (PreparedHMAC). Harmonize keeps a portable Swift compression and uses this one only
// when the processor has the instructions (harmonize_sha256_accelerated() != 0).
#ifndef CHARMONIZE_SHA_H
#define CHARMONIZE_SHA_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this processor has the SHA extensions (and SSSE3, SSE4.1) used by
/// harmonize_sha256_compress_blocks; 0 otherwise (and on every processor that is not x86).
int harmonize_sha256_accelerated(void);

/// Compresses `blocks` 64-byte blocks of `data` into `state` (the eight 32-bit words H0..H7 of
/// FIPS 180-4, in that order). Only to be called when harmonize_sha256_accelerated() is 1.
void harmonize_sha256_compress_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

/// Asks the processor to bring the cache line at `p` in, without waiting (the keyed pseudonyms'
/// cache slot of an identifier, as soon as the identifier is read: `Pseudonymizer.prefetch`).
static inline void harmonize_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
