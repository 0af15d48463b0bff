/* AVX2 + FMA micro-kernels. Compiled for x86-64 baseline like the rest of the
 * extension: only these functions carry the avx2/fma target, and dispatch.c
 * calls them only on CPUs that report both features. */
#include "ukernels.h"

#ifdef CCONV_HAVE_X86
#include <immintrin.h>
#include "store_planes_avx.h"

#if defined(__GNUC__) || defined(__clang__)
#define AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define AVX2_FMA /* MSVC emits the intrinsics as written */
#endif

/* Loading lanes [8 - r, 16 - r) of this gives a mask whose first r lanes are set. */
static const int32_t mask_table_32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t mask_table_64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* A mask with the first r lanes set, for any r (clamped to [0, lanes]). */
AVX2_FMA static inline __m256i mask_32(int64_t r) {
    r = r < 0 ? 0 : (r > 8 ? 8 : r);
    return _mm256_loadu_si256((const __m256i *)(mask_table_32 + 8 - r));
}
AVX2_FMA static inline __m256i mask_64(int64_t r) {
    r = r < 0 ? 0 : (r > 4 ? 4 : r);
    return _mm256_loadu_si256((const __m256i *)(mask_table_64 + 4 - r));
}

/* ---- gemm: 6 rows x 8/16 lanes, 12 named accumulators ---------------------------- */
/* The tile lives in named locals (not arrays) so the compiler keeps all 12
 * accumulators in ymm registers across the whole k loop. */

#define GEMM_ROW_FMA(i)                                                                   \
    ai = BROADCAST(a + i);                                                                \
    c##i##0 = FMADD(ai, b0, c##i##0);                                                     \
    c##i##1 = FMADD(ai, b1, c##i##1);

/* Writes the 12 accumulators to C: whole tiles directly, edge tiles through a
 * local copy so nothing past m x n is touched. */
#define GEMM_STORE(REAL, VEC, LANES, NRV)                                                 \
    REAL tile[CCONV_MR][NRV];                                                             \
    STOREU(tile[0], c00); STOREU(tile[0] + LANES, c01);                                   \
    STOREU(tile[1], c10); STOREU(tile[1] + LANES, c11);                                   \
    STOREU(tile[2], c20); STOREU(tile[2] + LANES, c21);                                   \
    STOREU(tile[3], c30); STOREU(tile[3] + LANES, c31);                                   \
    STOREU(tile[4], c40); STOREU(tile[4] + LANES, c41);                                   \
    STOREU(tile[5], c50); STOREU(tile[5] + LANES, c51);                                   \
    if (m == CCONV_MR && n == NRV) {                                                      \
        for (int i = 0; i < CCONV_MR; i++) {                                              \
            REAL *row = c + i * ldc;                                                      \
            VEC lo = LOADU(tile[i]), hi = LOADU(tile[i] + LANES);                         \
            if (accumulate) {                                                             \
                lo = ADD(lo, LOADU(row));                                                 \
                hi = ADD(hi, LOADU(row + LANES));                                         \
            }                                                                             \
            STOREU(row, lo);                                                              \
            STOREU(row + LANES, hi);                                                      \
        }                                                                                 \
        return;                                                                           \
    }                                                                                     \
    /* Edge tile: only the m x n corner is written. */                                    \
    for (int64_t i = 0; i < m; i++) {                                                     \
        REAL *row = c + i * ldc;                                                          \
        if (accumulate)                                                                   \
            for (int64_t j = 0; j < n; j++) row[j] += tile[i][j];                         \
        else                                                                              \
            for (int64_t j = 0; j < n; j++) row[j] = tile[i][j];                          \
    }

