/* The double instantiation of generic/matmul.inc. */
#include <stddef.h>
#include "matmul.h"
#include "ukernels.h"

#define REAL double
#define FN(name) name##_f64
#define NR CCONV_NR_F64
#define TILE_NR (cconv_ukernels.tile_nr_f64)
#define TILE_NR_MAX CCONV_TILE_NR_MAX_F64
#define TILE_MR (cconv_ukernels.tile_mr)
#define GEMM_INDIRECT_A_UKERNEL_TYPE cconv_gemm_indirect_a_ukernel_f64
#define GEMM_INDIRECT_A_UKERNEL cconv_ukernels.gemm_indirect_a_f64
#define TRANSPOSE cconv_ukernels.transpose_f64

static inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

#include "generic/matmul.inc"
