/* Micro-kernel signatures and the dispatch table chosen at import.
 *
 * gemm: C[m x n] (+)= A_panel * B over kc steps, where the packed A panel is
 *   a[kc][MR] (zero padded) and B has rows b + k * ldb of which the first n
 *   (<= NR) entries are read (never more, so B may be a view of a tensor),
 *   C is row-major with row stride ldc, m <= MR. With accumulate == 0 the
 *   start value of row i is init[i] (or 0 when init is NULL); edges are
 *   handled inside the kernel.
 * gemm_indirect_b: the same, but B row k is b + offsets[k] and the first
 *   round_up(n, NR) entries of every row may be read (callers leave slack to
 *   the next multiple of NR). This lets a stride-1 conv read its taps straight
 *   from a padded image.
 * gemm_indirect_a: C[m x n] (+)= A * B where A(i, k) = a_rows[i][koffsets[k]]
 *   for m <= tile_mr rows (callers pass tile_mr pointers; those past m repeat
 *   row 0 and are never stored) and B row k is b + k * ldb, of which the
 *   first n (<= NR) entries are read. With accumulate == 0 column j starts at
 *   bias_cols[j] (or 0). This is the channels-last (NHWC) kernel: rows are
 *   pixels (or filter taps) found through pointers, columns are channels.
 * dot: C[i][j] += sum_p a[i*lda + p] * b[j][p] for p < len, i < m <= DOT_MR,
 *   j < n <= DOT_NR: the reduction runs along contiguous memory.
 * transpose: dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols (the
 *   channel-minor tiles of the lane kernels to planes and back).
 * dot_rows (float): C[i][j] += sum over images, rows and columns of
 *   a[i]-rows times b[j]-rows, for i < m <= DOT_ROWS_MR, j < n <= DOT_ROWS_NR
 *   (ukernels_dot_rows.c has the exact indexing): weight gradients of
 *   stride-1 convs with few output channels, pixels in the lanes. */
#ifndef CCONV_UKERNELS_H
#define CCONV_UKERNELS_H

#include <stdint.h>
#include "tuning.h"

typedef void (*cconv_gemm_ukernel_f32)(int64_t kc, const float *a, const float *b,
                                       int64_t ldb, float *c, int64_t ldc, int64_t m, int64_t n, const float *init,
                                       int accumulate);
typedef void (*cconv_gemm_ukernel_f64)(int64_t kc, const double *a, const double *b,
                                       int64_t ldb, double *c, int64_t ldc, int64_t m, int64_t n, const double *init,
                                       int accumulate);
typedef void (*cconv_gemm_indirect_b_ukernel_f32)(int64_t kc, const float *a, const float *b,
                                                const int64_t *offsets, float *c, int64_t ldc,
                                                int64_t m, int64_t n, const float *init,
                                                int accumulate);
typedef void (*cconv_gemm_indirect_b_ukernel_f64)(int64_t kc, const double *a, const double *b,
                                                const int64_t *offsets, double *c, int64_t ldc,
                                                int64_t m, int64_t n, const double *init,
                                                int accumulate);
typedef void (*cconv_gemm_indirect_a_ukernel_f32)(int64_t kc, const float *const *a_rows,
                                                  const int64_t *koffsets, const float *b,
                                                  int64_t ldb, float *c, int64_t ldc, int64_t m,
                                                  int64_t n, const float *bias_cols,
                                                  int accumulate);
typedef void (*cconv_gemm_indirect_a_ukernel_f64)(int64_t kc, const double *const *a_rows,
                                                  const int64_t *koffsets, const double *b,
                                                  int64_t ldb, double *c, int64_t ldc, int64_t m,
                                                  int64_t n, const double *bias_cols,
                                                  int accumulate);
/* gemm_indirect_a with the tile stored transposed, c[j * ldc + i], and no
 * accumulate: a channel-lane conv tile written straight into y's planes. */
typedef void (*cconv_gemm_indirect_a_planes_ukernel_f32)(int64_t kc, const float *const *a_rows,
                                                         const int64_t *koffsets, const float *b,
                                                         int64_t ldb, float *c, int64_t ldc,
                                                         int64_t m, int64_t n,
                                                         const float *bias_cols);
typedef void (*cconv_gemm_indirect_a_planes_ukernel_f64)(int64_t kc, const double *const *a_rows,
                                                         const int64_t *koffsets, const double *b,
                                                         int64_t ldb, double *c, int64_t ldc,
                                                         int64_t m, int64_t n,
                                                         const double *bias_cols);
