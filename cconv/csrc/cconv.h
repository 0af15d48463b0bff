/* The C core of cconv: tile-level convolution routines and the micro-kernel
 * dispatch. Callers (cconv/_kernels.pyx) validate arguments, allocate outputs
 * and workspaces, and run these routines over independent work items in
 * parallel; nothing here checks arguments, allocates or takes the GIL.
 *
 * Every routine works on ONE image and ONE group, NCHW, C-contiguous:
 *   x           (channels, in_h, in_w)
 *   weight      (out_channels, channels, kernel_h, kernel_w)
 *   y           (out_channels, out_h, out_w)
 * The im2col matrix of an image has rows q = (c, r, s) ("CRS", channel-major)
 * and columns p = (oh, ow) ("pixels"); conv is Y[K, P] = W[K, CRS] * X[CRS, P]. */
#ifndef CCONV_H
#define CCONV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cconv_conv2d_geometry {
    int64_t channels;      /* input channels of one group */
    int64_t in_h, in_w;
    int64_t out_channels;  /* output channels of one group */
    int64_t out_h, out_w;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left; /* bottom/right padding follows from out_h/out_w */
    int64_t dilation_h, dilation_w;
} cconv_conv2d_geometry;

#define CCONV_DECLARE_CONV2D(REAL, SFX)                                                  \
    /* forward: weights packed once per call, then any set of pixel ranges */            \
    int64_t cconv_conv2d_forward_packed_size_##SFX(const cconv_conv2d_geometry *g);      \
    void cconv_conv2d_forward_pack_##SFX(const cconv_conv2d_geometry *g,                 \
                                         const REAL *weight, REAL *packed,               \
                                         int64_t k_begin, int64_t k_end);                \
    int64_t cconv_conv2d_forward_workspace_size_##SFX(const cconv_conv2d_geometry *g);   \
    void cconv_conv2d_forward_tile_##SFX(const cconv_conv2d_geometry *g, const REAL *x,  \
                                         const REAL *packed, const REAL *bias, REAL *y,  \
                                         int64_t pixel_begin, int64_t pixel_end,         \
                                         REAL *workspace);                               \
    /* forward of small images: pixels of consecutive images in one axis */            \
    int64_t cconv_conv2d_forward_batched_workspace_size_##SFX(                           \
        const cconv_conv2d_geometry *g);                                                 \
    void cconv_conv2d_forward_batched_tile_##SFX(                                        \
        const cconv_conv2d_geometry *g, const REAL *x, int64_t x_image_stride,           \
        const REAL *packed, const REAL *bias, REAL *y, int64_t y_image_stride,           \
        int64_t gp_begin, int64_t gp_end, REAL *workspace);                              \
    /* backward input: transposed weights packed per block of input channels */         \
    int64_t cconv_conv2d_backward_input_packed_size_##SFX(                               \
        const cconv_conv2d_geometry *g, int64_t channels_per_block);                     \
    void cconv_conv2d_backward_input_pack_##SFX(const cconv_conv2d_geometry *g,          \
                                                const REAL *weight,                      \
                                                int64_t channel_begin,                   \
                                                int64_t channel_end, REAL *packed);      \
    int64_t cconv_conv2d_backward_input_workspace_size_##SFX(                            \
        const cconv_conv2d_geometry *g, int64_t channels_per_block);                     \
    void cconv_conv2d_backward_input_tile_##SFX(                                         \
        const cconv_conv2d_geometry *g, const REAL *grad_output, const REAL *packed,     \
        REAL *grad_input, int64_t channel_begin, int64_t channel_end, REAL *workspace);  \
    /* backward weight: accumulates one image into grad_weight[k_range, row_range] */    \
    int64_t cconv_conv2d_backward_weight_workspace_size_##SFX(                           \
        const cconv_conv2d_geometry *g, int64_t rows_per_block);                         \
    void cconv_conv2d_backward_weight_tile_##SFX(                                        \
        const cconv_conv2d_geometry *g, const REAL *x, const REAL *grad_output,          \
        REAL *grad_weight, int64_t k_begin, int64_t k_end, int64_t row_begin,            \
        int64_t row_end, REAL *workspace);                                               \
    /* stride 1: no im2col; each item covers output rows [oh_begin, oh_end) */           \
    int64_t cconv_conv2d_direct_rows_per_item_##SFX(const cconv_conv2d_geometry *g);     \
    void cconv_conv2d_forward_direct_pack_##SFX(const cconv_conv2d_geometry *g,          \
                                                const REAL *weight, REAL *packed,        \
                                                int64_t k_begin, int64_t k_end);         \
    int64_t cconv_conv2d_forward_direct_workspace_size_##SFX(                            \
        const cconv_conv2d_geometry *g, int64_t rows);                                   \
    /* halo_ready: the workspace's padded copy already holds this item's zeros (a      \
     * workspace zeroed whole, then items that all cover the same rows) */              \
    void cconv_conv2d_forward_direct_rows_##SFX(                                         \
        const cconv_conv2d_geometry *g, const REAL *x, const REAL *packed,               \
        const REAL *bias, REAL *y, int64_t oh_begin, int64_t oh_end, int halo_ready,     \
        REAL *workspace);                                                                \
    /* strides 2..CCONV_PHASES_MAX_STRIDE: forward_pack's weights (forward_phases_lanes_pack's
     * with channel lanes), items as above */    \
    int64_t cconv_conv2d_phases_rows_per_item_##SFX(const cconv_conv2d_geometry *g);     \
    int cconv_conv2d_phases_channel_lanes_##SFX(const cconv_conv2d_geometry *g);          \
    void cconv_conv2d_forward_phases_lanes_pack_##SFX(const cconv_conv2d_geometry *g,    \
                                                      const REAL *w, REAL *packed,       \
                                                      int64_t k_begin, int64_t k_end);   \
    int64_t cconv_conv2d_forward_phases_workspace_size_##SFX(                            \
        const cconv_conv2d_geometry *g, int64_t rows);                                   \
    void cconv_conv2d_forward_phases_rows_##SFX(                                         \
        const cconv_conv2d_geometry *g, const REAL *x, const REAL *packed,               \
        const REAL *bias, REAL *y, int64_t oh_begin, int64_t oh_end, int64_t positions,  \
        int halo_ready, REAL *workspace);                                                \
    /* whole images: their last `tail` outputs, of all images at once */                \
    int64_t cconv_conv2d_forward_phases_tails_workspace_size_##SFX(                      \
        const cconv_conv2d_geometry *g);                                                 \
    void cconv_conv2d_forward_phases_tails_##SFX(                                        \
        const cconv_conv2d_geometry *g, const REAL *x, int64_t x_image_stride,           \
        int64_t n_images, int64_t tail, const REAL *packed, const REAL *bias, REAL *y,   \
        int64_t y_image_stride, REAL *workspace);                                        \
    /* strided input gradient: one stride-1 direct conv per phase (ph * stride_w + pw) */ \
    int64_t cconv_conv2d_backward_input_phases_packed_size_##SFX(                        \
        const cconv_conv2d_geometry *g, int64_t phase);                                  \
    void cconv_conv2d_backward_input_phases_pack_##SFX(                                  \
        const cconv_conv2d_geometry *g, const REAL *weight, int64_t phase, REAL *packed, \
        int64_t k_begin, int64_t k_end);                                                 \
    int64_t cconv_conv2d_backward_input_phases_workspace_size_##SFX(                     \
        const cconv_conv2d_geometry *g);                                                 \
    void cconv_conv2d_backward_input_phases_image_##SFX(                                 \
        const cconv_conv2d_geometry *g, const REAL *grad_output, const REAL *packed,     \
        REAL *grad_input, REAL *workspace);                                              \
    /* stride-1 input gradient = forward of this geometry with these packed weights */  \
    cconv_conv2d_geometry cconv_conv2d_backward_input_direct_geometry_##SFX(             \
        const cconv_conv2d_geometry *g);                                                 \
    void cconv_conv2d_backward_input_direct_pack_##SFX(const cconv_conv2d_geometry *g,   \
                                                       const REAL *weight, REAL *packed,  \
                                                       int64_t k_begin, int64_t k_end);   \
    int64_t cconv_conv2d_backward_weight_direct_workspace_size_##SFX(                    \
        const cconv_conv2d_geometry *g, int64_t rows_per_block, int64_t k_per_block);    \
    void cconv_conv2d_backward_weight_direct_##SFX(                                      \
        const cconv_conv2d_geometry *g, const REAL *x, const REAL *grad_output,          \
        REAL *grad_weight, int64_t k_begin, int64_t k_end, int64_t row_begin,            \
        int64_t row_end, REAL *workspace);                                               \
    /* any stride, channels [k_begin, k_end) in blocks of the tile width (or     */   \
    /* one narrower block): all images in one call; bias_sums (or NULL): +=      */   \
    /* each channel's dY sum, from the transposed dY                            */   \
    int64_t cconv_conv2d_backward_weight_lanes_workspace_size_##SFX(                     \
        const cconv_conv2d_geometry *g, int64_t rows_per_block, int64_t k_per_block);    \
    void cconv_conv2d_backward_weight_lanes_##SFX(                                       \
        const cconv_conv2d_geometry *g, const REAL *x, int64_t x_image_stride,           \
        const REAL *grad_output, int64_t grad_output_image_stride, int64_t n_images,     \
        REAL *grad_weight, int64_t k_begin, int64_t k_end, int64_t row_begin,            \
        int64_t row_end, REAL *workspace, double *bias_sums);                            \
    /* channels last: x, y group-relative, *_stride = distance between pixels */        \
    int64_t cconv_conv2d_nhwc_forward_workspace_size_##SFX(                              \
        const cconv_conv2d_geometry *g, int64_t rows);                                   \
    int64_t cconv_conv2d_nhwc_panels_size_##SFX(const cconv_conv2d_geometry *g);          \
    void cconv_conv2d_nhwc_pack_panels_##SFX(const cconv_conv2d_geometry *g, const REAL *w, \
                                             int64_t w_stride, int64_t k_begin,          \
                                             int64_t k_end, REAL *panels);               \
    void cconv_conv2d_nhwc_forward_rows_##SFX(                                           \
        const cconv_conv2d_geometry *g, const REAL *x, int64_t x_stride,                 \
        const REAL *panels, const REAL *bias, REAL *y, int64_t y_stride,                 \
        int64_t oh_begin, int64_t oh_end, REAL *workspace);                              \
    /* strides 2..CCONV_PHASES_MAX_STRIDE: dX one stride-1 forward per phase */        \
    int64_t cconv_conv2d_nhwc_phases_packed_size_##SFX(const cconv_conv2d_geometry *g);   \
    void cconv_conv2d_nhwc_phases_pack_##SFX(const cconv_conv2d_geometry *g, const REAL *w, \
                                             int64_t w_stride, int64_t phase,            \
                                             REAL *packed);                              \
    int64_t cconv_conv2d_nhwc_phases_workspace_size_##SFX(const cconv_conv2d_geometry *g); \
    void cconv_conv2d_nhwc_phases_image_##SFX(                                           \
        const cconv_conv2d_geometry *g, const REAL *grad_output, int64_t gy_stride,      \
        const REAL *packed, REAL *grad_input, int64_t gx_stride, REAL *workspace);       \
    cconv_conv2d_geometry cconv_conv2d_nhwc_backward_input_geometry_##SFX(               \
        const cconv_conv2d_geometry *g);                                                 \
    void cconv_conv2d_nhwc_backward_input_pack_##SFX(const cconv_conv2d_geometry *g,     \
                                                     const REAL *w, int64_t w_stride,    \
                                                     REAL *packed);                      \
    int64_t cconv_conv2d_nhwc_transposed_filter_size_##SFX(const cconv_conv2d_geometry *g); \
    void cconv_conv2d_nhwc_transpose_filter_##SFX(const cconv_conv2d_geometry *g,        \
                                                  const REAL *w, int64_t w_stride,       \
                                                  REAL *wt);                             \
    int64_t cconv_conv2d_nhwc_backward_input_workspace_size_##SFX(                       \
        const cconv_conv2d_geometry *g);                                                 \
    void cconv_conv2d_nhwc_backward_input_scatter_##SFX(                                 \
        const cconv_conv2d_geometry *g, const REAL *grad_output, int64_t gy_stride,      \
        const REAL *wt, REAL *grad_input, int64_t gx_stride, REAL *workspace);           \
    /* stride 1, few channels on one side: one image through planes; p is the  */      \
    /* planar conv's geometry (g, or the input gradient's transposed one)     */       \
    void cconv_conv2d_nhwc_planar_pack_##SFX(                                            \
        const cconv_conv2d_geometry *g, int backward_input, const REAL *w,               \
        int64_t w_stride, REAL *packed, REAL *scratch);                                  \
    int64_t cconv_conv2d_nhwc_planar_workspace_size_##SFX(const cconv_conv2d_geometry *p); \
    void cconv_conv2d_nhwc_planar_##SFX(                                                 \
        const cconv_conv2d_geometry *p, const REAL *in, int64_t in_stride,               \
        const REAL *packed, const REAL *bias, REAL *out, int64_t out_stride,             \
        REAL *workspace);                                                                \
    int64_t cconv_conv2d_nhwc_backward_weight_workspace_size_##SFX(                      \
        const cconv_conv2d_geometry *g);                                                 \
    void cconv_conv2d_nhwc_backward_weight_##SFX(                                        \
        const cconv_conv2d_geometry *g, const REAL *x, int64_t x_stride,                 \
        const REAL *grad_output, int64_t gy_stride, REAL *grad_weight, int64_t gw_stride, \
        int64_t q_begin, int64_t q_end, REAL *workspace);                                \
    int cconv_conv2d_nhwc_backward_weight_blocks_fit_##SFX(const cconv_conv2d_geometry *g); \
    int64_t cconv_conv2d_nhwc_backward_weight_units_##SFX(const cconv_conv2d_geometry *g); \
    int64_t cconv_conv2d_nhwc_backward_weight_panels_##SFX(const cconv_conv2d_geometry *g); \
    int64_t cconv_conv2d_nhwc_backward_weight_blocks_accumulator_size_##SFX(int64_t units, \
                                                                            int64_t panels); \
    int64_t cconv_conv2d_nhwc_backward_weight_blocks_workspace_size_##SFX(               \
        const cconv_conv2d_geometry *g, int64_t panels);                                 \
    void cconv_conv2d_nhwc_backward_weight_blocks_##SFX(                                 \
        const cconv_conv2d_geometry *g, const REAL *x, int64_t x_stride,                 \
        const REAL *grad_output, int64_t gy_stride, int64_t u_begin, int64_t u_end,      \
        int64_t t_begin, int64_t t_end, REAL *acc, REAL *workspace);                     \
    void cconv_conv2d_nhwc_backward_weight_blocks_store_##SFX(                           \
        const cconv_conv2d_geometry *g, const REAL *acc, int64_t u_begin, int64_t u_end, \
        int64_t t_begin, int64_t t_end, REAL *grad_weight, int64_t gw_stride);

