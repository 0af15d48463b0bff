/* AVX2 row micro-kernels for pooling (see pool2d.h for the contract). Only
 * these functions carry the avx2 target; pool2d_dispatch.c picks them on CPUs
 * that have it.
 *
 * A vector holds LANES neighbouring outputs of one row. Each tap of the window
 * is one vector: for stride 1 a plain load, for stride 2 the even elements of
 * two overlapping loads, p[0..LANES) and p[LANES-1..2*LANES-1), so nothing past
 * the last tap is read. Every lane scans its window in torch's order, so the
 * results are the scalar kernel's bit for bit. A row's last partial block is
 * recomputed overlapping the previous one instead of running a scalar tail. */
#include "pool2d.h"

#ifdef CCONV_POOL2D_HAVE_X86
#include <immintrin.h>
#include <math.h>

#if defined(__GNUC__) || defined(__clang__)
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))
#else
#define AVX2
#define INLINE_AVX2 static __forceinline
#endif

/* Outputs per call of a block kernel: independent chains that hide the
 * compare/blend latency of one block behind the others. */
#define MAX_BLOCKS 4

/* ---- tap loads ---------------------------------------------------------------------- */

/* The 8 elements p[0], p[s], ..., p[7s] (s in {1, 2}), for s == 2 in the lane
 * order [0 1 4 5 2 3 6 7] that one in-lane shuffle gives; every vector of a
 * block (taps, index candidates) uses that order and unshuffle_f32 restores
 * it once, when the block is stored. */
INLINE_AVX2 __m256 taps_f32(const float *p, const int s) {
    if (s == 1) return _mm256_loadu_ps(p);
    const __m256 a = _mm256_loadu_ps(p);     /* p0 .. p7  */
    const __m256 b = _mm256_loadu_ps(p + 7); /* p7 .. p14: nothing past the last tap */
    return _mm256_shuffle_ps(a, b, 0xD8);    /* [p0 p2 p8 p10 | p4 p6 p12 p14] */
}

INLINE_AVX2 __m256 unshuffle_f32(__m256 v, const int s) {
    if (s == 1) return v;
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
}

/* Lane l holds output o + lane_f32[l]. */
INLINE_AVX2 __m256i lanes_f32(const int s) {
    return s == 1 ? _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
                  : _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
}

/* The same for 4 doubles: s == 2 gives lane order [0 2 1 3]. */
INLINE_AVX2 __m256d taps_f64(const double *p, const int s) {
    if (s == 1) return _mm256_loadu_pd(p);
    const __m256d a = _mm256_loadu_pd(p);     /* p0 .. p3 */
    const __m256d b = _mm256_loadu_pd(p + 3); /* p3 .. p6 */
    return _mm256_shuffle_pd(a, b, 0xA);      /* p0 p4 p2 p6 */
}

INLINE_AVX2 __m256d unshuffle_f64(__m256d v, const int s) {
    return s == 1 ? v : _mm256_permute4x64_pd(v, 0xD8);
}

INLINE_AVX2 __m256i lanes_f64(const int s) {
    return s == 1 ? _mm256_setr_epi64x(0, 1, 2, 3) : _mm256_setr_epi64x(0, 2, 1, 3);
}

/* ---- max pooling -------------------------------------------------------------------- */

