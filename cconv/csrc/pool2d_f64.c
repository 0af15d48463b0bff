/* The double instantiation of the pooling routines in generic/pool2d.inc. */
#include <math.h>
#include <string.h>
#include "pool2d.h"

#define REAL double
#define FN(name) name##_f64
#define GENERIC_ROW(op) cconv_f64_##op##_generic
#define MAX_ROW_TYPE cconv_max_pool2d_row_f64
#define MAX_ROW(g) ((g)->ukernels->max_row_f64)
#define AVG_ROW_TYPE cconv_avg_pool2d_row_f64
#define AVG_ROW(g) ((g)->ukernels->avg_row_f64)

#include "generic/pool2d.inc"