#define GEMM_BODY(REAL, VEC, LANES, NRV)                                                  \
    VEC c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;                       \
    {                                                                                     \
        const int use_init = !accumulate && init;                                         \
        c00 = c01 = (use_init && m > 0) ? SET1(init[0]) : ZERO();                         \
        c10 = c11 = (use_init && m > 1) ? SET1(init[1]) : ZERO();                         \
        c20 = c21 = (use_init && m > 2) ? SET1(init[2]) : ZERO();                         \
        c30 = c31 = (use_init && m > 3) ? SET1(init[3]) : ZERO();                         \
        c40 = c41 = (use_init && m > 4) ? SET1(init[4]) : ZERO();                         \
        c50 = c51 = (use_init && m > 5) ? SET1(init[5]) : ZERO();                         \
    }                                                                                     \
    if (n == NRV) {                                                                       \
        for (int64_t k = 0; k < kc; k++) {                                                \
            const VEC b0 = LOADU(b), b1 = LOADU(b + LANES);                               \
            VEC ai;                                                                       \
            GEMM_ROW_FMA(0) GEMM_ROW_FMA(1) GEMM_ROW_FMA(2)                               \
            GEMM_ROW_FMA(3) GEMM_ROW_FMA(4) GEMM_ROW_FMA(5)                               \
            a += CCONV_MR;                                                                \
            b += ldb;                                                                     \
        }                                                                                 \
    } else { /* ragged right edge: masked loads never touch B past column n */          \
        const __m256i mask0 = MASK(n), mask1 = MASK(n - LANES);                           \
        for (int64_t k = 0; k < kc; k++) {                                                \
            const VEC b0 = MASKLOAD(b, mask0), b1 = MASKLOAD(b + LANES, mask1);           \
            VEC ai;                                                                       \
            GEMM_ROW_FMA(0) GEMM_ROW_FMA(1) GEMM_ROW_FMA(2)                               \
            GEMM_ROW_FMA(3) GEMM_ROW_FMA(4) GEMM_ROW_FMA(5)                               \
            a += CCONV_MR;                                                                \
            b += ldb;                                                                     \
        }                                                                                 \
    }                                                                                     \
    GEMM_STORE(REAL, VEC, LANES, NRV)

#define BROADCAST _mm256_broadcast_ss
#define FMADD _mm256_fmadd_ps
#define SET1 _mm256_set1_ps
#define ZERO _mm256_setzero_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define ADD _mm256_add_ps
#define MASK(r) mask_32(r)
#define MASKLOAD _mm256_maskload_ps
AVX2_FMA void cconv_f32_gemm_6x16_avx2(int64_t kc, const float *a, const float *b, int64_t ldb,
                                       float *c, int64_t ldc, int64_t m, int64_t n,
                                       const float *init, int accumulate) {
    GEMM_BODY(float, __m256, 8, CCONV_NR_F32)
}
#undef BROADCAST
#undef FMADD
#undef SET1
#undef ZERO
#undef LOADU
#undef STOREU
#undef ADD

#define BROADCAST _mm256_broadcast_sd
#define FMADD _mm256_fmadd_pd
#define SET1 _mm256_set1_pd
#define ZERO _mm256_setzero_pd
#define LOADU _mm256_loadu_pd
#define STOREU _mm256_storeu_pd
#define ADD _mm256_add_pd
#undef MASK
#undef MASKLOAD
#define MASK(r) mask_64(r)
#define MASKLOAD _mm256_maskload_pd
AVX2_FMA void cconv_f64_gemm_6x8_avx2(int64_t kc, const double *a, const double *b, int64_t ldb,
                                      double *c, int64_t ldc, int64_t m, int64_t n,
                                      const double *init, int accumulate) {
    GEMM_BODY(double, __m256d, 4, CCONV_NR_F64)
}
#undef BROADCAST
#undef FMADD
#undef SET1
#undef ZERO
#undef LOADU
#undef STOREU
#undef ADD
#undef MASK
#undef MASKLOAD

/* ---- gemm_indirect_b: B rows through an offset table ----------------------------- */

