// Lowercase hexadecimal text of bytes (see CHarmonizeScan.h): the keyed pseudonyms' hex form,
// written once per pseudonym (`Hex.string(_:count:)`).
#include "CHarmonizeScan.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void harmonize_hex_lower(const uint8_t *in, size_t n, uint8_t *out) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i low = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0');
    const __m128i gap = _mm_set1_epi8('a' - '0' - 10);
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(in + i));
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low), lo = _mm_and_si128(v, low);
        // Each byte's high nibble, then its low one: sixteen bytes give two words of digits.
        __m128i a = _mm_unpacklo_epi8(hi, lo), b = _mm_unpackhi_epi8(hi, lo);
        a = _mm_add_epi8(_mm_add_epi8(a, zero), _mm_and_si128(_mm_cmpgt_epi8(a, nine), gap));
        b = _mm_add_epi8(_mm_add_epi8(b, zero), _mm_and_si128(_mm_cmpgt_epi8(b, nine), gap));
        _mm_storeu_si128((__m128i *)(out + 2 * i), a);
        _mm_storeu_si128((__m128i *)(out + 2 * i + 16), b);
    }
#endif
    static const char digits[] = "0123456789abcdef";
    for (; i < n; i++) {
        out[2 * i] = (uint8_t)digits[in[i] >> 4];
        out[2 * i + 1] = (uint8_t)digits[in[i] & 15];
    }
}