/* torch's update rule, per lane: take v when v > best or v is NaN. */
INLINE_AVX2 __m256 take_f32(__m256 v, __m256 best) {
    return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

INLINE_AVX2 __m256d take_f64(__m256d v, __m256d best) {
    return _mm256_or_pd(_mm256_cmp_pd(v, best, _CMP_GT_OQ), _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
}

/* nb <= MAX_BLOCKS blocks of 8 outputs from column o, block b at o + 8 * b but
 * the last at o + last (a row of 9-15 outputs: two blocks that overlap, whose
 * compare-and-blend chains interleave; one after the other they ran at the
 * chain's latency). Indices are tracked as int32 (widened on store): the
 * caller checks the plane is small enough. */
INLINE_AVX2 void max_blocks_f32(const cconv_pool2d_geometry *g, const float *x, int64_t ih0,
                                int64_t ih1, int64_t o, float *y, int64_t *indices,
                                const int s, const int nb, const int64_t last) {
    const int64_t W = g->in_w, kw = g->kernel_w, dh = g->dilation_h, dw = g->dilation_w;
    const int64_t iw0 = o * s - g->pad_w;
    const __m256i lane = _mm256_mullo_epi32(lanes_f32(s), _mm256_set1_epi32(s));
    const __m256i tap_step = _mm256_set1_epi32((int32_t)dw);
    const __m256i row_step = _mm256_set1_epi32((int32_t)(dh * W));
    __m256 best[MAX_BLOCKS];
    __m256i arg[MAX_BLOCKS], row_cand[MAX_BLOCKS];
    int64_t off[MAX_BLOCKS];
    for (int b = 0; b < nb; b++) off[b] = b == nb - 1 ? last : 8 * b;
    for (int b = 0; b < nb; b++) {
        best[b] = _mm256_set1_ps(-INFINITY);
        row_cand[b] = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(ih0 * W + iw0 + s * off[b])),
                                       lane);
        arg[b] = row_cand[b]; /* torch's start index: the window's first position */
    }
    for (int64_t ih = ih0; ih < ih1; ih += dh) {
        const float *p = x + ih * W + iw0;
        __m256i cand[MAX_BLOCKS];
        for (int b = 0; b < nb; b++) cand[b] = row_cand[b];
        for (int64_t j = 0; j < kw; j++) {
            for (int b = 0; b < nb; b++) {
                const __m256 v = taps_f32(p + j * dw + s * off[b], s);
                const __m256 take = take_f32(v, best[b]);
                best[b] = _mm256_blendv_ps(best[b], v, take);
                arg[b] = _mm256_castps_si256(_mm256_blendv_ps(
                    _mm256_castsi256_ps(arg[b]), _mm256_castsi256_ps(cand[b]), take));
                cand[b] = _mm256_add_epi32(cand[b], tap_step);
            }
        }
        for (int b = 0; b < nb; b++) row_cand[b] = _mm256_add_epi32(row_cand[b], row_step);
    }
    for (int b = 0; b < nb; b++) {
        const __m256i a = _mm256_castps_si256(unshuffle_f32(_mm256_castsi256_ps(arg[b]), s));
        _mm256_storeu_ps(y + o + off[b], unshuffle_f32(best[b], s));
        _mm256_storeu_si256((__m256i *)(indices + o + off[b]),
                            _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a)));
        _mm256_storeu_si256((__m256i *)(indices + o + off[b] + 4),
                            _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a, 1)));
    }
}

/* A row of n < 8 outputs (LeNet's 10x10 -> 5x5 planes): one block whose taps
 * are masked loads, so no lane reads past the window of output n - 1, and
 * whose stores are masked to n. The scalar rows ran at ~7 ns an element. */
