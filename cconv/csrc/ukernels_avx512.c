/* AVX-512F micro-kernels for the gemm, gemm_indirect_a (and its float planes
 * form, which stores the tile transposed) and gemm_indirect_b tiles: 6 rows x
 * up to 4 zmm (64 floats / 32 doubles) of accumulators.
 * Compiled for x86-64 baseline like the rest of the extension: only these
 * functions carry the avx512f target, and dispatch.c calls them only on CPUs
 * (and OSes) that report it.
 *
 * Why 6 x 64: per k step it loads 4 B vectors and 6 broadcasts for 24 FMAs.
 * Measured on one Xeon core (gemm_indirect_a, 288 taps, C harness): 6 x 64
 * runs at 100-135 GFLOP/s, 14 x 32 at 98, 6 x 32 at 75: the narrower tiles
 * run out of load slots before FMA slots. Narrower n (K = 16 or 32) takes a
 * 1- or 2-vector body so no FMA works on masked-off lanes, with 12 rows in
 * gemm_indirect_a (see DEFINE_INDIRECT_A_KERNELS).
 *
 * Edges need no copies: a k-mask covers the last columns of every load and
 * store, and masked loads never fault past the end of an array. Full tiles use
 * plain loads (masks held across the loop cost a register spill). */
#include "ukernels.h"

#ifdef CCONV_HAVE_X86
#include <immintrin.h>
#include "store_planes_avx.h"

#if defined(__GNUC__) || defined(__clang__)
#define AVX512 __attribute__((target("avx512f")))
#define UNROLL _Pragma("GCC unroll 12")
#else
#define AVX512 /* MSVC emits the intrinsics as written */
#define UNROLL
#endif

#define TILE_ROWS 6 /* = CCONV_MR: the packed A panels of gemm are 6 rows */

AVX512 static inline __mmask16 first_lanes16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1));
}
AVX512 static inline __mmask8 first_lanes8(int64_t n) {
    return n >= 8 ? (__mmask8)0xFF : (n <= 0 ? (__mmask8)0 : (__mmask8)((1u << n) - 1));
}

/* B row k: V vectors, masked to n columns unless the tile is full. */
#define LOAD_B(brow)                                                                      \
    VEC bv[V];                                                                            \
    UNROLL for (int j = 0; j < V; j++) bv[j] =                                            \
        FULL ? LOADU((brow) + j * LANES) : MASKLOAD(mask[j], (brow) + j * LANES);

#define FMA_ROWS(A_OF_I)                                                                  \
    UNROLL for (int i = 0; i < ROWS; i++) {                                               \
        const VEC ai = SET1(A_OF_I);                                                      \
        UNROLL for (int j = 0; j < V; j++) acc[i][j] = FMADD(ai, bv[j], acc[i][j]);       \
    }

/* Rows i < m of the tile into C, masked to n columns, adding C when accumulating. */
#define STORE_TILE                                                                        \
    UNROLL for (int i = 0; i < ROWS; i++) {                                               \
        if (i >= m) break;                                                                \
        REAL_T *row = c + i * ldc;                                                        \
        UNROLL for (int j = 0; j < V; j++) {                                              \
            VEC v = acc[i][j];                                                            \
            if (accumulate) v = ADD(v, MASKLOAD(mask[j], row + j * LANES));               \
            MASKSTORE(row + j * LANES, mask[j], v);                                       \
        }                                                                                 \
    }

/* The tile transposed into channel planes, c[j * ldc + i] (row i a position,
 * column j a channel). Full tiles go six rows at a time through the 6 x 8
 * transposing store on each half of a zmm; edges through a stack tile.
 * Floats only: STORE_PLANES is this in the float section, empty after. */
