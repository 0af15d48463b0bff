/* Eight channels of a channel-lane tile (one 8-lane vector per position,
 * positions 0-5) stored as channel planes: plane j gets the six positions
 * of channel j, contiguous. A 6 x 8 -> 8 x 6 transpose: unpacks pair the
 * rows, shuffles gather rows 0-3 of each channel in one 128-bit lane, rows
 * 4-5 are one 64-bit half. Shared by the AVX2 and AVX-512 planes kernels
 * (the latter call it on each 256-bit half of a zmm). Include after
 * <immintrin.h>, on x86 only. */
#ifndef CCONV_STORE_PLANES_AVX_H
#define CCONV_STORE_PLANES_AVX_H

#if defined(__GNUC__) || defined(__clang__)
__attribute__((target("avx2")))
#endif
static inline void cconv_store_planes_6x8(__m256 r0, __m256 r1, __m256 r2, __m256 r3,
                                          __m256 r4, __m256 r5, float *c, int64_t ldc) {
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m128 l4 = _mm256_castps256_ps128(t4), h4 = _mm256_extractf128_ps(t4, 1);
    const __m128 l5 = _mm256_castps256_ps128(t5), h5 = _mm256_extractf128_ps(t5, 1);
    _mm_storeu_ps(c, _mm256_castps256_ps128(s0));
    _mm_storel_pi((__m64 *)(c + 4), l4);
    _mm_storeu_ps(c + ldc, _mm256_castps256_ps128(s1));
    _mm_storeh_pi((__m64 *)(c + ldc + 4), l4);
    _mm_storeu_ps(c + 2 * ldc, _mm256_castps256_ps128(s2));
    _mm_storel_pi((__m64 *)(c + 2 * ldc + 4), l5);
    _mm_storeu_ps(c + 3 * ldc, _mm256_castps256_ps128(s3));
    _mm_storeh_pi((__m64 *)(c + 3 * ldc + 4), l5);
    _mm_storeu_ps(c + 4 * ldc, _mm256_extractf128_ps(s0, 1));
    _mm_storel_pi((__m64 *)(c + 4 * ldc + 4), h4);
    _mm_storeu_ps(c + 5 * ldc, _mm256_extractf128_ps(s1, 1));
    _mm_storeh_pi((__m64 *)(c + 5 * ldc + 4), h4);
    _mm_storeu_ps(c + 6 * ldc, _mm256_extractf128_ps(s2, 1));
    _mm_storel_pi((__m64 *)(c + 6 * ldc + 4), h5);
    _mm_storeu_ps(c + 7 * ldc, _mm256_extractf128_ps(s3, 1));
    _mm_storeh_pi((__m64 *)(c + 7 * ldc + 4), h5);
}

#endif
