/* Max and average pooling over one NCHW plane (C-contiguous in_h x in_w input,
 * out_h x out_w output), with torch's CPU semantics; the caller runs planes in
 * parallel. Nothing here validates, allocates or takes the GIL.
 *
 * A plane routine walks output rows; the columns whose window hangs over the
 * padding (a few at each end) are done by portable scalar code, and the
 * interior run of every row by a row micro-kernel from the table below, so
 * the SIMD code never meets a clipped window. */
#ifndef CCONV_POOL2D_H
#define CCONV_POOL2D_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cconv_pool2d_ukernel_table;

typedef struct cconv_pool2d_geometry {
    int64_t in_h, in_w;
    int64_t out_h, out_w;  /* from the caller, so ceil_mode is already in them */
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t pad_h, pad_w;
    int64_t dilation_h, dilation_w; /* max pooling only; 1 for average pooling */
    int64_t count_include_pad;      /* average pooling only */
    int64_t divisor_override;       /* average pooling only; <= 0 means none */
    /* row micro-kernels to use: cconv_pool2d_select_ukernels() */
    const struct cconv_pool2d_ukernel_table *ukernels;
} cconv_pool2d_geometry;

#define CCONV_DECLARE_POOL2D(REAL, SFX)                                                   \
    /* y, indices: out_h x out_w; indices are flat positions in the x plane */            \
    void cconv_max_pool2d_forward_plane_##SFX(const cconv_pool2d_geometry *g,             \
                                              const REAL *x, REAL *y, int64_t *indices);  \
    /* grad_input (in_h x in_w) is overwritten: zeroed, then every grad_output element    \
     * added at its index. Returns 0, or 1 at the first index outside                     \
     * [0, in_h * in_w) (grad_input then holds part of the sums). */                      \
    int cconv_max_pool2d_backward_plane_##SFX(const cconv_pool2d_geometry *g,             \
                                              const REAL *grad_output,                    \
                                              const int64_t *indices, REAL *grad_input);  \
    void cconv_avg_pool2d_forward_plane_##SFX(const cconv_pool2d_geometry *g,             \
                                              const REAL *x, REAL *y);                    \
    /* grad_input is overwritten; workspace holds in_w + out_w elements */              \
    void cconv_avg_pool2d_backward_plane_##SFX(const cconv_pool2d_geometry *g,            \
                                               const REAL *grad_output, REAL *grad_input, \
                                               REAL *workspace);

CCONV_DECLARE_POOL2D(float, f32)
CCONV_DECLARE_POOL2D(double, f64)

/* Row micro-kernels. Each computes outputs ow in [ow_begin, ow_end) of one
 * output row (y and indices point at the row's first element) from input rows
 * ih0, ih0 + dilation_h, ... < ih1 of the plane x. Every tap column of these
 * outputs lies inside [0, in_w) (no horizontal clipping); any count of outputs
 * is accepted, tails are handled inside.
 *   max: torch's scan order (rows, then columns), first maximum wins, a NaN
 *        always replaces; an empty row range leaves -inf at the first column.
 *   avg: row-major sum of the window divided by `divisor`. */
#define CCONV_DECLARE_POOL2D_ROW(REAL, DT, ISA)                                           \
    void cconv_##DT##_max_pool2d_row_##ISA(const cconv_pool2d_geometry *g, const REAL *x, \
                                           int64_t ih0, int64_t ih1, int64_t ow_begin,    \
                                           int64_t ow_end, REAL *y, int64_t *indices);    \
    void cconv_##DT##_avg_pool2d_row_##ISA(const cconv_pool2d_geometry *g, const REAL *x, \
                                           int64_t ih0, int64_t ih1, int64_t ow_begin,    \
                                           int64_t ow_end, REAL divisor, REAL *y);

typedef void (*cconv_max_pool2d_row_f32)(const cconv_pool2d_geometry *, const float *, int64_t,
                                         int64_t, int64_t, int64_t, float *, int64_t *);
typedef void (*cconv_max_pool2d_row_f64)(const cconv_pool2d_geometry *, const double *,
                                         int64_t, int64_t, int64_t, int64_t, double *,
                                         int64_t *);
typedef void (*cconv_avg_pool2d_row_f32)(const cconv_pool2d_geometry *, const float *, int64_t,
                                         int64_t, int64_t, int64_t, float, float *);
typedef void (*cconv_avg_pool2d_row_f64)(const cconv_pool2d_geometry *, const double *,
                                         int64_t, int64_t, int64_t, int64_t, double, double *);

typedef struct cconv_pool2d_ukernel_table {
    const char *name;
    cconv_max_pool2d_row_f32 max_row_f32;
    cconv_max_pool2d_row_f64 max_row_f64;
    cconv_avg_pool2d_row_f32 avg_row_f32;
    cconv_avg_pool2d_row_f64 avg_row_f64;
} cconv_pool2d_ukernel_table;

/* The table matching the conv micro-kernels in use (cconv_selected_kernels()),
 * so CCONV_SIMD / select_simd_path switch pooling too. */
const cconv_pool2d_ukernel_table *cconv_pool2d_select_ukernels(void);

CCONV_DECLARE_POOL2D_ROW(float, f32, generic)
CCONV_DECLARE_POOL2D_ROW(double, f64, generic)
#if defined(__x86_64__) || defined(_M_X64)
#define CCONV_POOL2D_HAVE_X86 1
/* stride_w 1 or 2 in SIMD; other strides go to the generic kernel */
CCONV_DECLARE_POOL2D_ROW(float, f32, avx2)
CCONV_DECLARE_POOL2D_ROW(double, f64, avx2)
#endif

#ifdef __cplusplus
}
#endif
#endif