#define GEMM_INDIRECT_B_BODY(REAL, VEC, LANES, NRV)                                         \
    VEC c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;                       \
    {                                                                                     \
        const int use_init = !accumulate && init;                                         \
        c00 = c01 = (use_init && m > 0) ? SET1(init[0]) : ZERO();                         \
        c10 = c11 = (use_init && m > 1) ? SET1(init[1]) : ZERO();                         \
        c20 = c21 = (use_init && m > 2) ? SET1(init[2]) : ZERO();                         \
        c30 = c31 = (use_init && m > 3) ? SET1(init[3]) : ZERO();                         \
        c40 = c41 = (use_init && m > 4) ? SET1(init[4]) : ZERO();                         \
        c50 = c51 = (use_init && m > 5) ? SET1(init[5]) : ZERO();                         \
    }                                                                                     \
    for (int64_t k = 0; k < kc; k++) {                                                    \
        const REAL *brow = b + offsets[k];                                                \
        const VEC b0 = LOADU(brow), b1 = LOADU(brow + LANES);                             \
        VEC ai;                                                                           \
        GEMM_ROW_FMA(0) GEMM_ROW_FMA(1) GEMM_ROW_FMA(2)                                   \
        GEMM_ROW_FMA(3) GEMM_ROW_FMA(4) GEMM_ROW_FMA(5)                                   \
        a += CCONV_MR;                                                                    \
    }                                                                                     \
    GEMM_STORE(REAL, VEC, LANES, NRV)

#define BROADCAST _mm256_broadcast_ss
#define FMADD _mm256_fmadd_ps
#define SET1 _mm256_set1_ps
#define ZERO _mm256_setzero_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define ADD _mm256_add_ps
AVX2_FMA void cconv_f32_gemm_indirect_b_6x16_avx2(int64_t kc, const float *a, const float *b,
                                                const int64_t *offsets, float *c, int64_t ldc,
                                                int64_t m, int64_t n, const float *init,
                                                int accumulate) {
    GEMM_INDIRECT_B_BODY(float, __m256, 8, CCONV_NR_F32)
}
#undef BROADCAST
#undef FMADD
#undef SET1
#undef ZERO
#undef LOADU
#undef STOREU
#undef ADD

#define BROADCAST _mm256_broadcast_sd
#define FMADD _mm256_fmadd_pd
#define SET1 _mm256_set1_pd
#define ZERO _mm256_setzero_pd
#define LOADU _mm256_loadu_pd
#define STOREU _mm256_storeu_pd
#define ADD _mm256_add_pd
AVX2_FMA void cconv_f64_gemm_indirect_b_6x8_avx2(int64_t kc, const double *a, const double *b,
                                               const int64_t *offsets, double *c, int64_t ldc,
                                               int64_t m, int64_t n, const double *init,
                                               int accumulate) {
    GEMM_INDIRECT_B_BODY(double, __m256d, 4, CCONV_NR_F64)
}
#undef BROADCAST
#undef FMADD
#undef SET1
#undef ZERO
#undef LOADU
#undef STOREU
#undef ADD

/* ---- gemm_indirect_a: rows through pointers, channels in lanes (NHWC) ---------- */

