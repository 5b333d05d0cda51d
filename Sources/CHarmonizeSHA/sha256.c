// SHA-256 compression (FIPS 180-4, section 6.2.2) with the Intel SHA extensions: the four-round
// step `sha256rnds2` and the message schedule helpers `sha256msg1` / `sha256msg2`, as described
// in Intel's "Intel SHA Extensions" white paper (Gulley et al., 2013). The state is kept in the
// ABEF / CDGH register layout those instructions use.
#include "CHarmonizeSHA.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

int harmonize_sha256_accelerated(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int sha = (b >> 29) & 1;
    return ssse3 && sse41 && sha;
}

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,sse4.1,ssse3")))
void harmonize_sha256_compress_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    // Big-endian words: reverse the bytes of each 32-bit lane.
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);    // A B C D (lane 0 first)
    __m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);     // E F G H
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                           // B A D C
    s1 = _mm_shuffle_epi32(s1, 0x1B);                             // H G F E
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);                     // ABEF
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);                          // CDGH
    while (blocks--) {
        const __m128i abef = s0, cdgh = s1;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), swap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), swap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), swap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), swap);
        // Four rounds with the schedule words `w` (W[4g..4g+3]) of group g.
#define HZ_ROUNDS(w, g)                                                                   \
    do {                                                                                  \
        __m128i msg = _mm_add_epi32((w), _mm_loadu_si128((const __m128i *)&K[4 * (g)])); \
        s1 = _mm_sha256rnds2_epu32(s1, s0, msg);                                          \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));                 \
    } while (0)
        // The next schedule words from the four previous groups (oldest first):
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
#define HZ_SCHEDULE(a, b, c, d) \
    _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)), _mm_alignr_epi8((d), (c), 4)), (d))
        HZ_ROUNDS(m0, 0);
        HZ_ROUNDS(m1, 1);
        HZ_ROUNDS(m2, 2);
        HZ_ROUNDS(m3, 3);
        for (int g = 4; g < 16; g += 4) {
            m0 = HZ_SCHEDULE(m0, m1, m2, m3);
            HZ_ROUNDS(m0, g);
            m1 = HZ_SCHEDULE(m1, m2, m3, m0);
            HZ_ROUNDS(m1, g + 1);
            m2 = HZ_SCHEDULE(m2, m3, m0, m1);
            HZ_ROUNDS(m2, g + 2);
            m3 = HZ_SCHEDULE(m3, m0, m1, m2);
            HZ_ROUNDS(m3, g + 3);
        }
#undef HZ_ROUNDS
#undef HZ_SCHEDULE
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
        data += 64;
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);                            // A B E F (lane 0 first)
    s1 = _mm_shuffle_epi32(s1, 0xB1);                             // G H C D
    s0 = _mm_blend_epi16(tmp, s1, 0xF0);                          // A B C D
    s1 = _mm_alignr_epi8(s1, tmp, 8);                             // E F G H
    _mm_storeu_si128((__m128i *)&state[0], s0);
    _mm_storeu_si128((__m128i *)&state[4], s1);
}

#else

int harmonize_sha256_accelerated(void) { return 0; }

void harmonize_sha256_compress_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
    (void)state;
    (void)data;
    (void)blocks;
}

#endif