INLINE_AVX2 __m256i first_lanes_f32(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(count < 0 ? 0 : count)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE_AVX2 __m256 masked_taps_f32(const float *p, const int s, int64_t n) {
    if (s == 1) return _mm256_maskload_ps(p, first_lanes_f32(n));
    /* stride 2 reads p[0 .. 2n - 2]: lanes of p[0..7], then of p[7..14] */
    const __m256 a = _mm256_maskload_ps(p, first_lanes_f32(2 * n - 1));
    const __m256 b = _mm256_maskload_ps(p + 7, first_lanes_f32(2 * n - 8));
    return _mm256_shuffle_ps(a, b, 0xD8);
}

INLINE_AVX2 void max_short_row_f32(const cconv_pool2d_geometry *g, const float *x,
                                   int64_t ih0, int64_t ih1, int64_t o, int64_t n, float *y,
                                   int64_t *indices, const int s) {
    const int64_t W = g->in_w, kw = g->kernel_w, dh = g->dilation_h, dw = g->dilation_w;
    const int64_t iw0 = o * s - g->pad_w;
    const __m256i lane = _mm256_mullo_epi32(lanes_f32(s), _mm256_set1_epi32(s));
    __m256 best = _mm256_set1_ps(-INFINITY);
    __m256i row_cand = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(ih0 * W + iw0)), lane);
    __m256i arg = row_cand;
    for (int64_t ih = ih0; ih < ih1; ih += dh) {
        const float *p = x + ih * W + iw0;
        __m256i cand = row_cand;
        for (int64_t j = 0; j < kw; j++) {
            const __m256 v = masked_taps_f32(p + j * dw, s, n);
            const __m256 take = take_f32(v, best);
            best = _mm256_blendv_ps(best, v, take);
            arg = _mm256_castps_si256(
                _mm256_blendv_ps(_mm256_castsi256_ps(arg), _mm256_castsi256_ps(cand), take));
            cand = _mm256_add_epi32(cand, _mm256_set1_epi32((int32_t)dw));
        }
        row_cand = _mm256_add_epi32(row_cand, _mm256_set1_epi32((int32_t)(dh * W)));
    }
    const __m256i a = _mm256_castps_si256(unshuffle_f32(_mm256_castsi256_ps(arg), s));
    const __m256i out_mask = first_lanes_f32(n);
    _mm256_maskstore_ps(y + o, out_mask, unshuffle_f32(best, s));
    /* int64 lanes 0-3 and 4-7: each 32-bit mask lane widened to a 64-bit one */
    _mm256_maskstore_epi64((long long *)(indices + o),
                           _mm256_cvtepi32_epi64(_mm256_castsi256_si128(out_mask)),
                           _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a)));
    _mm256_maskstore_epi64((long long *)(indices + o + 4),
                           _mm256_cvtepi32_epi64(_mm256_extracti128_si256(out_mask, 1)),
                           _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a, 1)));
}

/* Blocks of MAX_BLOCKS, then 2, then the 1-15 left: two blocks overlapping each
 * other (9-15) or one overlapping the block before (1-8). Rows have >= 8 outputs. */
INLINE_AVX2 void max_row_f32(const cconv_pool2d_geometry *g, const float *x, int64_t ih0,
                             int64_t ih1, int64_t ow_begin, int64_t ow_end, float *y,
                             int64_t *indices, const int s) {
    int64_t ow = ow_begin;
    for (; ow + 8 * MAX_BLOCKS <= ow_end; ow += 8 * MAX_BLOCKS)
        max_blocks_f32(g, x, ih0, ih1, ow, y, indices, s, MAX_BLOCKS, 8 * (MAX_BLOCKS - 1));
    for (; ow + 16 <= ow_end; ow += 16) max_blocks_f32(g, x, ih0, ih1, ow, y, indices, s, 2, 8);
    const int64_t rest = ow_end - ow;
    if (rest > 8)
        max_blocks_f32(g, x, ih0, ih1, ow, y, indices, s, 2, rest - 8);
    else if (rest > 0)
        max_blocks_f32(g, x, ih0, ih1, ow_end - 8, y, indices, s, 1, 0);
}

AVX2 void cconv_f32_max_pool2d_row_avx2(const cconv_pool2d_geometry *g, const float *x,
                                        int64_t ih0, int64_t ih1, int64_t ow_begin,
                                        int64_t ow_end, float *y, int64_t *indices) {
    /* int32 indices must hold every position, and the start index of a window
     * that skipped past the padding into nothing (ih0 < in_h + dilation_h) */
    const int fits_int32 = (g->in_h + g->dilation_h) * g->in_w < INT32_MAX;
    if (!fits_int32 || (g->stride_w != 1 && g->stride_w != 2)) {
        cconv_f32_max_pool2d_row_generic(g, x, ih0, ih1, ow_begin, ow_end, y, indices);
        return;
    }
    if (ow_end - ow_begin < 8) {
        if (g->stride_w == 1)
            max_short_row_f32(g, x, ih0, ih1, ow_begin, ow_end - ow_begin, y, indices, 1);
        else
            max_short_row_f32(g, x, ih0, ih1, ow_begin, ow_end - ow_begin, y, indices, 2);
        return;
    }
    if (g->stride_w == 1)
        max_row_f32(g, x, ih0, ih1, ow_begin, ow_end, y, indices, 1);
    else
        max_row_f32(g, x, ih0, ih1, ow_begin, ow_end, y, indices, 2);
}

