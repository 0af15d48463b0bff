/* Matrix products for the Linear layer: one block of C (+)= A * B per call.
 *
 * A(i, k) = a[i * a_rs + k * a_cs] and B(k, j) = b[k * b_rs + j * b_cs] may
 * be transposed views (any strides); C is row-major with row stride ldc. The
 * call computes C[m_begin:m_end, n_begin:n_end] over the whole depth K,
 * adding to C when `accumulate`, else overwriting it with bias[j] (0 when
 * bias is NULL) plus the product. `workspace` holds
 * cconv_matmul_workspace_size(n_end - n_begin, b_cs != 1) elements. Blocks
 * of one product are independent: callers run them in parallel. */
#ifndef CCONV_MATMUL_H
#define CCONV_MATMUL_H

#include <stdint.h>

#define CCONV_DECLARE_MATMUL(REAL, SFX)                                                  \
    int64_t cconv_matmul_workspace_size_##SFX(int64_t n_block, int pack_b);              \
    void cconv_matmul_block_##SFX(int64_t K, const REAL *a, int64_t a_rs, int64_t a_cs,  \
                                  const REAL *b, int64_t b_rs, int64_t b_cs,             \
                                  const REAL *bias, REAL *c,                             \
                                  int64_t ldc, int64_t m_begin, int64_t m_end,           \
                                  int64_t n_begin, int64_t n_end, int accumulate,        \
                                  REAL *workspace);

CCONV_DECLARE_MATMUL(float, f32)
CCONV_DECLARE_MATMUL(double, f64)

#endif
