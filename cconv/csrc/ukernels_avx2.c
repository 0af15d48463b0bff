/* AVX2 + FMA micro-kernels. Compiled for x86-64 baseline like the rest of the
 * extension: only these functions carry the avx2/fma target, and dispatch.c
 * calls them only on CPUs that report both features. */
#include "ukernels.h"

#ifdef CCONV_HAVE_X86
#include <immintrin.h>

#if defined(__GNUC__) || defined(__clang__)
#define AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define AVX2_FMA /* MSVC emits the intrinsics as written */
#endif

/* Loading lanes [8 - r, 16 - r) of this gives a mask whose first r lanes are set. */
static const int32_t mask_table_32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t mask_table_64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* ---- gemm: 6 rows x 16 floats, 12 accumulators ------------------------------------ */

AVX2_FMA void cconv_f32_gemm_6x16_avx2(int64_t kc, const float *a, const float *b, float *c,
                                       int64_t ldc, int64_t m, int64_t n, const float *init,
                                       int accumulate) {
    __m256 acc[CCONV_MR][2];
    for (int i = 0; i < CCONV_MR; i++) {
        __m256 start = (!accumulate && init && i < m) ? _mm256_set1_ps(init[i])
                                                       : _mm256_setzero_ps();
        acc[i][0] = start;
        acc[i][1] = start;
    }
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = _mm256_loadu_ps(b + 8);
        for (int i = 0; i < CCONV_MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += CCONV_MR;
        b += CCONV_NR_F32;
    }
    if (m == CCONV_MR && n == CCONV_NR_F32) {
        for (int i = 0; i < CCONV_MR; i++) {
            float *row = c + i * ldc;
            if (accumulate) {
                acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(row));
                acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(row + 8));
            }
            _mm256_storeu_ps(row, acc[i][0]);
            _mm256_storeu_ps(row + 8, acc[i][1]);
        }
        return;
    }
    /* Edge tile: go through a local copy so nothing past m x n is touched. */
    float tile[CCONV_MR][CCONV_NR_F32];
    for (int i = 0; i < CCONV_MR; i++) {
        _mm256_storeu_ps(tile[i], acc[i][0]);
        _mm256_storeu_ps(tile[i] + 8, acc[i][1]);
    }
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (accumulate)
            for (int64_t j = 0; j < n; j++) row[j] += tile[i][j];
        else
            for (int64_t j = 0; j < n; j++) row[j] = tile[i][j];
    }
}

/* ---- gemm: 6 rows x 8 doubles, 12 accumulators ------------------------------------ */

AVX2_FMA void cconv_f64_gemm_6x8_avx2(int64_t kc, const double *a, const double *b, double *c,
                                      int64_t ldc, int64_t m, int64_t n, const double *init,
                                      int accumulate) {
    __m256d acc[CCONV_MR][2];
    for (int i = 0; i < CCONV_MR; i++) {
        __m256d start = (!accumulate && init && i < m) ? _mm256_set1_pd(init[i])
                                                        : _mm256_setzero_pd();
        acc[i][0] = start;
        acc[i][1] = start;
    }
    for (int64_t k = 0; k < kc; k++) {
        const __m256d b0 = _mm256_loadu_pd(b);
        const __m256d b1 = _mm256_loadu_pd(b + 4);
        for (int i = 0; i < CCONV_MR; i++) {
            const __m256d ai = _mm256_broadcast_sd(a + i);
            acc[i][0] = _mm256_fmadd_pd(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_pd(ai, b1, acc[i][1]);
        }
        a += CCONV_MR;
        b += CCONV_NR_F64;
    }
    if (m == CCONV_MR && n == CCONV_NR_F64) {
        for (int i = 0; i < CCONV_MR; i++) {
            double *row = c + i * ldc;
            if (accumulate) {
                acc[i][0] = _mm256_add_pd(acc[i][0], _mm256_loadu_pd(row));
                acc[i][1] = _mm256_add_pd(acc[i][1], _mm256_loadu_pd(row + 4));
            }
            _mm256_storeu_pd(row, acc[i][0]);
            _mm256_storeu_pd(row + 4, acc[i][1]);
        }
        return;
    }
    double tile[CCONV_MR][CCONV_NR_F64];
    for (int i = 0; i < CCONV_MR; i++) {
        _mm256_storeu_pd(tile[i], acc[i][0]);
        _mm256_storeu_pd(tile[i] + 4, acc[i][1]);
    }
    for (int64_t i = 0; i < m; i++) {
        double *row = c + i * ldc;
        if (accumulate)
            for (int64_t j = 0; j < n; j++) row[j] += tile[i][j];
        else
            for (int64_t j = 0; j < n; j++) row[j] = tile[i][j];
    }
}

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

AVX2_FMA void cconv_f32_dot_4x3_avx2(int64_t len, const float *a, int64_t lda, const float *b,
                                     int64_t ldb, float *c, int64_t ldc, int64_t m, int64_t n) {
    /* Rows past m / n repeat row 0: always readable, never stored. */
    const float *ar[CCONV_DOT_MR], *br[CCONV_DOT_NR];
    for (int i = 0; i < CCONV_DOT_MR; i++) ar[i] = a + (i < m ? i : 0) * lda;
    for (int j = 0; j < CCONV_DOT_NR; j++) br[j] = b + (j < n ? j : 0) * ldb;
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

AVX2_FMA void cconv_f64_dot_4x3_avx2(int64_t len, const double *a, int64_t lda, const double *b,
                                     int64_t ldb, double *c, int64_t ldc, int64_t m, int64_t n) {
    const double *ar[CCONV_DOT_MR], *br[CCONV_DOT_NR];
    for (int i = 0; i < CCONV_DOT_MR; i++) ar[i] = a + (i < m ? i : 0) * lda;
    for (int j = 0; j < CCONV_DOT_NR; j++) br[j] = b + (j < n ? j : 0) * ldb;
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

#endif /* CCONV_HAVE_X86 */