#define HALF_LO(v) _mm512_castps512_ps256(v)
#define HALF_HI(v) _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))
#define STORE_PLANES_F32                                                                  \
    if (FULL && m == ROWS) {                                                              \
        UNROLL for (int i = 0; i < ROWS; i += 6)                                          \
            UNROLL for (int j = 0; j < V; j++) {                                          \
                REAL_T *plane = c + j * LANES * ldc + i;                                  \
                cconv_store_planes_6x8(HALF_LO(acc[i][j]), HALF_LO(acc[i + 1][j]),        \
                                       HALF_LO(acc[i + 2][j]), HALF_LO(acc[i + 3][j]),    \
                                       HALF_LO(acc[i + 4][j]), HALF_LO(acc[i + 5][j]),    \
                                       plane, ldc);                                       \
                cconv_store_planes_6x8(HALF_HI(acc[i][j]), HALF_HI(acc[i + 1][j]),        \
                                       HALF_HI(acc[i + 2][j]), HALF_HI(acc[i + 3][j]),    \
                                       HALF_HI(acc[i + 4][j]), HALF_HI(acc[i + 5][j]),    \
                                       plane + 8 * ldc, ldc);                             \
            }                                                                             \
    } else {                                                                              \
        REAL_T tile[ROWS][V * LANES];                                                     \
        UNROLL for (int i = 0; i < ROWS; i++)                                             \
            UNROLL for (int j = 0; j < V; j++) STOREU(tile[i] + j * LANES, acc[i][j]);    \
        for (int64_t j = 0; j < n; j++)                                                   \
            for (int64_t i = 0; i < m; i++) c[j * ldc + i] = tile[i][j];                  \
    }

/* The tile's store: into C (PLANES 0) or transposed into planes (1). */
#define FINISH_TILE                                                                       \
    if (PLANES) {                                                                         \
        STORE_PLANES                                                                      \
    } else {                                                                              \
        STORE_TILE                                                                        \
    }

#define SETUP_MASKS                                                                       \
    MASK_T mask[V];                                                                       \
    UNROLL for (int j = 0; j < V; j++) mask[j] = MASKOF(n - j * LANES);

/* gemm: packed A panel a[kc][6] (zero padded), B rows b + k * ldb. */
#define DEFINE_GEMM_BODY(NAME, V_, FULL_)                                                 \
    AVX512 static inline void NAME(int64_t kc, const REAL_T *a, const REAL_T *b,          \
                                   int64_t ldb, REAL_T *c, int64_t ldc, int64_t m,        \
                                   int64_t n, const REAL_T *init, int accumulate) {       \
        enum { ROWS = TILE_ROWS, V = V_, FULL = FULL_ };                                  \
        SETUP_MASKS                                                                       \
        VEC acc[ROWS][V];                                                                 \
        UNROLL for (int i = 0; i < ROWS; i++) {                                           \
            const VEC start = (!accumulate && init && i < m) ? SET1(init[i]) : ZERO();    \
            UNROLL for (int j = 0; j < V; j++) acc[i][j] = start;                         \
        }                                                                                 \
        for (int64_t k = 0; k < kc; k++) {                                                \
            LOAD_B(b)                                                                     \
            FMA_ROWS(a[i])                                                                \
            a += TILE_ROWS;                                                               \
            b += ldb;                                                                     \
        }                                                                                 \
        STORE_TILE                                                                        \
    }

/* gemm_indirect_a: A rows through pointers (rows past m repeat row 0), taps
 * through koffsets; accumulators start at bias_cols (per column) or 0. */
#define DEFINE_INDIRECT_A_BODY(NAME, ROWS_, V_, FULL_, PLANES_)                           \
    AVX512 static inline void NAME(int64_t kc, const REAL_T *const *a_rows,               \
                                   const int64_t *koffsets, const REAL_T *b, int64_t ldb, \
                                   REAL_T *c, int64_t ldc, int64_t m, int64_t n,          \
                                   const REAL_T *bias_cols, int accumulate) {             \
        enum { ROWS = ROWS_, V = V_, FULL = FULL_, PLANES = PLANES_ };                    \
        SETUP_MASKS                                                                       \
        VEC acc[ROWS][V];                                                                 \
        const REAL_T *ar[ROWS];                                                           \
        UNROLL for (int j = 0; j < V; j++) {                                              \
            const VEC start = (!accumulate && bias_cols)                                  \
                                  ? MASKLOAD(mask[j], bias_cols + j * LANES) : ZERO();    \
            UNROLL for (int i = 0; i < ROWS; i++) acc[i][j] = start;                      \
        }                                                                                 \
        UNROLL for (int i = 0; i < ROWS; i++) ar[i] = a_rows[i < m ? i : 0];              \
        for (int64_t k = 0; k < kc; k++) {                                                \
            const int64_t o = koffsets[k];                                                \
            LOAD_B(b)                                                                     \
            FMA_ROWS(ar[i][o])                                                            \
            b += ldb;                                                                     \
        }                                                                                 \
        FINISH_TILE                                                                       \
    }