typedef void (*cconv_dot_ukernel_f32)(int64_t len, const float *a, int64_t lda,
                                      const float *const *b, float *c, int64_t ldc, int64_t m,
                                      int64_t n);
typedef void (*cconv_dot_ukernel_f64)(int64_t len, const double *a, int64_t lda,
                                      const double *const *b, double *c, int64_t ldc, int64_t m,
                                      int64_t n);

typedef void (*cconv_dot_rows_ukernel_f32)(int64_t images, int64_t rows, int64_t len,
                                           const float *a, int64_t a_image,
                                           int64_t a_channel, int64_t a_row,
                                           const float *const *b, int64_t b_image,
                                           int64_t b_row, float *c, int64_t ldc, int64_t m,
                                           int64_t n);

typedef void (*cconv_transpose_f32)(int64_t rows, int64_t cols, const float *src, int64_t lds,
                                    float *dst, int64_t ldd);
typedef void (*cconv_transpose_f64)(int64_t rows, int64_t cols, const double *src,
                                    int64_t lds, double *dst, int64_t ldd);

typedef struct cconv_ukernel_table {
    const char *name;
    int isa; /* a cconv_isa (cconv.h): what the other kernel families follow */
    /* Columns of the gemm, gemm_indirect_a and gemm_indirect_b tiles (their
     * n <= this): the loops around them step by it. */
    int64_t tile_nr_f32, tile_nr_f64;
    /* Rows (m <= this) a gemm_indirect_a call takes; the others take CCONV_MR. */
    int64_t tile_mr;
    cconv_gemm_ukernel_f32 gemm_f32;
    cconv_gemm_ukernel_f64 gemm_f64;
    cconv_gemm_indirect_b_ukernel_f32 gemm_indirect_b_f32;
    cconv_gemm_indirect_b_ukernel_f64 gemm_indirect_b_f64;
    cconv_gemm_indirect_a_ukernel_f32 gemm_indirect_a_f32;
    cconv_gemm_indirect_a_ukernel_f64 gemm_indirect_a_f64;
    cconv_dot_ukernel_f32 dot_f32;
    cconv_dot_ukernel_f64 dot_f64;
    cconv_transpose_f32 transpose_f32;
    cconv_transpose_f64 transpose_f64;
    cconv_dot_rows_ukernel_f32 dot_rows_f32;
    /* NULL where the ISA has none (the callers then transpose a block). */
    cconv_gemm_indirect_a_planes_ukernel_f32 gemm_indirect_a_planes_f32;
} cconv_ukernel_table;

/* The table in use; set once at import by cconv_select_kernels("auto"). */
extern cconv_ukernel_table cconv_ukernels;

/* Names follow <dtype>_<op>_<tile>_<isa>. */
void cconv_f32_gemm_6x16_generic(int64_t, const float *, const float *, int64_t, float *,
                                 int64_t, int64_t, int64_t, const float *, int);
void cconv_f64_gemm_6x8_generic(int64_t, const double *, const double *, int64_t, double *,
                                int64_t, int64_t, int64_t, const double *, int);
void cconv_f32_gemm_indirect_b_6x16_generic(int64_t, const float *, const float *,
                                          const int64_t *, float *, int64_t, int64_t, int64_t,
                                          const float *, int);
void cconv_f64_gemm_indirect_b_6x8_generic(int64_t, const double *, const double *,
                                         const int64_t *, double *, int64_t, int64_t, int64_t,
                                         const double *, int);
void cconv_f32_gemm_indirect_a_6x16_generic(int64_t, const float *const *, const int64_t *,
                                         const float *, int64_t, float *, int64_t, int64_t,
                                         int64_t, const float *, int);
void cconv_f64_gemm_indirect_a_6x8_generic(int64_t, const double *const *, const int64_t *,
                                        const double *, int64_t, double *, int64_t, int64_t,
                                        int64_t, const double *, int);
void cconv_f32_dot_4x3_generic(int64_t, const float *, int64_t, const float *const *, float *,
                               int64_t, int64_t, int64_t);
void cconv_f64_dot_4x3_generic(int64_t, const double *, int64_t, const double *const *,
                               double *, int64_t, int64_t, int64_t);
