/* The float and double instantiations of generic/pool2d_nhwc.inc. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cconv.h"
#include "pool2d_nhwc.h"

#if defined(_MSC_VER)
#define CCONV_RESTRICT __restrict
#else
#define CCONV_RESTRICT __restrict__
#endif

/* The AVX2 channel loop when dispatch.c chose AVX2 or wider kernels, else none. */
#ifdef CCONV_POOL2D_NHWC_HAVE_X86
#define MAX_CHANNELS_AVX2(SFX) \
    (cconv_selected_isa() >= CCONV_ISA_AVX2 ? cconv_max_pool2d_nhwc_channels_##SFX##_avx2 : NULL)
#else
#define MAX_CHANNELS_AVX2(SFX) NULL
#endif

#define REAL float
#define FN(name) name##_f32
#define SIMD_CHANNELS MAX_CHANNELS_AVX2(f32)
#include "generic/pool2d_nhwc.inc"
#undef SIMD_CHANNELS
#undef REAL
#undef FN

#define REAL double
#define FN(name) name##_f64
#define SIMD_CHANNELS MAX_CHANNELS_AVX2(f64)
#include "generic/pool2d_nhwc.inc"
#undef SIMD_CHANNELS
#undef REAL
#undef FN