#define ROW_FMA_PTR(i)                                                                    \
    ai = BROADCAST(a##i + o);                                                             \
    c##i##0 = FMADD(ai, b0, c##i##0);                                                     \
    c##i##1 = FMADD(ai, b1, c##i##1);

/* The 12 accumulators over kc taps (bias first unless accumulating); a store
 * of the tile follows. */
#define GEMM_INDIRECT_A_ACCUMULATE(REAL, VEC, LANES, NRV)                                 \
    VEC c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;                       \
    const __m256i mask0 = MASK(n), mask1 = MASK(n - LANES);                               \
    if (!accumulate && bias_cols) {                                                       \
        c00 = MASKLOAD(bias_cols, mask0);                                                 \
        c01 = MASKLOAD(bias_cols + LANES, mask1);                                         \
    } else {                                                                              \
        c00 = ZERO();                                                                     \
        c01 = ZERO();                                                                     \
    }                                                                                     \
    c10 = c20 = c30 = c40 = c50 = c00;                                                    \
    c11 = c21 = c31 = c41 = c51 = c01;                                                    \
    const REAL *a0 = a_rows[0], *a1 = a_rows[m > 1 ? 1 : 0], *a2 = a_rows[m > 2 ? 2 : 0];  \
    const REAL *a3 = a_rows[m > 3 ? 3 : 0], *a4 = a_rows[m > 4 ? 4 : 0];                  \
    const REAL *a5 = a_rows[m > 5 ? 5 : 0];                                               \
    if (n == NRV) {                                                                       \
        for (int64_t k = 0; k < kc; k++) {                                                \
            const int64_t o = koffsets[k];                                                \
            const VEC b0 = LOADU(b), b1 = LOADU(b + LANES);                               \
            VEC ai;                                                                       \
            ROW_FMA_PTR(0) ROW_FMA_PTR(1) ROW_FMA_PTR(2)                                  \
            ROW_FMA_PTR(3) ROW_FMA_PTR(4) ROW_FMA_PTR(5)                                  \
            b += ldb;                                                                     \
        }                                                                                 \
    } else {                                                                              \
        for (int64_t k = 0; k < kc; k++) {                                                \
            const int64_t o = koffsets[k];                                                \
            const VEC b0 = MASKLOAD(b, mask0), b1 = MASKLOAD(b + LANES, mask1);           \
            VEC ai;                                                                       \
            ROW_FMA_PTR(0) ROW_FMA_PTR(1) ROW_FMA_PTR(2)                                  \
            ROW_FMA_PTR(3) ROW_FMA_PTR(4) ROW_FMA_PTR(5)                                  \
            b += ldb;                                                                     \
        }                                                                                 \
    }

#define GEMM_INDIRECT_A_BODY(REAL, VEC, LANES, NRV)                                       \
    GEMM_INDIRECT_A_ACCUMULATE(REAL, VEC, LANES, NRV)                                     \
    GEMM_STORE(REAL, VEC, LANES, NRV)

#define BROADCAST _mm256_broadcast_ss
#define FMADD _mm256_fmadd_ps
#define ZERO _mm256_setzero_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define ADD _mm256_add_ps
#define MASK(r) mask_32(r)
#define MASKLOAD _mm256_maskload_ps
AVX2_FMA void cconv_f32_gemm_indirect_a_6x16_avx2(int64_t kc, const float *const *a_rows,
                                                  const int64_t *koffsets, const float *b,
                                                  int64_t ldb, float *c, int64_t ldc, int64_t m,
                                                  int64_t n, const float *bias_cols,
                                                  int accumulate) {
    GEMM_INDIRECT_A_BODY(float, __m256, 8, CCONV_NR_F32)
}

/* gemm_indirect_a whose tile goes out transposed, c[j * ldc + i] for row
 * (position) i and column (channel) j: a channel-lane conv tile written
 * straight into y's planes (six consecutive positions of each channel), so
 * no [positions][K] block is transposed afterwards. No accumulate. */
AVX2_FMA void cconv_f32_gemm_indirect_a_planes_6x16_avx2(int64_t kc, const float *const *a_rows,
                                                         const int64_t *koffsets, const float *b,
                                                         int64_t ldb, float *c, int64_t ldc,
                                                         int64_t m, int64_t n,
                                                         const float *bias_cols) {
    const int accumulate = 0; /* y's planes are written once */
    GEMM_INDIRECT_A_ACCUMULATE(float, __m256, 8, CCONV_NR_F32)
    if (m == CCONV_MR && n == CCONV_NR_F32) {
        cconv_store_planes_6x8(c00, c10, c20, c30, c40, c50, c, ldc);
        cconv_store_planes_6x8(c01, c11, c21, c31, c41, c51, c + 8 * ldc, ldc);
        return;
    }
    float tile[CCONV_MR][CCONV_NR_F32]; /* edge tile: only m x n written */
    _mm256_storeu_ps(tile[0], c00); _mm256_storeu_ps(tile[0] + 8, c01);
    _mm256_storeu_ps(tile[1], c10); _mm256_storeu_ps(tile[1] + 8, c11);
    _mm256_storeu_ps(tile[2], c20); _mm256_storeu_ps(tile[2] + 8, c21);
    _mm256_storeu_ps(tile[3], c30); _mm256_storeu_ps(tile[3] + 8, c31);
    _mm256_storeu_ps(tile[4], c40); _mm256_storeu_ps(tile[4] + 8, c41);
    _mm256_storeu_ps(tile[5], c50); _mm256_storeu_ps(tile[5] + 8, c51);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) c[j * ldc + i] = tile[i][j];
}
#undef BROADCAST
#undef FMADD
#undef ZERO
#undef LOADU
#undef STOREU
#undef ADD
#undef MASK
#undef MASKLOAD

