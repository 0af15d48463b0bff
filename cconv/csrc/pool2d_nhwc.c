/* The float and double instantiations of generic/pool2d_nhwc.inc. */
#include <math.h>
#include <stdint.h>

#if defined(_MSC_VER)
#define CCONV_RESTRICT __restrict
#else
#define CCONV_RESTRICT __restrict__
#endif

#define REAL float
#define FN(name) name##_f32
#include "generic/pool2d_nhwc.inc"
#undef REAL
#undef FN

#define REAL double
#define FN(name) name##_f64
#include "generic/pool2d_nhwc.inc"
#undef REAL
#undef FN