/* The same over rows that lie in two runs of consecutive elements: rows
 * i < J at a_rows[0] + i, rows i >= J at a_rows[J] + (i - J), as a direct
 * conv's positions are (one run per output row). Two base registers
 * replace ROWS pointers: with twelve, GCC parked two of them in vector
 * registers and reloaded two from the stack per tap (harness, one Xeon
 * core: 12 x 2 at 168-180 GFLOP/s through pointers, 192 in runs). J = 0:
 * one run. Full tiles only (m == ROWS). */
#define DEFINE_INDIRECT_A_RUNS_BODY(NAME, ROWS_, V_, J, PLANES_)                          \
    AVX512 static inline void NAME(int64_t kc, const REAL_T *const *a_rows,               \
                                   const int64_t *koffsets, const REAL_T *b, int64_t ldb, \
                                   REAL_T *c, int64_t ldc, const REAL_T *bias_cols,       \
                                   int accumulate) {                                      \
        enum { ROWS = ROWS_, V = V_, FULL = 1, PLANES = PLANES_ };                        \
        const int64_t m = ROWS, n = V * LANES;                                            \
        SETUP_MASKS                                                                       \
        VEC acc[ROWS][V];                                                                 \
        const REAL_T *first = a_rows[0], *second = a_rows[J] - J;                         \
        UNROLL for (int j = 0; j < V; j++) {                                              \
            const VEC start = (!accumulate && bias_cols) ? LOADU(bias_cols + j * LANES)   \
                                                         : ZERO();                        \
            UNROLL for (int i = 0; i < ROWS; i++) acc[i][j] = start;                      \
        }                                                                                 \
        for (int64_t k = 0; k < kc; k++) {                                                \
            const int64_t o = koffsets[k];                                                \
            LOAD_B(b)                                                                     \
            FMA_ROWS((i < J ? first : second)[o + i])                                     \
            b += ldb;                                                                     \
        }                                                                                 \
        FINISH_TILE                                                                       \
    }

/* J: where the second run of a full tile's rows starts (0: one run), or -1
 * when the rows are not two runs of consecutive elements. */
#define ROW_RUNS_SPLIT(a_rows, ROWS, J_OUT)                                               \
    do {                                                                                  \
        int j_ = 1;                                                                       \
        while (j_ < (ROWS) && (a_rows)[j_] == (a_rows)[0] + j_) j_++;                     \
        int i_ = j_ + 1;                                                                  \
        while (i_ < (ROWS) && (a_rows)[i_] == (a_rows)[j_] + (i_ - j_)) i_++;             \
        J_OUT = j_ == (ROWS) ? 0 : (i_ >= (ROWS) ? j_ : -1);                              \
    } while (0)

/* gemm_indirect_b: the gemm with B row k at b + offsets[k]. Loads are masked
 * to n columns, so callers need no slack past them. */