INLINE_AVX2 void max_blocks_f64(const cconv_pool2d_geometry *g, const double *x, int64_t ih0,
                                int64_t ih1, int64_t o, double *y, int64_t *indices,
                                const int s, const int nb) {
    const int64_t W = g->in_w, kw = g->kernel_w, dh = g->dilation_h, dw = g->dilation_w;
    const int64_t iw0 = o * s - g->pad_w;
    const __m256i lane = _mm256_mul_epu32(lanes_f64(s), _mm256_set1_epi64x(s));
    const __m256i tap_step = _mm256_set1_epi64x(dw);
    const __m256i row_step = _mm256_set1_epi64x(dh * W);
    __m256d best[MAX_BLOCKS];
    __m256i arg[MAX_BLOCKS], row_cand[MAX_BLOCKS];
    for (int b = 0; b < nb; b++) {
        best[b] = _mm256_set1_pd(-INFINITY);
        row_cand[b] = _mm256_add_epi64(_mm256_set1_epi64x(ih0 * W + iw0 + 4 * s * b), lane);
        arg[b] = row_cand[b];
    }
    for (int64_t ih = ih0; ih < ih1; ih += dh) {
        const double *p = x + ih * W + iw0;
        __m256i cand[MAX_BLOCKS];
        for (int b = 0; b < nb; b++) cand[b] = row_cand[b];
        for (int64_t j = 0; j < kw; j++) {
            for (int b = 0; b < nb; b++) {
                const __m256d v = taps_f64(p + j * dw + 4 * s * b, s);
                const __m256d take = take_f64(v, best[b]);
                best[b] = _mm256_blendv_pd(best[b], v, take);
                arg[b] = _mm256_castpd_si256(_mm256_blendv_pd(
                    _mm256_castsi256_pd(arg[b]), _mm256_castsi256_pd(cand[b]), take));
                cand[b] = _mm256_add_epi64(cand[b], tap_step);
            }
        }
        for (int b = 0; b < nb; b++) row_cand[b] = _mm256_add_epi64(row_cand[b], row_step);
    }
    for (int b = 0; b < nb; b++) {
        _mm256_storeu_pd(y + o + 4 * b, unshuffle_f64(best[b], s));
        _mm256_storeu_si256((__m256i *)(indices + o + 4 * b),
                            _mm256_castpd_si256(unshuffle_f64(_mm256_castsi256_pd(arg[b]), s)));
    }
}

INLINE_AVX2 void max_row_f64(const cconv_pool2d_geometry *g, const double *x, int64_t ih0,
                             int64_t ih1, int64_t ow_begin, int64_t ow_end, double *y,
                             int64_t *indices, const int s) {
    int64_t ow = ow_begin;
    for (; ow + 4 * MAX_BLOCKS <= ow_end; ow += 4 * MAX_BLOCKS)
        max_blocks_f64(g, x, ih0, ih1, ow, y, indices, s, MAX_BLOCKS);
    for (; ow + 8 <= ow_end; ow += 8) max_blocks_f64(g, x, ih0, ih1, ow, y, indices, s, 2);
    for (; ow < ow_end; ow += 4)
        max_blocks_f64(g, x, ih0, ih1, ow + 4 <= ow_end ? ow : ow_end - 4, y, indices, s, 1);
}