CCONV_DECLARE_CONV2D(float, f32)
CCONV_DECLARE_CONV2D(double, f64)

/* A 1x1, stride-1, unpadded conv's im2col matrix is x itself: the forward
 * reads it in place. */
static inline int cconv_conv2d_im2col_is_input(const cconv_conv2d_geometry *g) {
    return g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->pad_top == 0 && g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}

/* Stride 1, float, few output channels: dW += the gradient of n_images images
 * (x, grad_output one group's, *_image_stride apart), pixels in the lanes. */
int64_t cconv_conv2d_backward_weight_rows_workspace_size_f32(const cconv_conv2d_geometry *g);
void cconv_conv2d_backward_weight_rows_f32(const cconv_conv2d_geometry *g, const float *x,
                                           int64_t x_image_stride, const float *grad_output,
                                           int64_t grad_output_image_stride, int64_t n_images,
                                           float *grad_weight, float *workspace);

/* Run-time choice of micro-kernels: "auto" (best the CPU supports), "avx512",
 * "avx2" or "generic". Returns 0, or -1 when the name is unknown or the CPU
 * lacks it. */
int cconv_select_kernels(const char *name);
const char *cconv_selected_kernels(void);
/* The instruction set of the selected kernels, in increasing order: pooling
 * and the other kernel families use their widest version at or below it. */
enum cconv_isa { CCONV_ISA_GENERIC = 0, CCONV_ISA_AVX2 = 1, CCONV_ISA_AVX512 = 2 };
int cconv_selected_isa(void);
int cconv_cpu_supports_avx2_fma(void);
int cconv_cpu_supports_avx512(void);
/* Columns of the selected gemm / channel-lane tiles (16 or 32 floats). */
int64_t cconv_tile_nr_f32(void);
int64_t cconv_tile_nr_f64(void);
/* Rows of the selected channel-lane (gemm_indirect_a) tiles: 6 or 12. */
int64_t cconv_tile_mr(void);

#ifdef __cplusplus
}
#endif
#endif