#define DEFINE_INDIRECT_B_BODY(NAME, V_, FULL_)                                           \
    AVX512 static inline void NAME(int64_t kc, const REAL_T *a, const REAL_T *b,          \
                                   const int64_t *offsets, REAL_T *c, int64_t ldc,        \
                                   int64_t m, int64_t n, const REAL_T *init,              \
                                   int accumulate) {                                      \
        enum { ROWS = TILE_ROWS, V = V_, FULL = FULL_ };                                  \
        SETUP_MASKS                                                                       \
        VEC acc[ROWS][V];                                                                 \
        UNROLL for (int i = 0; i < ROWS; i++) {                                           \
            const VEC start = (!accumulate && init && i < m) ? SET1(init[i]) : ZERO();    \
            UNROLL for (int j = 0; j < V; j++) acc[i][j] = start;                         \
        }                                                                                 \
        for (int64_t k = 0; k < kc; k++) {                                                \
            LOAD_B(b + offsets[k])                                                        \
            FMA_ROWS(a[i])                                                                \
            a += TILE_ROWS;                                                               \
        }                                                                                 \
        STORE_TILE                                                                        \
    }

/* gemm_indirect_a takes up to 12 rows (CCONV_TILE_MR_AVX512): narrow tiles
 * (n <= 32, from K = 16 or 32) need that many rows to feed the FMA units from
 * one B load; 64-wide ones run as two 6-row halves (24 accumulators each).
 * PLANES: the same bodies with the transposed store (STORE_PLANES). */
