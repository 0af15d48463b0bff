/* Portable micro-kernels: plain C over fixed-size tiles, which compilers turn
 * into SSE2/NEON code. They define the results the SIMD kernels must match. */
#include "ukernels.h"

#define GEMM_GENERIC(NAME, REAL, NR)                                                      \
    void NAME(int64_t kc, const REAL *a, const REAL *b, int64_t ldb, REAL *c, int64_t ldc, \
              int64_t m, int64_t n, const REAL *init, int accumulate) {                   \
        REAL acc[CCONV_MR][NR];                                                           \
        for (int i = 0; i < CCONV_MR; i++) {                                              \
            REAL start = (!accumulate && init && i < m) ? init[i] : (REAL)0;              \
            for (int j = 0; j < NR; j++) acc[i][j] = start;                               \
        }                                                                                 \
        for (int64_t k = 0; k < kc; k++) {                                                \
            REAL brow[NR]; /* fixed width, so the j loop vectorises */                    \
            for (int j = 0; j < NR; j++) brow[j] = j < n ? b[j] : (REAL)0;                \
            for (int i = 0; i < CCONV_MR; i++) {                                          \
                REAL ai = a[i];                                                           \
                for (int j = 0; j < NR; j++) acc[i][j] += ai * brow[j];                   \
            }                                                                             \
            a += CCONV_MR;                                                                \
            b += ldb;                                                                     \
        }                                                                                 \
        for (int64_t i = 0; i < m; i++) {                                                 \
            REAL *row = c + i * ldc;                                                      \
            if (accumulate)                                                               \
                for (int64_t j = 0; j < n; j++) row[j] += acc[i][j];                      \
            else                                                                          \
                for (int64_t j = 0; j < n; j++) row[j] = acc[i][j];                       \
        }                                                                                 \
    }

GEMM_GENERIC(cconv_f32_gemm_6x16_generic, float, CCONV_NR_F32)
GEMM_GENERIC(cconv_f64_gemm_6x8_generic, double, CCONV_NR_F64)

#define GEMM_INDIRECT_GENERIC(NAME, REAL, NR)                                             \
    void NAME(int64_t kc, const REAL *a, const REAL *b, const int64_t *offsets, REAL *c,  \
              int64_t ldc, int64_t m, int64_t n, const REAL *init, int accumulate) {      \
        REAL acc[CCONV_MR][NR];                                                           \
        for (int i = 0; i < CCONV_MR; i++) {                                              \
            REAL start = (!accumulate && init && i < m) ? init[i] : (REAL)0;              \
            for (int j = 0; j < NR; j++) acc[i][j] = start;                               \
        }                                                                                 \
        for (int64_t k = 0; k < kc; k++) {                                                \
            const REAL *brow = b + offsets[k];                                            \
            for (int i = 0; i < CCONV_MR; i++) {                                          \
                REAL ai = a[i];                                                           \
                for (int j = 0; j < NR; j++) acc[i][j] += ai * brow[j];                   \
            }                                                                             \
            a += CCONV_MR;                                                                \
        }                                                                                 \
        for (int64_t i = 0; i < m; i++) {                                                 \
            REAL *row = c + i * ldc;                                                      \
            if (accumulate)                                                               \
                for (int64_t j = 0; j < n; j++) row[j] += acc[i][j];                      \
            else                                                                          \
                for (int64_t j = 0; j < n; j++) row[j] = acc[i][j];                       \
        }                                                                                 \
    }

GEMM_INDIRECT_GENERIC(cconv_f32_gemm_indirect_b_6x16_generic, float, CCONV_NR_F32)
GEMM_INDIRECT_GENERIC(cconv_f64_gemm_indirect_b_6x8_generic, double, CCONV_NR_F64)