AVX2 void cconv_f64_max_pool2d_row_avx2(const cconv_pool2d_geometry *g, const double *x,
                                        int64_t ih0, int64_t ih1, int64_t ow_begin,
                                        int64_t ow_end, double *y, int64_t *indices) {
    if (ow_end - ow_begin < 4 || (g->stride_w != 1 && g->stride_w != 2)) {
        cconv_f64_max_pool2d_row_generic(g, x, ih0, ih1, ow_begin, ow_end, y, indices);
        return;
    }
    if (g->stride_w == 1)
        max_row_f64(g, x, ih0, ih1, ow_begin, ow_end, y, indices, 1);
    else
        max_row_f64(g, x, ih0, ih1, ow_begin, ow_end, y, indices, 2);
}

/* ---- average pooling ---------------------------------------------------------------- */

INLINE_AVX2 void avg_row_f32(const cconv_pool2d_geometry *g, const float *x, int64_t ih0,
                             int64_t ih1, int64_t ow_begin, int64_t ow_end, float divisor,
                             float *y, const int s) {
    const int64_t W = g->in_w, kw = g->kernel_w;
    const __m256 div = _mm256_set1_ps(divisor);
    for (int64_t ow = ow_begin; ow < ow_end; ow += 8) {
        const int64_t o = ow + 8 <= ow_end ? ow : ow_end - 8;
        const float *p = x + o * s - g->pad_w;
        __m256 sum = _mm256_setzero_ps();
        for (int64_t ih = ih0; ih < ih1; ih++)
            for (int64_t j = 0; j < kw; j++) sum = _mm256_add_ps(sum, taps_f32(p + ih * W + j, s));
        _mm256_storeu_ps(y + o, unshuffle_f32(_mm256_div_ps(sum, div), s));
    }
}

AVX2 void cconv_f32_avg_pool2d_row_avx2(const cconv_pool2d_geometry *g, const float *x,
                                        int64_t ih0, int64_t ih1, int64_t ow_begin,
                                        int64_t ow_end, float divisor, float *y) {
    if (ow_end - ow_begin < 8 || (g->stride_w != 1 && g->stride_w != 2)) {
        cconv_f32_avg_pool2d_row_generic(g, x, ih0, ih1, ow_begin, ow_end, divisor, y);
        return;
    }
    if (g->stride_w == 1)
        avg_row_f32(g, x, ih0, ih1, ow_begin, ow_end, divisor, y, 1);
    else
        avg_row_f32(g, x, ih0, ih1, ow_begin, ow_end, divisor, y, 2);
}

INLINE_AVX2 void avg_row_f64(const cconv_pool2d_geometry *g, const double *x, int64_t ih0,
                             int64_t ih1, int64_t ow_begin, int64_t ow_end, double divisor,
                             double *y, const int s) {
    const int64_t W = g->in_w, kw = g->kernel_w;
    const __m256d div = _mm256_set1_pd(divisor);
    for (int64_t ow = ow_begin; ow < ow_end; ow += 4) {
        const int64_t o = ow + 4 <= ow_end ? ow : ow_end - 4;
        const double *p = x + o * s - g->pad_w;
        __m256d sum = _mm256_setzero_pd();
        for (int64_t ih = ih0; ih < ih1; ih++)
            for (int64_t j = 0; j < kw; j++) sum = _mm256_add_pd(sum, taps_f64(p + ih * W + j, s));
        _mm256_storeu_pd(y + o, unshuffle_f64(_mm256_div_pd(sum, div), s));
    }
}

AVX2 void cconv_f64_avg_pool2d_row_avx2(const cconv_pool2d_geometry *g, const double *x,
                                        int64_t ih0, int64_t ih1, int64_t ow_begin,
                                        int64_t ow_end, double divisor, double *y) {
    if (ow_end - ow_begin < 4 || (g->stride_w != 1 && g->stride_w != 2)) {
        cconv_f64_avg_pool2d_row_generic(g, x, ih0, ih1, ow_begin, ow_end, divisor, y);
        return;
    }
    if (g->stride_w == 1)
        avg_row_f64(g, x, ih0, ih1, ow_begin, ow_end, divisor, y, 1);
    else
        avg_row_f64(g, x, ih0, ih1, ow_begin, ow_end, divisor, y, 2);
}

#endif
