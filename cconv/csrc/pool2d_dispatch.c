/* Pooling follows the conv micro-kernel choice (dispatch.c), so one switch,
 * CCONV_SIMD or cconv select_simd_path, moves every kernel to the same ISA. */
#include "cconv.h"
#include "pool2d.h"

static const cconv_pool2d_ukernel_table generic_table = {
    "generic", cconv_f32_max_pool2d_row_generic, cconv_f64_max_pool2d_row_generic,
    cconv_f32_avg_pool2d_row_generic, cconv_f64_avg_pool2d_row_generic};

#ifdef CCONV_POOL2D_HAVE_X86
static const cconv_pool2d_ukernel_table avx2_table = {
    "avx2-fma", cconv_f32_max_pool2d_row_avx2, cconv_f64_max_pool2d_row_avx2,
    cconv_f32_avg_pool2d_row_avx2, cconv_f64_avg_pool2d_row_avx2};
#endif

const cconv_pool2d_ukernel_table *cconv_pool2d_select_ukernels(void) {
#ifdef CCONV_POOL2D_HAVE_X86
    /* dispatch.c selects AVX2 or AVX-512 only on CPUs that have them */
    if (cconv_selected_isa() >= CCONV_ISA_AVX2) return &avx2_table;
#endif
    return &generic_table;
}