#define GEMM_INDIRECT_A_GENERIC(NAME, REAL, NR)                                           \
    void NAME(int64_t kc, const REAL *const *a_rows, const int64_t *koffsets, const REAL *b, \
              int64_t ldb, REAL *c, int64_t ldc, int64_t m, int64_t n,                    \
              const REAL *bias_cols, int accumulate) {                                    \
        REAL acc[CCONV_MR][NR];                                                           \
        for (int i = 0; i < CCONV_MR; i++)                                                \
            for (int j = 0; j < NR; j++)                                                  \
                acc[i][j] = (!accumulate && bias_cols && j < n) ? bias_cols[j] : (REAL)0; \
        for (int64_t k = 0; k < kc; k++) {                                                \
            REAL brow[NR];                                                                \
            for (int j = 0; j < NR; j++) brow[j] = j < n ? b[j] : (REAL)0;                \
            for (int i = 0; i < CCONV_MR; i++) {                                          \
                const REAL ai = a_rows[i < m ? i : 0][koffsets[k]];                       \
                for (int j = 0; j < NR; j++) acc[i][j] += ai * brow[j];                   \
            }                                                                             \
            b += ldb;                                                                     \
        }                                                                                 \
        for (int64_t i = 0; i < m; i++) {                                                 \
            REAL *row = c + i * ldc;                                                      \
            if (accumulate)                                                               \
                for (int64_t j = 0; j < n; j++) row[j] += acc[i][j];                      \
            else                                                                          \
                for (int64_t j = 0; j < n; j++) row[j] = acc[i][j];                       \
        }                                                                                 \
    }

GEMM_INDIRECT_A_GENERIC(cconv_f32_gemm_indirect_a_6x16_generic, float, CCONV_NR_F32)
GEMM_INDIRECT_A_GENERIC(cconv_f64_gemm_indirect_a_6x8_generic, double, CCONV_NR_F64)

/* Eight partial sums per dot product, so the p loop vectorises without
 * reassociation flags. */
#define DOT_GENERIC(NAME, REAL)                                                           \
    void NAME(int64_t len, const REAL *a, int64_t lda, const REAL *const *b, REAL *c,     \
              int64_t ldc, int64_t m, int64_t n) {                                        \
        for (int64_t i = 0; i < m; i++) {                                                 \
            for (int64_t j = 0; j < n; j++) {                                             \
                const REAL *ai = a + i * lda, *bj = b[j];                                 \
                REAL part[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                  \
                int64_t p = 0;                                                            \
                for (; p + 8 <= len; p += 8)                                              \
                    for (int l = 0; l < 8; l++) part[l] += ai[p + l] * bj[p + l];         \
                REAL sum = 0;                                                             \
                for (; p < len; p++) sum += ai[p] * bj[p];                                \
                for (int l = 0; l < 8; l++) sum += part[l];                               \
                c[i * ldc + j] += sum;                                                    \
            }                                                                             \
        }                                                                                 \
    }

DOT_GENERIC(cconv_f32_dot_4x3_generic, float)
DOT_GENERIC(cconv_f64_dot_4x3_generic, double)

/* dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols, in 8 x 8 blocks
 * so both sides move along cache lines. */
#define TRANSPOSE_GENERIC(NAME, REAL)                                                     \
    void NAME(int64_t rows, int64_t cols, const REAL *src, int64_t lds, REAL *dst,        \
              int64_t ldd) {                                                              \
        for (int64_t i0 = 0; i0 < rows; i0 += 8)                                          \
            for (int64_t j0 = 0; j0 < cols; j0 += 8) {                                    \
                const int64_t in = rows - i0 < 8 ? rows - i0 : 8;                         \
                const int64_t jn = cols - j0 < 8 ? cols - j0 : 8;                         \
                for (int64_t j = 0; j < jn; j++)                                          \
                    for (int64_t i = 0; i < in; i++)                                      \
                        dst[(j0 + j) * ldd + i0 + i] = src[(i0 + i) * lds + j0 + j];      \
            }                                                                             \
    }

TRANSPOSE_GENERIC(cconv_f32_transpose_generic, float)
TRANSPOSE_GENERIC(cconv_f64_transpose_generic, double)
