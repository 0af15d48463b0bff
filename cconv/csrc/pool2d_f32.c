/* The float instantiation of the pooling routines in generic/pool2d.inc. */
#include <math.h>
#include <string.h>
#include "pool2d.h"

#define REAL float
#define FN(name) name##_f32
#define GENERIC_ROW(op) cconv_f32_##op##_generic
#define MAX_ROW_TYPE cconv_max_pool2d_row_f32
#define MAX_ROW(g) ((g)->ukernels->max_row_f32)
#define AVG_ROW_TYPE cconv_avg_pool2d_row_f32
#define AVG_ROW(g) ((g)->ukernels->avg_row_f32)

#include "generic/pool2d.inc"
