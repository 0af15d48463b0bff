/* AVX2 channel loops of NHWC max pooling: 8 (float) or 4 (double) channels
 * per vector, four vectors at a time, running maxima and tap numbers in
 * registers across the whole window, compare-and-blend per tap (a NaN always
 * replaces, as torch).
 * Only these functions carry the avx2 target; pool2d_nhwc.c calls them when
 * dispatch.c chose the AVX2 kernels. */
#include <math.h>
#include <stdint.h>

#include "pool2d_nhwc.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#if defined(__GNUC__) || defined(__clang__)
#define AVX2 __attribute__((target("avx2,fma")))
#else
#define AVX2
#endif

#if defined(__GNUC__) || defined(__clang__)
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))
#else
#define INLINE_AVX2 static inline
#endif

/* NV vectors of channels at once: each vector's compare-and-blend chain is
 * latency bound (about 6 cycles a tap), so independent chains interleave.
 * NV is a constant at every call, so best[] and arg[] live in registers. */
INLINE_AVX2 void max_f32_vectors(const float *x, int64_t W, int64_t C, int64_t ih0, int64_t ih1,
                                 int64_t dh, int64_t iw0, int64_t iw1, int64_t dw, int nv,
                                 int64_t start, int64_t nw, int arithmetic, float *out,
                                 int64_t *index) {
    __m256 best[4];
    __m256i arg[4];
    for (int v = 0; v < nv; v++) {
        best[v] = _mm256_set1_ps(-INFINITY);
        arg[v] = _mm256_set1_epi32(-1);
    }
    int32_t tap = 0;
    for (int64_t ih = ih0; ih < ih1; ih += dh)
        for (int64_t iw = iw0; iw < iw1; iw += dw, tap++) {
            const float *row = x + (ih * W + iw) * C;
            const __m256 number = _mm256_castsi256_ps(_mm256_set1_epi32(tap));
            for (int v = 0; v < nv; v++) {
                const __m256 value = _mm256_loadu_ps(row + 8 * v);
                const __m256 take = _mm256_or_ps(_mm256_cmp_ps(value, best[v], _CMP_GT_OQ),
                                                 _mm256_cmp_ps(value, value, _CMP_UNORD_Q));
                best[v] = _mm256_blendv_ps(best[v], value, take);
                arg[v] = _mm256_castps_si256(
                    _mm256_blendv_ps(_mm256_castsi256_ps(arg[v]), number, take));
            }
        }
    for (int v = 0; v < nv; v++) {
        _mm256_storeu_ps(out + 8 * v, best[v]);
        if (arithmetic) {
            /* tap t = q * nw + r sits at start + r * dw + q * dh * W =
             * start + t * dw + q * (dh * W - nw * dw), in int32 lanes, widened
             * to int64 only for the final add (two gathers from a table of
             * positions cost more). q = t / nw as (t + 0.5) / nw in float: exact
             * for the few taps this path takes. Nothing beat -inf (t = -1):
             * start. */
            const __m256i t = arg[v];
            const __m256i q = _mm256_cvttps_epi32(
                _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(t), _mm256_set1_ps(0.5f)),
                              _mm256_set1_ps(1.0f / (float)nw)));
            const __m256i offset = _mm256_add_epi32(
                _mm256_mullo_epi32(t, _mm256_set1_epi32((int32_t)dw)),
                _mm256_mullo_epi32(q, _mm256_set1_epi32((int32_t)(dh * W - nw * dw))));
            const __m256i found = _mm256_andnot_si256(_mm256_srai_epi32(t, 31), offset);
            const __m256i base = _mm256_set1_epi64x(start);
            _mm256_storeu_si256((__m256i *)(index + 8 * v),
                                _mm256_add_epi64(base, _mm256_cvtepi32_epi64(
                                                           _mm256_castsi256_si128(found))));
            _mm256_storeu_si256((__m256i *)(index + 8 * v + 4),
                                _mm256_add_epi64(base, _mm256_cvtepi32_epi64(
                                                           _mm256_extracti128_si256(found, 1))));
        } else {
            int32_t taps[8];
            _mm256_storeu_si256((__m256i *)taps, arg[v]);
            for (int j = 0; j < 8; j++)
                index[8 * v + j] = taps[j] < 0 ? start
                                               : (ih0 + taps[j] / nw * dh) * W + iw0 +
                                                     taps[j] % nw * dw;
        }
    }
}

