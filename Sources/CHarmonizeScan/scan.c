// Byte classes of delimited text (see CHarmonizeScan.h). The CSV reader finds a field's end as
// the next set bit of `stopBits` instead of testing the field's bytes, eight at a time, for
// each of its stop bytes (`bench/README.md`, seventeenth part).
#include "CHarmonizeScan.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void harmonize_scan_classes(const uint8_t *p, size_t n, const uint8_t *stops, size_t stopCount, uint64_t *stopBits,
                            uint64_t *highBits) {
    if (stopCount == 0) return;
    uint8_t s[4];  // unused places repeat the first stop byte
    for (size_t k = 0; k < 4; k++) s[k] = stops[k < stopCount ? k : 0];
    size_t i = 0, w = 0;
#if defined(__SSE2__)
    const __m128i s0 = _mm_set1_epi8((char)s[0]), s1 = _mm_set1_epi8((char)s[1]);
    const __m128i s2 = _mm_set1_epi8((char)s[2]), s3 = _mm_set1_epi8((char)s[3]);
    for (; i + 64 <= n; i += 64, w++) {
        uint64_t stop = 0, high = 0;
        for (int k = 0; k < 4; k++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(p + i + 16 * k));
            const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, s0), _mm_cmpeq_epi8(v, s1)),
                                             _mm_or_si128(_mm_cmpeq_epi8(v, s2), _mm_cmpeq_epi8(v, s3)));
            stop |= (uint64_t)(uint16_t)_mm_movemask_epi8(hit) << (16 * k);
            high |= (uint64_t)(uint16_t)_mm_movemask_epi8(v) << (16 * k);
        }
        stopBits[w] = stop;
        highBits[w] = high;
    }
#endif
    // The last partial word (and every word where SSE2 is not there), a byte at a time.
    while (i < n) {
        uint64_t stop = 0, high = 0;
        const size_t base = i;
        for (; i < n && i - base < 64; i++) {
            const uint8_t c = p[i];
            const uint64_t hit = (c == s[0]) | (c == s[1]) | (c == s[2]) | (c == s[3]);
            stop |= hit << (i - base);
            high |= (uint64_t)(c >> 7) << (i - base);
        }
        stopBits[w] = stop;
        highBits[w] = high;
        w++;
    }
    // The word after the last: a field that starts at the end of the input (after a delimiter
    // at the end of a file) must find no stop there. When `n` is a multiple of 64 that word
    // held the classes of bytes read before (the buffer's earlier content).
    if (n % 64 == 0) {
        stopBits[w] = 0;
        highBits[w] = 0;
    }
}