#define DEFINE_INDIRECT_A_KERNELS(PREFIX, PLANES)                                         \
    DEFINE_INDIRECT_A_BODY(PREFIX##_12x1, 12, 1, 0, PLANES)                               \
    DEFINE_INDIRECT_A_BODY(PREFIX##_12x1_full, 12, 1, 1, PLANES)                          \
    DEFINE_INDIRECT_A_BODY(PREFIX##_12x2, 12, 2, 0, PLANES)                               \
    DEFINE_INDIRECT_A_BODY(PREFIX##_12x2_full, 12, 2, 1, PLANES)                          \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_run, 12, 2, 0, PLANES)                      \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs1, 12, 2, 1, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs2, 12, 2, 2, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs3, 12, 2, 3, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs4, 12, 2, 4, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs5, 12, 2, 5, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs6, 12, 2, 6, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs7, 12, 2, 7, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs8, 12, 2, 8, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs9, 12, 2, 9, PLANES)                    \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs10, 12, 2, 10, PLANES)                  \
    DEFINE_INDIRECT_A_RUNS_BODY(PREFIX##_12x2_runs11, 12, 2, 11, PLANES)                  \
    DEFINE_INDIRECT_A_BODY(PREFIX##_6x4, 6, 4, 0, PLANES)                                 \
    DEFINE_INDIRECT_A_BODY(PREFIX##_6x4_full, 6, 4, 1, PLANES)

#define CALL_RUNS_12X2(PREFIX, SUFFIX)                                                    \
    PREFIX##_12x2_##SUFFIX(kc, a_rows, koffsets, b, ldb, c, ldc, bias_cols, accumulate)

/* With a_rows, koffsets, b, ldb, c, ldc, m, n, bias_cols and accumulate in
 * scope. ROW6: where the tile's row 6 goes in c (6 * ldc, or 6 in the
 * transposed planes). */
#define PICK_INDIRECT_A_BODY(PREFIX, ROW6)                                                \
    if (n > 2 * LANES) {                                                                  \
        const int64_t top = m < 6 ? m : 6;                                                \
        if (n == 4 * LANES) {                                                             \
            PREFIX##_6x4_full(kc, a_rows, koffsets, b, ldb, c, ldc, top, n, bias_cols,    \
                              accumulate);                                                \
            if (m > 6)                                                                    \
                PREFIX##_6x4_full(kc, a_rows + 6, koffsets, b, ldb, c + (ROW6), ldc,      \
                                  m - 6, n, bias_cols, accumulate);                       \
        } else {                                                                          \
            PREFIX##_6x4(kc, a_rows, koffsets, b, ldb, c, ldc, top, n, bias_cols,         \
                         accumulate);                                                     \
            if (m > 6)                                                                    \
                PREFIX##_6x4(kc, a_rows + 6, koffsets, b, ldb, c + (ROW6), ldc, m - 6,    \
                             n, bias_cols, accumulate);                                   \
        }                                                                                 \
    } else if (n == 2 * LANES) {                                                          \
        int split = -1;                                                                   \
        if (m == 12) ROW_RUNS_SPLIT(a_rows, 12, split);                                   \
        switch (split) {                                                                  \
        case 0: CALL_RUNS_12X2(PREFIX, run); break;                                       \
        case 1: CALL_RUNS_12X2(PREFIX, runs1); break;                                     \
        case 2: CALL_RUNS_12X2(PREFIX, runs2); break;                                     \
        case 3: CALL_RUNS_12X2(PREFIX, runs3); break;                                     \
        case 4: CALL_RUNS_12X2(PREFIX, runs4); break;                                     \
        case 5: CALL_RUNS_12X2(PREFIX, runs5); break;                                     \
        case 6: CALL_RUNS_12X2(PREFIX, runs6); break;                                     \
        case 7: CALL_RUNS_12X2(PREFIX, runs7); break;                                     \
        case 8: CALL_RUNS_12X2(PREFIX, runs8); break;                                     \
        case 9: CALL_RUNS_12X2(PREFIX, runs9); break;                                     \
        case 10: CALL_RUNS_12X2(PREFIX, runs10); break;                                   \
        case 11: CALL_RUNS_12X2(PREFIX, runs11); break;                                   \
        default:                                                                          \
            PREFIX##_12x2_full(kc, a_rows, koffsets, b, ldb, c, ldc, m, n, bias_cols,     \
                               accumulate);                                               \
        }                                                                                 \
    } else if (n > LANES) {                                                               \
        PREFIX##_12x2(kc, a_rows, koffsets, b, ldb, c, ldc, m, n, bias_cols, accumulate); \
    } else if (n == LANES) {                                                              \
        PREFIX##_12x1_full(kc, a_rows, koffsets, b, ldb, c, ldc, m, n, bias_cols,         \
                           accumulate);                                                   \
    } else {                                                                              \
        PREFIX##_12x1(kc, a_rows, koffsets, b, ldb, c, ldc, m, n, bias_cols, accumulate); \
    }

/* The kernel: the narrowest body that covers n columns, unmasked when full. */
#define DEFINE_KERNELS(PREFIX, BODY)                                                      \
    BODY(PREFIX##_v1, 1, 0)                                                               \
    BODY(PREFIX##_v2, 2, 0)                                                               \
    BODY(PREFIX##_v4, 4, 0)                                                               \
    BODY(PREFIX##_v4_full, 4, 1)

#define PICK_BODY(PREFIX, ARGS)                                                           \
    if (n == 4 * LANES)                                                                   \
        PREFIX##_v4_full ARGS;                                                            \
    else if (n > 2 * LANES)                                                               \
        PREFIX##_v4 ARGS;                                                                 \
    else if (n > LANES)                                                                   \
        PREFIX##_v2 ARGS;                                                                 \
    else                                                                                  \
        PREFIX##_v1 ARGS;

/* ---- float: 6 x 64 ---------------------------------------------------------------- */
#define REAL_T float
#define VEC __m512
#define LANES 16
#define MASK_T __mmask16
#define MASKOF first_lanes16
#define FMADD _mm512_fmadd_ps
#define SET1 _mm512_set1_ps
#define ZERO _mm512_setzero_ps
#define ADD _mm512_add_ps
#define LOADU _mm512_loadu_ps
#define STOREU _mm512_storeu_ps
#define STORE_PLANES STORE_PLANES_F32
#define MASKLOAD _mm512_maskz_loadu_ps
#define MASKSTORE _mm512_mask_storeu_ps

DEFINE_KERNELS(gemm_f32, DEFINE_GEMM_BODY)
DEFINE_INDIRECT_A_KERNELS(indirect_a_f32, 0)
DEFINE_INDIRECT_A_KERNELS(planes_a_f32, 1)
DEFINE_KERNELS(indirect_b_f32, DEFINE_INDIRECT_B_BODY)

AVX512 void cconv_f32_gemm_indirect_b_6x64_avx512(int64_t kc, const float *a, const float *b,
                                                  const int64_t *offsets, float *c, int64_t ldc,
                                                  int64_t m, int64_t n, const float *init,
                                                  int accumulate) {
    PICK_BODY(indirect_b_f32, (kc, a, b, offsets, c, ldc, m, n, init, accumulate))
}

AVX512 void cconv_f32_gemm_6x64_avx512(int64_t kc, const float *a, const float *b, int64_t ldb,
                                       float *c, int64_t ldc, int64_t m, int64_t n,
                                       const float *init, int accumulate) {
    PICK_BODY(gemm_f32, (kc, a, b, ldb, c, ldc, m, n, init, accumulate))
}

AVX512 void cconv_f32_gemm_indirect_a_12x64_avx512(int64_t kc, const float *const *a_rows,
                                                  const int64_t *koffsets, const float *b,
                                                  int64_t ldb, float *c, int64_t ldc, int64_t m,
                                                  int64_t n, const float *bias_cols,
                                                  int accumulate) {
    PICK_INDIRECT_A_BODY(indirect_a_f32, 6 * ldc)
}

/* The planes form (ukernels.h): y's planes get the tile transposed, so a
 * channel-lane conv of one tap chunk needs no block transpose after it. */
AVX512 void cconv_f32_gemm_indirect_a_planes_12x64_avx512(
    int64_t kc, const float *const *a_rows, const int64_t *koffsets, const float *b,
    int64_t ldb, float *c, int64_t ldc, int64_t m, int64_t n, const float *bias_cols) {
    const int accumulate = 0;
    PICK_INDIRECT_A_BODY(planes_a_f32, 6)
}

#undef REAL_T
#undef VEC
#undef LANES
#undef MASK_T
#undef MASKOF
#undef FMADD
#undef SET1
#undef ZERO
#undef ADD
#undef LOADU
#undef STOREU
#undef STORE_PLANES
#undef MASKLOAD
#undef MASKSTORE

/* ---- double: 6 x 32 --------------------------------------------------------------- */
#define REAL_T double
#define VEC __m512d
#define LANES 8
#define MASK_T __mmask8
#define MASKOF first_lanes8
#define FMADD _mm512_fmadd_pd
#define SET1 _mm512_set1_pd
#define ZERO _mm512_setzero_pd
#define ADD _mm512_add_pd
#define LOADU _mm512_loadu_pd
#define STOREU _mm512_storeu_pd
#define STORE_PLANES /* no planes kernel for doubles */
#define MASKLOAD _mm512_maskz_loadu_pd
#define MASKSTORE _mm512_mask_storeu_pd

DEFINE_KERNELS(gemm_f64, DEFINE_GEMM_BODY)
DEFINE_INDIRECT_A_KERNELS(indirect_a_f64, 0)
DEFINE_KERNELS(indirect_b_f64, DEFINE_INDIRECT_B_BODY)

AVX512 void cconv_f64_gemm_indirect_b_6x32_avx512(int64_t kc, const double *a, const double *b,
                                                  const int64_t *offsets, double *c,
                                                  int64_t ldc, int64_t m, int64_t n,
                                                  const double *init, int accumulate) {
    PICK_BODY(indirect_b_f64, (kc, a, b, offsets, c, ldc, m, n, init, accumulate))
}

AVX512 void cconv_f64_gemm_6x32_avx512(int64_t kc, const double *a, const double *b,
                                       int64_t ldb, double *c, int64_t ldc, int64_t m,
                                       int64_t n, const double *init, int accumulate) {
    PICK_BODY(gemm_f64, (kc, a, b, ldb, c, ldc, m, n, init, accumulate))
}

AVX512 void cconv_f64_gemm_indirect_a_12x32_avx512(int64_t kc, const double *const *a_rows,
                                                  const int64_t *koffsets, const double *b,
                                                  int64_t ldb, double *c, int64_t ldc, int64_t m,
                                                  int64_t n, const double *bias_cols,
                                                  int accumulate) {
    PICK_INDIRECT_A_BODY(indirect_a_f64, 6 * ldc)
}

#endif /* CCONV_HAVE_X86 */