void cconv_f32_transpose_generic(int64_t, int64_t, const float *, int64_t, float *, int64_t);
void cconv_f32_dot_rows_6x4_generic(int64_t, int64_t, int64_t, const float *, int64_t, int64_t,
                                    int64_t, const float *const *, int64_t, int64_t, float *,
                                    int64_t, int64_t, int64_t);
void cconv_f64_transpose_generic(int64_t, int64_t, const double *, int64_t, double *, int64_t);

#if defined(__x86_64__) || defined(_M_X64)
#define CCONV_HAVE_X86 1
void cconv_f32_gemm_6x16_avx2(int64_t, const float *, const float *, int64_t, float *, int64_t,
                              int64_t, int64_t, const float *, int);
void cconv_f64_gemm_6x8_avx2(int64_t, const double *, const double *, int64_t, double *,
                             int64_t, int64_t, int64_t, const double *, int);
void cconv_f32_gemm_indirect_b_6x16_avx2(int64_t, const float *, const float *, const int64_t *,
                                       float *, int64_t, int64_t, int64_t, const float *, int);
void cconv_f64_gemm_indirect_b_6x8_avx2(int64_t, const double *, const double *, const int64_t *,
                                      double *, int64_t, int64_t, int64_t, const double *, int);
void cconv_f32_gemm_indirect_a_planes_6x16_avx2(int64_t, const float *const *,
                                                 const int64_t *, const float *, int64_t,
                                                 float *, int64_t, int64_t, int64_t,
                                                 const float *);
void cconv_f32_gemm_indirect_a_6x16_avx2(int64_t, const float *const *, const int64_t *,
                                         const float *, int64_t, float *, int64_t, int64_t,
                                         int64_t, const float *, int);
void cconv_f64_gemm_indirect_a_6x8_avx2(int64_t, const double *const *, const int64_t *,
                                        const double *, int64_t, double *, int64_t, int64_t,
                                        int64_t, const double *, int);
void cconv_f32_dot_4x3_avx2(int64_t, const float *, int64_t, const float *const *, float *,
                            int64_t, int64_t, int64_t);
void cconv_f64_dot_4x3_avx2(int64_t, const double *, int64_t, const double *const *, double *,
                            int64_t, int64_t, int64_t);
void cconv_f32_transpose_avx2(int64_t, int64_t, const float *, int64_t, float *, int64_t);
void cconv_f32_dot_rows_6x4_avx2(int64_t, int64_t, int64_t, const float *, int64_t, int64_t,
                                 int64_t, const float *const *, int64_t, int64_t, float *,
                                 int64_t, int64_t, int64_t);
void cconv_f32_dot_rows_6x4_avx512(int64_t, int64_t, int64_t, const float *, int64_t, int64_t,
                                   int64_t, const float *const *, int64_t, int64_t, float *,
                                   int64_t, int64_t, int64_t);
void cconv_f64_transpose_avx2(int64_t, int64_t, const double *, int64_t, double *, int64_t);
void cconv_f32_gemm_6x64_avx512(int64_t, const float *, const float *, int64_t, float *,
                                int64_t, int64_t, int64_t, const float *, int);
void cconv_f64_gemm_6x32_avx512(int64_t, const double *, const double *, int64_t, double *,
                                int64_t, int64_t, int64_t, const double *, int);
void cconv_f32_gemm_indirect_b_6x64_avx512(int64_t, const float *, const float *,
                                           const int64_t *, float *, int64_t, int64_t, int64_t,
                                           const float *, int);
void cconv_f64_gemm_indirect_b_6x32_avx512(int64_t, const double *, const double *,
                                           const int64_t *, double *, int64_t, int64_t,
                                           int64_t, const double *, int);
void cconv_f32_gemm_indirect_a_12x64_avx512(int64_t, const float *const *, const int64_t *,
                                           const float *, int64_t, float *, int64_t, int64_t,
                                           int64_t, const float *, int);
void cconv_f32_gemm_indirect_a_planes_12x64_avx512(int64_t, const float *const *,
                                                    const int64_t *, const float *, int64_t,
                                                    float *, int64_t, int64_t, int64_t,
                                                    const float *);
void cconv_f64_gemm_indirect_a_12x32_avx512(int64_t, const double *const *, const int64_t *,
                                           const double *, int64_t, double *, int64_t, int64_t,
                                           int64_t, const double *, int);
#endif

#endif
