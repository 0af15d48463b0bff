/* Picks the micro-kernels once, from what the CPU we run on supports (never
 * from what the build machine had). */
#include <string.h>
#include "cconv.h"
#include "ukernels.h"

#if defined(_MSC_VER) && defined(CCONV_HAVE_X86)
#include <intrin.h>
#endif

static const cconv_ukernel_table generic_table = {
    "generic", CCONV_ISA_GENERIC, CCONV_NR_F32, CCONV_NR_F64, CCONV_MR, cconv_f32_gemm_6x16_generic, cconv_f64_gemm_6x8_generic,
    cconv_f32_gemm_indirect_b_6x16_generic, cconv_f64_gemm_indirect_b_6x8_generic,
    cconv_f32_gemm_indirect_a_6x16_generic, cconv_f64_gemm_indirect_a_6x8_generic,
    cconv_f32_dot_4x3_generic, cconv_f64_dot_4x3_generic, cconv_f32_transpose_generic,
    cconv_f64_transpose_generic, cconv_f32_dot_rows_6x4_generic, NULL};

#ifdef CCONV_HAVE_X86
static const cconv_ukernel_table avx2_table = {
    "avx2-fma", CCONV_ISA_AVX2, CCONV_NR_F32, CCONV_NR_F64, CCONV_MR, cconv_f32_gemm_6x16_avx2, cconv_f64_gemm_6x8_avx2,
    cconv_f32_gemm_indirect_b_6x16_avx2, cconv_f64_gemm_indirect_b_6x8_avx2,
    cconv_f32_gemm_indirect_a_6x16_avx2, cconv_f64_gemm_indirect_a_6x8_avx2, cconv_f32_dot_4x3_avx2,
    cconv_f64_dot_4x3_avx2, cconv_f32_transpose_avx2, cconv_f64_transpose_avx2,
    cconv_f32_dot_rows_6x4_avx2, cconv_f32_gemm_indirect_a_planes_6x16_avx2};

/* AVX-512 widens the gemm tiles four times and the dot_rows tile's lanes
 * twice; the dot kernel (weight gradients of odd channel counts) and the
 * transposes stay AVX2. */
static const cconv_ukernel_table avx512_table = {
    "avx512", CCONV_ISA_AVX512, 4 * CCONV_NR_F32, 4 * CCONV_NR_F64, CCONV_TILE_MR_AVX512,
    cconv_f32_gemm_6x64_avx512,
    cconv_f64_gemm_6x32_avx512, cconv_f32_gemm_indirect_b_6x64_avx512,
    cconv_f64_gemm_indirect_b_6x32_avx512, cconv_f32_gemm_indirect_a_12x64_avx512,
    cconv_f64_gemm_indirect_a_12x32_avx512, cconv_f32_dot_4x3_avx2, cconv_f64_dot_4x3_avx2,
    cconv_f32_transpose_avx2, cconv_f64_transpose_avx2, cconv_f32_dot_rows_6x4_avx512,
    cconv_f32_gemm_indirect_a_planes_12x64_avx512};
#endif

cconv_ukernel_table cconv_ukernels = {
    "generic", CCONV_ISA_GENERIC, CCONV_NR_F32, CCONV_NR_F64, CCONV_MR, cconv_f32_gemm_6x16_generic, cconv_f64_gemm_6x8_generic,
    cconv_f32_gemm_indirect_b_6x16_generic, cconv_f64_gemm_indirect_b_6x8_generic,
    cconv_f32_gemm_indirect_a_6x16_generic, cconv_f64_gemm_indirect_a_6x8_generic,
    cconv_f32_dot_4x3_generic, cconv_f64_dot_4x3_generic, cconv_f32_transpose_generic,
    cconv_f64_transpose_generic, cconv_f32_dot_rows_6x4_generic, NULL};

int cconv_cpu_supports_avx2_fma(void) {
#if defined(CCONV_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(CCONV_HAVE_X86) && defined(_MSC_VER)
    int info[4];
    __cpuid(info, 0);
    if (info[0] < 7) return 0;
    __cpuidex(info, 1, 0);
    int fma = (info[2] >> 12) & 1, osxsave = (info[2] >> 27) & 1, avx = (info[2] >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    if ((_xgetbv(0) & 6) != 6) return 0; /* the OS saves ymm registers */
    __cpuidex(info, 7, 0);
    return (info[1] >> 5) & 1;
#else
    return 0;
#endif
}

/* AVX-512F with the OS saving the opmask and all 32 zmm registers (GCC's and
 * clang's cpu-supports test checks XCR0 as well). */
int cconv_cpu_supports_avx512(void) {
#if defined(CCONV_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return cconv_cpu_supports_avx2_fma() && __builtin_cpu_supports("avx512f");
#elif defined(CCONV_HAVE_X86) && defined(_MSC_VER)
    int info[4];
    if (!cconv_cpu_supports_avx2_fma()) return 0;
    if ((_xgetbv(0) & 0xE6) != 0xE6) return 0;
    __cpuidex(info, 7, 0);
    return (info[1] >> 16) & 1;
#else
    return 0;
#endif
}

int cconv_select_kernels(const char *name) {
    const int want_avx2 = strcmp(name, "avx2") == 0 || strcmp(name, "avx2-fma") == 0;
    const int want_avx512 = strcmp(name, "avx512") == 0;
    if (strcmp(name, "generic") == 0) {
        cconv_ukernels = generic_table;
        return 0;
    }
    if (strcmp(name, "auto") != 0 && !want_avx2 && !want_avx512) return -1;
#ifdef CCONV_HAVE_X86
    if (!want_avx2 && cconv_cpu_supports_avx512()) {
        cconv_ukernels = avx512_table;
        return 0;
    }
    if (!want_avx512 && cconv_cpu_supports_avx2_fma()) {
        cconv_ukernels = avx2_table;
        return 0;
    }
#endif
    if (want_avx2 || want_avx512) return -1;
    cconv_ukernels = generic_table;
    return 0;
}

int64_t cconv_tile_nr_f32(void) { return cconv_ukernels.tile_nr_f32; }
int64_t cconv_tile_nr_f64(void) { return cconv_ukernels.tile_nr_f64; }
int64_t cconv_tile_mr(void) { return cconv_ukernels.tile_mr; }

const char *cconv_selected_kernels(void) { return cconv_ukernels.name; }
int cconv_selected_isa(void) { return cconv_ukernels.isa; }