#define BROADCAST _mm256_broadcast_sd
#define FMADD _mm256_fmadd_pd
#define ZERO _mm256_setzero_pd
#define LOADU _mm256_loadu_pd
#define STOREU _mm256_storeu_pd
#define ADD _mm256_add_pd
#define MASK(r) mask_64(r)
#define MASKLOAD _mm256_maskload_pd
AVX2_FMA void cconv_f64_gemm_indirect_a_6x8_avx2(int64_t kc, const double *const *a_rows,
                                                 const int64_t *koffsets, const double *b,
                                                 int64_t ldb, double *c, int64_t ldc, int64_t m,
                                                 int64_t n, const double *bias_cols,
                                                 int accumulate) {
    GEMM_INDIRECT_A_BODY(double, __m256d, 4, CCONV_NR_F64)
}
#undef BROADCAST
#undef FMADD
#undef ZERO
#undef LOADU
#undef STOREU
#undef ADD
#undef MASK
#undef MASKLOAD

/* ---- dot: 4 x 3 sums reduced along contiguous memory ------------------------------ */

AVX2_FMA static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

AVX2_FMA static inline double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

AVX2_FMA void cconv_f32_dot_4x3_avx2(int64_t len, const float *a, int64_t lda,
                                     const float *const *b, float *c, int64_t ldc, int64_t m,
                                     int64_t n) {
    /* Rows past m / n repeat row 0: always readable, never stored. */
    const float *ar[CCONV_DOT_MR], *br[CCONV_DOT_NR];
    for (int i = 0; i < CCONV_DOT_MR; i++) ar[i] = a + (i < m ? i : 0) * lda;
    for (int j = 0; j < CCONV_DOT_NR; j++) br[j] = b[j < n ? j : 0];
    __m256 acc[CCONV_DOT_MR][CCONV_DOT_NR];
    for (int i = 0; i < CCONV_DOT_MR; i++)
        for (int j = 0; j < CCONV_DOT_NR; j++) acc[i][j] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= len; p += 8) {
        __m256 bv[CCONV_DOT_NR];
        for (int j = 0; j < CCONV_DOT_NR; j++) bv[j] = _mm256_loadu_ps(br[j] + p);
        for (int i = 0; i < CCONV_DOT_MR; i++) {
            const __m256 av = _mm256_loadu_ps(ar[i] + p);
            for (int j = 0; j < CCONV_DOT_NR; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    if (p < len) {
        const __m256i mask = _mm256_loadu_si256((const __m256i *)(mask_table_32 + 8 - (len - p)));
        __m256 bv[CCONV_DOT_NR];
        for (int j = 0; j < CCONV_DOT_NR; j++) bv[j] = _mm256_maskload_ps(br[j] + p, mask);
        for (int i = 0; i < CCONV_DOT_MR; i++) {
            const __m256 av = _mm256_maskload_ps(ar[i] + p, mask);
            for (int j = 0; j < CCONV_DOT_NR; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] += hsum_ps(acc[i][j]);
}

AVX2_FMA void cconv_f64_dot_4x3_avx2(int64_t len, const double *a, int64_t lda,
                                     const double *const *b, double *c, int64_t ldc, int64_t m,
                                     int64_t n) {
    const double *ar[CCONV_DOT_MR], *br[CCONV_DOT_NR];
    for (int i = 0; i < CCONV_DOT_MR; i++) ar[i] = a + (i < m ? i : 0) * lda;
    for (int j = 0; j < CCONV_DOT_NR; j++) br[j] = b[j < n ? j : 0];
    __m256d acc[CCONV_DOT_MR][CCONV_DOT_NR];
    for (int i = 0; i < CCONV_DOT_MR; i++)
        for (int j = 0; j < CCONV_DOT_NR; j++) acc[i][j] = _mm256_setzero_pd();
    int64_t p = 0;
    for (; p + 4 <= len; p += 4) {
        __m256d bv[CCONV_DOT_NR];
        for (int j = 0; j < CCONV_DOT_NR; j++) bv[j] = _mm256_loadu_pd(br[j] + p);
        for (int i = 0; i < CCONV_DOT_MR; i++) {
            const __m256d av = _mm256_loadu_pd(ar[i] + p);
            for (int j = 0; j < CCONV_DOT_NR; j++) acc[i][j] = _mm256_fmadd_pd(av, bv[j], acc[i][j]);
        }
    }
    if (p < len) {
        const __m256i mask = _mm256_loadu_si256((const __m256i *)(mask_table_64 + 4 - (len - p)));
        __m256d bv[CCONV_DOT_NR];
        for (int j = 0; j < CCONV_DOT_NR; j++) bv[j] = _mm256_maskload_pd(br[j] + p, mask);
        for (int i = 0; i < CCONV_DOT_MR; i++) {
            const __m256d av = _mm256_maskload_pd(ar[i] + p, mask);
            for (int j = 0; j < CCONV_DOT_NR; j++) acc[i][j] = _mm256_fmadd_pd(av, bv[j], acc[i][j]);
        }
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] += hsum_pd(acc[i][j]);
}

/* ---- transpose: 8 x 8 floats / 4 x 4 doubles in registers ------------------------ */

/* dst[j * ldd + i] = src[i * lds + j]. Whole blocks go through the unpack /
 * shuffle / lane-permute network; the ragged edges are copied one by one.
 * Tall sources (a conv's block of [positions][64] into planes) walk the
 * long side innermost, so 8 rows of it stream in long runs: across the
 * short side they kept up to 64 streams open, 4 KB apart for 32x32 planes
 * (one L1 set), and took 1.2x the time. Wide sources (dY^T: 64 planes of
 * positions into [positions][64]) go in strips of TRANSPOSE_STRIP_BYTES of
 * each source row: the strip's destination rows (32 x 64 floats, 8 KiB)
 * are written whole while in L1, where the long walk wrote every
 * destination line in eight visits from L2 (1.5x the time for 64 x 576
 * and 32 x 676, one Xeon core; no change at 64 x 3136, DRAM-bound). */
#define TRANSPOSE_STRIP_BYTES 128
AVX2_FMA static inline void transpose_8x8_ps(const float *src, int64_t lds, float *dst,
                                             int64_t ldd) {
    __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
    __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
    __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
    __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

AVX2_FMA static inline void transpose_4x4_pd(const double *src, int64_t lds, double *dst,
                                             int64_t ldd) {
    const __m256d r0 = _mm256_loadu_pd(src + 0 * lds), r1 = _mm256_loadu_pd(src + 1 * lds);
    const __m256d r2 = _mm256_loadu_pd(src + 2 * lds), r3 = _mm256_loadu_pd(src + 3 * lds);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst + 0 * ldd, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + 1 * ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}

#define TRANSPOSE_AVX2(NAME, REAL, B, BLOCK)                                              \
    AVX2_FMA void NAME(int64_t rows, int64_t cols, const REAL *src, int64_t lds, REAL *dst, \
                       int64_t ldd) {                                                     \
        const int64_t rows_b = rows - rows % B, cols_b = cols - cols % B;                 \
        if (rows >= cols) {                                                               \
            for (int64_t j0 = 0; j0 < cols_b; j0 += B)                                    \
                for (int64_t i0 = 0; i0 < rows_b; i0 += B)                                \
                    BLOCK(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);            \
        } else {                                                                          \
            const int64_t strip = TRANSPOSE_STRIP_BYTES / (int64_t)sizeof(REAL);          \
            for (int64_t j1 = 0; j1 < cols_b; j1 += strip) {                              \
                const int64_t j_end = cols_b - j1 < strip ? cols_b : j1 + strip;          \
                for (int64_t i0 = 0; i0 < rows_b; i0 += B)                                \
                    for (int64_t j0 = j1; j0 < j_end; j0 += B)                            \
                        BLOCK(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);        \
            }                                                                             \
        }                                                                                 \
        for (int64_t i = 0; i < rows; i++) /* the right and bottom edges */               \
            for (int64_t j = i < rows_b ? cols_b : 0; j < cols; j++)                      \
                dst[j * ldd + i] = src[i * lds + j];                                      \
    }

TRANSPOSE_AVX2(cconv_f32_transpose_avx2, float, 8, transpose_8x8_ps)
TRANSPOSE_AVX2(cconv_f64_transpose_avx2, double, 4, transpose_4x4_pd)

#endif /* CCONV_HAVE_X86 */
