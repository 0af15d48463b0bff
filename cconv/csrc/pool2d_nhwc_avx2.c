/* AVX2 channel loops of NHWC max pooling: 8 (float) or 4 (double) channels
 * per vector, running maxima and tap numbers in registers across the whole
 * window, compare-and-blend per tap (a NaN always replaces, as torch).
 * Only these functions carry the avx2 target; pool2d_nhwc.c calls them when
 * dispatch.c chose the AVX2 kernels. */
#include <math.h>
#include <stdint.h>

#include "pool2d_nhwc.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#if defined(__GNUC__) || defined(__clang__)
#define AVX2 __attribute__((target("avx2")))
#else
#define AVX2
#endif

AVX2 int64_t cconv_max_pool2d_nhwc_channels_f32_avx2(const float *x, int64_t W, int64_t C,
                                                     int64_t ih0, int64_t ih1, int64_t dh,
                                                     int64_t iw0, int64_t iw1, int64_t dw,
                                                     int64_t start, float *out,
                                                     int64_t *index) {
    const int64_t nw = (iw1 - iw0 + dw - 1) / dw;
    /* plane position of each tap number, so the int32 numbers widen without
     * a division per channel (windows past 64 taps divide) */
    int64_t position[64];
    const int64_t taps_in_window = nw * ((ih1 - ih0 + dh - 1) / dh);
    for (int64_t t = 0; t < taps_in_window && t < 64; t++)
        position[t] = (ih0 + t / nw * dh) * W + iw0 + t % nw * dw;
    int64_t c = 0;
    for (; c + 8 <= C; c += 8) {
        __m256 best = _mm256_set1_ps(-INFINITY);
        __m256i arg = _mm256_set1_epi32(-1);
        int32_t tap = 0;
        for (int64_t ih = ih0; ih < ih1; ih += dh)
            for (int64_t iw = iw0; iw < iw1; iw += dw, tap++) {
                const __m256 v = _mm256_loadu_ps(x + (ih * W + iw) * C + c);
                const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                                 _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                best = _mm256_blendv_ps(best, v, take);
                arg = _mm256_castps_si256(_mm256_blendv_ps(
                    _mm256_castsi256_ps(arg), _mm256_castsi256_ps(_mm256_set1_epi32(tap)), take));
            }
        int32_t taps[8];
        _mm256_storeu_ps(out + c, best);
        _mm256_storeu_si256((__m256i *)taps, arg);
        for (int j = 0; j < 8; j++)
            index[c + j] = taps[j] < 0    ? start
                           : taps[j] < 64 ? position[taps[j]]
                                          : (ih0 + taps[j] / nw * dh) * W + iw0 + taps[j] % nw * dw;
    }
    return c; /* channels [c, C) are left to the portable loop */
}

AVX2 int64_t cconv_max_pool2d_nhwc_channels_f64_avx2(const double *x, int64_t W, int64_t C,
                                                     int64_t ih0, int64_t ih1, int64_t dh,
                                                     int64_t iw0, int64_t iw1, int64_t dw,
                                                     int64_t start, double *out,
                                                     int64_t *index) {
    int64_t c = 0;
    for (; c + 4 <= C; c += 4) {
        __m256d best = _mm256_set1_pd(-INFINITY);
        __m256i arg = _mm256_set1_epi64x(start);
        for (int64_t ih = ih0; ih < ih1; ih += dh)
            for (int64_t iw = iw0; iw < iw1; iw += dw) {
                const __m256d v = _mm256_loadu_pd(x + (ih * W + iw) * C + c);
                const __m256d take = _mm256_or_pd(_mm256_cmp_pd(v, best, _CMP_GT_OQ),
                                                  _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
                best = _mm256_blendv_pd(best, v, take);
                arg = _mm256_castpd_si256(_mm256_blendv_pd(
                    _mm256_castsi256_pd(arg), _mm256_castsi256_pd(_mm256_set1_epi64x(ih * W + iw)),
                    take));
            }
        _mm256_storeu_pd(out + c, best);
        _mm256_storeu_si256((__m256i *)(index + c), arg);
    }
    return c;
}
#endif