AVX2 int64_t cconv_max_pool2d_nhwc_channels_f32_avx2(const float *x, int64_t W, int64_t C,
                                                     int64_t ih0, int64_t ih1, int64_t dh,
                                                     int64_t iw0, int64_t iw1, int64_t dw,
                                                     int64_t start, float *out, int64_t *index) {
    /* int32 lane arithmetic for the index when the window is small and spans
     * under 2^30 plane positions (start is the window's first tap); taps per
     * row and rows without a division for undilated windows */
    const int64_t nw = dw == 1 ? iw1 - iw0 : (iw1 - iw0 + dw - 1) / dw;
    const int64_t nh = dh == 1 ? ih1 - ih0 : (ih1 - ih0 + dh - 1) / dh;
    const int arithmetic = nw > 0 && nh > 0 && nw * nh <= CCONV_NHWC_POSITIONS &&
                           start == ih0 * W + iw0 && (ih1 - ih0) * W < ((int64_t)1 << 30);
    int64_t c = 0;
    for (; c + 32 <= C; c += 32)
        max_f32_vectors(x + c, W, C, ih0, ih1, dh, iw0, iw1, dw, 4, start, nw, arithmetic,
                        out + c, index + c);
    for (; c + 8 <= C; c += 8)
        max_f32_vectors(x + c, W, C, ih0, ih1, dh, iw0, iw1, dw, 1, start, nw, arithmetic,
                        out + c, index + c);
    return c; /* channels [c, C) are left to the portable loop */
}

INLINE_AVX2 void max_f64_vectors(const double *x, int64_t W, int64_t C, int64_t ih0,
                                 int64_t ih1, int64_t dh, int64_t iw0, int64_t iw1, int64_t dw,
                                 int nv, int64_t start, double *out, int64_t *index) {
    __m256d best[4];
    __m256i arg[4];
    for (int v = 0; v < nv; v++) {
        best[v] = _mm256_set1_pd(-INFINITY);
        arg[v] = _mm256_set1_epi64x(start);
    }
    for (int64_t ih = ih0; ih < ih1; ih += dh)
        for (int64_t iw = iw0; iw < iw1; iw += dw) {
            const double *row = x + (ih * W + iw) * C;
            const __m256d here = _mm256_castsi256_pd(_mm256_set1_epi64x(ih * W + iw));
            for (int v = 0; v < nv; v++) {
                const __m256d value = _mm256_loadu_pd(row + 4 * v);
                const __m256d take = _mm256_or_pd(_mm256_cmp_pd(value, best[v], _CMP_GT_OQ),
                                                  _mm256_cmp_pd(value, value, _CMP_UNORD_Q));
                best[v] = _mm256_blendv_pd(best[v], value, take);
                arg[v] = _mm256_castpd_si256(
                    _mm256_blendv_pd(_mm256_castsi256_pd(arg[v]), here, take));
            }
        }
    for (int v = 0; v < nv; v++) {
        _mm256_storeu_pd(out + 4 * v, best[v]);
        _mm256_storeu_si256((__m256i *)(index + 4 * v), arg[v]);
    }
}

AVX2 int64_t cconv_max_pool2d_nhwc_channels_f64_avx2(const double *x, int64_t W, int64_t C,
                                                     int64_t ih0, int64_t ih1, int64_t dh,
                                                     int64_t iw0, int64_t iw1, int64_t dw,
                                                     int64_t start, double *out, int64_t *index) {
    /* the int64 positions blend directly: lanes are as wide */
    int64_t c = 0;
    for (; c + 16 <= C; c += 16)
        max_f64_vectors(x + c, W, C, ih0, ih1, dh, iw0, iw1, dw, 4, start, out + c, index + c);
    for (; c + 4 <= C; c += 4)
        max_f64_vectors(x + c, W, C, ih0, ih1, dh, iw0, iw1, dw, 1, start, out + c, index + c);
    return c;
}
#endif
