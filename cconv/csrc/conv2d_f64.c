/* The double instantiation of the type-generic conv2d routines in generic/. */
#include <string.h>
#include "cconv.h"
#include "ukernels.h"

#define REAL double
#define FN(name) name##_f64
#define NR CCONV_NR_F64
/* the selected gemm / gemm_indirect_a tile width, and the widest of any ISA */
#define TILE_NR (cconv_ukernels.tile_nr_f64)
#define TILE_MR (cconv_ukernels.tile_mr) /* rows of a gemm_indirect_a call */
#define TILE_NR_MAX CCONV_TILE_NR_MAX_F64
#define GEMM_UKERNEL_TYPE cconv_gemm_ukernel_f64
#define GEMM_UKERNEL cconv_ukernels.gemm_f64
#define GEMM_INDIRECT_B_UKERNEL_TYPE cconv_gemm_indirect_b_ukernel_f64
#define GEMM_INDIRECT_B_UKERNEL cconv_ukernels.gemm_indirect_b_f64
#define GEMM_INDIRECT_A_UKERNEL_TYPE cconv_gemm_indirect_a_ukernel_f64
#define GEMM_INDIRECT_A_UKERNEL cconv_ukernels.gemm_indirect_a_f64
#define GEMM_INDIRECT_A_PLANES_UKERNEL_TYPE cconv_gemm_indirect_a_planes_ukernel_f64
#define GEMM_INDIRECT_A_PLANES_UKERNEL ((cconv_gemm_indirect_a_planes_ukernel_f64)0) /* none yet */
#define DOT_UKERNEL_TYPE cconv_dot_ukernel_f64
#define DOT_UKERNEL cconv_ukernels.dot_f64
#define TRANSPOSE cconv_ukernels.transpose_f64

static inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
static inline int64_t crs_of(const cconv_conv2d_geometry *g) {
    return g->channels * g->kernel_h * g->kernel_w;
}

#include "generic/im2col_tile.inc"
#include "generic/conv2d_forward.inc"
#include "generic/conv2d_backward_input.inc"
#include "generic/conv2d_backward_weight.inc"
#include "generic/conv2d_direct.inc"
#include "generic/conv2d_phases.inc"
#include "generic/conv2d_backward_input_phases.inc"
#include "generic/conv2d_nhwc.inc"
#include "generic/conv2d_nhwc_backward_weight_blocks.inc"
#include "generic/conv2d_nhwc_planar.inc"
#include "generic/conv2d_nhwc_backward_input_phases.inc"
