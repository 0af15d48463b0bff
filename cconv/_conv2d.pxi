# conv2d forward and backward: work split and threading around the C tile
# routines of csrc/ (see csrc/cconv.h for what each computes).
from cython.parallel cimport prange, parallel

cdef extern from "aligned_alloc.h" nogil:
    void *cconv_aligned_malloc(size_t size)
    void cconv_aligned_free(void *block)
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset
from libc.stdint cimport int64_t

cdef extern from "cconv.h" nogil:
    ctypedef struct cconv_conv2d_geometry:
        int64_t channels, in_h, in_w, out_channels, out_h, out_w
        int64_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left
        int64_t dilation_h, dilation_w

    int64_t cconv_conv2d_forward_packed_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_forward_packed_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_forward_pack_f32(const cconv_conv2d_geometry *g, const float *w, float *packed,
                                       int64_t k0, int64_t k1)
    void cconv_conv2d_forward_pack_f64(const cconv_conv2d_geometry *g, const double *w, double *packed,
                                       int64_t k0, int64_t k1)
    void cconv_conv2d_forward_direct_pack_f32(const cconv_conv2d_geometry *g, const float *w, float *packed,
                                              int64_t k0, int64_t k1)
    void cconv_conv2d_forward_direct_pack_f64(const cconv_conv2d_geometry *g, const double *w, double *packed,
                                              int64_t k0, int64_t k1)
    int64_t cconv_conv2d_forward_workspace_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_forward_workspace_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_forward_tile_f32(const cconv_conv2d_geometry *g, const float *x,
                                       const float *packed, const float *bias, float *y,
                                       int64_t pixel_begin, int64_t pixel_end, float *ws)
    void cconv_conv2d_forward_tile_f64(const cconv_conv2d_geometry *g, const double *x,
                                       const double *packed, const double *bias, double *y,
                                       int64_t pixel_begin, int64_t pixel_end, double *ws)
    int64_t cconv_conv2d_forward_batched_workspace_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_forward_batched_workspace_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_forward_batched_tile_f32(const cconv_conv2d_geometry *g, const float *x,
                                               int64_t x_image_stride, const float *packed,
                                               const float *bias, float *y, int64_t y_image_stride,
                                               int64_t gp_begin, int64_t gp_end, float *ws)
    void cconv_conv2d_forward_batched_tile_f64(const cconv_conv2d_geometry *g, const double *x,
                                               int64_t x_image_stride, const double *packed,
                                               const double *bias, double *y, int64_t y_image_stride,
                                               int64_t gp_begin, int64_t gp_end, double *ws)
    int cconv_conv2d_im2col_is_input(const cconv_conv2d_geometry *g)

    int64_t cconv_conv2d_backward_input_packed_size_f32(const cconv_conv2d_geometry *g, int64_t cpb)
    int64_t cconv_conv2d_backward_input_packed_size_f64(const cconv_conv2d_geometry *g, int64_t cpb)
    void cconv_conv2d_backward_input_pack_f32(const cconv_conv2d_geometry *g, const float *w,
                                              int64_t c0, int64_t c1, float *packed)
    void cconv_conv2d_backward_input_pack_f64(const cconv_conv2d_geometry *g, const double *w,
                                              int64_t c0, int64_t c1, double *packed)
    int64_t cconv_conv2d_backward_input_workspace_size_f32(const cconv_conv2d_geometry *g, int64_t cpb)
    int64_t cconv_conv2d_backward_input_workspace_size_f64(const cconv_conv2d_geometry *g, int64_t cpb)
    void cconv_conv2d_backward_input_tile_f32(const cconv_conv2d_geometry *g, const float *gy,
                                              const float *packed, float *gx,
                                              int64_t c0, int64_t c1, float *ws)
    void cconv_conv2d_backward_input_tile_f64(const cconv_conv2d_geometry *g, const double *gy,
                                              const double *packed, double *gx,
                                              int64_t c0, int64_t c1, double *ws)

    int64_t cconv_conv2d_backward_weight_workspace_size_f32(const cconv_conv2d_geometry *g, int64_t rows)
    int64_t cconv_conv2d_backward_weight_workspace_size_f64(const cconv_conv2d_geometry *g, int64_t rows)
    void cconv_conv2d_backward_weight_tile_f32(const cconv_conv2d_geometry *g, const float *x,
                                               const float *gy, float *gw, int64_t k0, int64_t k1,
                                               int64_t q0, int64_t q1, float *ws)
    void cconv_conv2d_backward_weight_tile_f64(const cconv_conv2d_geometry *g, const double *x,
                                               const double *gy, double *gw, int64_t k0, int64_t k1,
                                               int64_t q0, int64_t q1, double *ws)

    int64_t cconv_conv2d_direct_rows_per_item_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_direct_rows_per_item_f64(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_forward_direct_workspace_size_f32(const cconv_conv2d_geometry *g, int64_t rows)
    int64_t cconv_conv2d_forward_direct_workspace_size_f64(const cconv_conv2d_geometry *g, int64_t rows)
    void cconv_conv2d_forward_direct_rows_f32(const cconv_conv2d_geometry *g, const float *x,
                                              const float *packed, const float *bias, float *y,
                                              int64_t oh0, int64_t oh1, int halo_ready,
                                              float *ws)
    void cconv_conv2d_forward_direct_rows_f64(const cconv_conv2d_geometry *g, const double *x,
                                              const double *packed, const double *bias, double *y,
                                              int64_t oh0, int64_t oh1, int halo_ready,
                                              double *ws)
    int64_t cconv_conv2d_backward_input_phases_packed_size_f32(const cconv_conv2d_geometry *g, int64_t phase)
    int64_t cconv_conv2d_backward_input_phases_packed_size_f64(const cconv_conv2d_geometry *g, int64_t phase)
    void cconv_conv2d_backward_input_phases_pack_f32(const cconv_conv2d_geometry *g, const float *w,
                                                     int64_t phase, float *packed, int64_t k0, int64_t k1)
    void cconv_conv2d_backward_input_phases_pack_f64(const cconv_conv2d_geometry *g, const double *w,
                                                     int64_t phase, double *packed, int64_t k0, int64_t k1)
    int64_t cconv_conv2d_backward_input_phases_workspace_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_backward_input_phases_workspace_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_backward_input_phases_image_f32(const cconv_conv2d_geometry *g, const float *gy,
                                                      const float *packed, float *gx, float *ws)
    void cconv_conv2d_backward_input_phases_image_f64(const cconv_conv2d_geometry *g, const double *gy,
                                                      const double *packed, double *gx, double *ws)
    int64_t cconv_conv2d_phases_rows_per_item_f32(const cconv_conv2d_geometry *g)
    int cconv_conv2d_phases_channel_lanes_f32(const cconv_conv2d_geometry *g)
    int cconv_conv2d_phases_channel_lanes_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_forward_phases_lanes_pack_f32(const cconv_conv2d_geometry *g, const float *w,
                                                    float *packed, int64_t k0, int64_t k1)
    void cconv_conv2d_forward_phases_lanes_pack_f64(const cconv_conv2d_geometry *g, const double *w,
                                                    double *packed, int64_t k0, int64_t k1)
    int64_t cconv_conv2d_phases_rows_per_item_f64(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_forward_phases_workspace_size_f32(const cconv_conv2d_geometry *g, int64_t rows)
    int64_t cconv_conv2d_forward_phases_workspace_size_f64(const cconv_conv2d_geometry *g, int64_t rows)
    void cconv_conv2d_forward_phases_rows_f32(const cconv_conv2d_geometry *g, const float *x,
                                              const float *packed, const float *bias, float *y,
                                              int64_t oh0, int64_t oh1, int64_t positions,
                                              int halo_ready, float *ws)
    void cconv_conv2d_forward_phases_rows_f64(const cconv_conv2d_geometry *g, const double *x,
                                              const double *packed, const double *bias, double *y,
                                              int64_t oh0, int64_t oh1, int64_t positions,
                                              int halo_ready, double *ws)
    int64_t cconv_conv2d_forward_phases_tails_workspace_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_forward_phases_tails_workspace_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_forward_phases_tails_f32(const cconv_conv2d_geometry *g, const float *x,
                                               int64_t x_image_stride, int64_t n_images, int64_t tail,
                                               const float *packed, const float *bias, float *y,
                                               int64_t y_image_stride, float *ws)
    void cconv_conv2d_forward_phases_tails_f64(const cconv_conv2d_geometry *g, const double *x,
                                               int64_t x_image_stride, int64_t n_images, int64_t tail,
                                               const double *packed, const double *bias, double *y,
                                               int64_t y_image_stride, double *ws)
    cconv_conv2d_geometry cconv_conv2d_backward_input_direct_geometry_f32(const cconv_conv2d_geometry *g)
    void cconv_conv2d_backward_input_direct_pack_f32(const cconv_conv2d_geometry *g, const float *w, float *packed,
                                                     int64_t k0, int64_t k1)
    void cconv_conv2d_backward_input_direct_pack_f64(const cconv_conv2d_geometry *g, const double *w, double *packed,
                                                     int64_t k0, int64_t k1)
    int64_t cconv_conv2d_backward_weight_direct_workspace_size_f32(const cconv_conv2d_geometry *g, int64_t rows, int64_t kpb)
    int64_t cconv_conv2d_backward_weight_direct_workspace_size_f64(const cconv_conv2d_geometry *g, int64_t rows, int64_t kpb)
    void cconv_conv2d_backward_weight_direct_f32(const cconv_conv2d_geometry *g, const float *x,
                                                 const float *gy, float *gw, int64_t k0, int64_t k1,
                                                 int64_t q0, int64_t q1, float *ws)
    void cconv_conv2d_backward_weight_direct_f64(const cconv_conv2d_geometry *g, const double *x,
                                                 const double *gy, double *gw, int64_t k0, int64_t k1,
                                                 int64_t q0, int64_t q1, double *ws)
    int64_t cconv_conv2d_backward_weight_lanes_workspace_size_f32(const cconv_conv2d_geometry *g, int64_t rows, int64_t kpb)
    int64_t cconv_conv2d_backward_weight_lanes_workspace_size_f64(const cconv_conv2d_geometry *g, int64_t rows, int64_t kpb)
    void cconv_conv2d_backward_weight_lanes_f32(const cconv_conv2d_geometry *g, const float *x, int64_t x_image_stride,
                                                const float *gy, int64_t gy_image_stride, int64_t n_images,
                                                float *gw, int64_t k0, int64_t k1, int64_t q0, int64_t q1, float *ws, double *bias_sums)
    void cconv_conv2d_backward_weight_lanes_f64(const cconv_conv2d_geometry *g, const double *x, int64_t x_image_stride,
                                                const double *gy, int64_t gy_image_stride, int64_t n_images,
                                                double *gw, int64_t k0, int64_t k1, int64_t q0, int64_t q1, double *ws, double *bias_sums)
    int64_t cconv_conv2d_backward_weight_rows_workspace_size_f32(const cconv_conv2d_geometry *g)
    void cconv_conv2d_backward_weight_rows_f32(const cconv_conv2d_geometry *g, const float *x, int64_t x_image_stride,
                                               const float *gy, int64_t gy_image_stride, int64_t n_images,
                                               float *gw, float *ws)

cdef extern from "tuning.h":
    enum:
        CCONV_MR
        CCONV_NC
        CCONV_NR_F32
        CCONV_NR_F64
        CCONV_DOT_MR
        CCONV_DOT_NR
        CCONV_PHASES_MAX_STRIDE

# im2col rows per weight-gradient work item: a multiple of DOT_NR whose
# PIXEL_BLOCK-wide tile (48 x 512 floats = 96 KiB) stays in L2.
cdef enum:
    WEIGHT_GRAD_ROWS = 48
# Aim for this many work items per thread, so static scheduling balances.
cdef enum:
    ITEMS_PER_THREAD = 4


cdef inline Py_ssize_t ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b


cdef inline Py_ssize_t whole_lines(Py_ssize_t elements) noexcept nogil:
    """`elements` rounded up to 64-byte lines of float32 (a multiple for
    float64 too): one group's packed weights after another stay aligned."""
    return ceil_div(elements, 16) * 16


# Layouts pack_weights writes: the im2col path's MR-row panels, the direct
# forward's, the direct input gradient's (flipped, channel axes swapped), and
# the channel-lane panels of the strided forward through phase planes.
cdef enum:
    PACK_PANELS = 0
    PACK_DIRECT = 1
    PACK_BACKWARD_DIRECT = 2
    PACK_PHASES_LANES = 3
# Weights of this many elements or more are packed by every thread, each a
# slice of output channels (K = 256 x 1152 took 0.2-0.5 ms on one core while
# the other spun); slices are multiples of 48 channels, of MR rows and of 16
# lanes alike, so no two share a panel or a cache line of the packed copy.
cdef enum:
    PACK_SPLIT_ELEMENTS = 65536
    PACK_SLICE_CHANNELS = 48


cdef void pack_weights(int kind, const cconv_conv2d_geometry *g, const floating *weight,
                       floating *packed, Py_ssize_t packed_size,
                       Py_ssize_t groups) noexcept nogil:
    """Packs every group's weights (group gi's at packed + gi * packed_size)."""
    cdef Py_ssize_t Kg = g.out_channels, crs = g.channels * g.kernel_h * g.kernel_w
    cdef Py_ssize_t parts = 1, slice_width, item, gi, k0, k1
    if Kg * crs >= PACK_SPLIT_ELEMENTS:
        parts = min(cconv_max_threads(), ceil_div(Kg, PACK_SLICE_CHANNELS))
    slice_width = ceil_div(ceil_div(Kg, parts), PACK_SLICE_CHANNELS) * PACK_SLICE_CHANNELS
    parts = ceil_div(Kg, slice_width)
    for item in prange(groups * parts, num_threads=threads_for(groups * parts)):
        gi = item // parts
        k0 = (item % parts) * slice_width
        k1 = min(Kg, k0 + slice_width)
        if floating is float:
            if kind == PACK_PANELS:
                cconv_conv2d_forward_pack_f32(g, weight + gi * Kg * crs, packed + gi * packed_size, k0, k1)
            elif kind == PACK_DIRECT:
                cconv_conv2d_forward_direct_pack_f32(g, weight + gi * Kg * crs, packed + gi * packed_size,
                                                     k0, k1)
            elif kind == PACK_PHASES_LANES:
                cconv_conv2d_forward_phases_lanes_pack_f32(g, weight + gi * Kg * crs,
                                                           packed + gi * packed_size, k0, k1)
            else:
                cconv_conv2d_backward_input_direct_pack_f32(g, weight + gi * Kg * crs,
                                                            packed + gi * packed_size, k0, k1)
        else:
            if kind == PACK_PANELS:
                cconv_conv2d_forward_pack_f64(g, weight + gi * Kg * crs, packed + gi * packed_size, k0, k1)
            elif kind == PACK_DIRECT:
                cconv_conv2d_forward_direct_pack_f64(g, weight + gi * Kg * crs, packed + gi * packed_size,
                                                     k0, k1)
            elif kind == PACK_PHASES_LANES:
                cconv_conv2d_forward_phases_lanes_pack_f64(g, weight + gi * Kg * crs,
                                                           packed + gi * packed_size, k0, k1)
            else:
                cconv_conv2d_backward_input_direct_pack_f64(g, weight + gi * Kg * crs,
                                                            packed + gi * packed_size, k0, k1)


cdef inline cconv_conv2d_geometry conv_geometry(
        Py_ssize_t channels, Py_ssize_t in_h, Py_ssize_t in_w,
        Py_ssize_t out_channels, Py_ssize_t out_h, Py_ssize_t out_w,
        Py_ssize_t kernel_h, Py_ssize_t kernel_w,
        Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_top, Py_ssize_t pad_left,
        Py_ssize_t dilation_h, Py_ssize_t dilation_w) noexcept nogil:
    cdef cconv_conv2d_geometry g
    g.channels = channels
    g.in_h = in_h
    g.in_w = in_w
    g.out_channels = out_channels
    g.out_h = out_h
    g.out_w = out_w
    g.kernel_h = kernel_h
    g.kernel_w = kernel_w
    g.stride_h = stride_h
    g.stride_w = stride_w
    g.pad_top = pad_top
    g.pad_left = pad_left
    g.dilation_h = dilation_h
    g.dilation_w = dilation_w
    return g


cdef int conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] weight,
                        const floating[::1] bias, floating[:, :, :, ::1] out,
                        Py_ssize_t stride_h, Py_ssize_t stride_w,
                        Py_ssize_t pad_top, Py_ssize_t pad_left,
                        Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                        Py_ssize_t groups) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], Cg = x.shape[1] // groups, Kg = out.shape[1] // groups
    cdef Py_ssize_t P = out.shape[2] * out.shape[3]
    cdef cconv_conv2d_geometry g = conv_geometry(
        Cg, x.shape[2], x.shape[3], Kg, out.shape[2], out.shape[3], weight.shape[2],
        weight.shape[3], stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w)
    cdef Py_ssize_t packed_size
    cdef floating *packed
    cdef const floating *bias_ptr = &bias[0] if bias.shape[0] > 0 else NULL
    cdef int failures = 0
    if N == 0 or P == 0 or Kg == 0:
        return 0
    if floating is float:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f32(&g))
    else:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f64(&g))
    packed = <floating *> cconv_aligned_malloc(groups * packed_size * sizeof(floating))
    if packed == NULL:
        return -1
    # Stride 1 skips im2col, except 1x1 kernels, whose im2col is (nearly) x itself.
    cdef bint direct = stride_h == 1 and stride_w == 1 and g.kernel_h * g.kernel_w > 1
    # Other strides read x through phase planes (csrc/generic/conv2d_phases.inc),
    # but a 1x1 kernel reads each cell once: its gather alone is cheaper.
    cdef bint phases = (not direct and (stride_h > 1 or stride_w > 1)
                        and g.kernel_h * g.kernel_w > 1
                        and stride_h <= CCONV_PHASES_MAX_STRIDE
                        and stride_w <= CCONV_PHASES_MAX_STRIDE)
    # (with channel lanes the phase planes take panels of channels)
    cdef bint lanes = phases and (cconv_conv2d_phases_channel_lanes_f32(&g) if floating is float
                                  else cconv_conv2d_phases_channel_lanes_f64(&g))
    pack_weights(PACK_DIRECT if direct else (PACK_PHASES_LANES if lanes else PACK_PANELS), &g,
                 &weight[0, 0, 0, 0], packed, packed_size, groups)
    if direct or phases:
        failures = forward_direct_items(x, packed, packed_size, bias_ptr, out, &g, groups, phases)
    else:
        failures = forward_im2col_items(x, packed, packed_size, bias_ptr, out, &g, groups)
    cconv_aligned_free(packed)
    return -1 if failures else 0


cdef int forward_im2col_items(const floating[:, :, :, ::1] x, const floating *packed,
                              Py_ssize_t packed_size, const floating *bias,
                              floating[:, :, :, ::1] out, const cconv_conv2d_geometry *g,
                              Py_ssize_t groups) noexcept nogil:
    """Any stride: items are (image, group, block of output pixels)."""
    cdef Py_ssize_t N = x.shape[0], Cg = g.channels, Kg = g.out_channels
    cdef Py_ssize_t P = g.out_h * g.out_w
    cdef Py_ssize_t nr = cconv_tile_nr_f32() if floating is float else cconv_tile_nr_f64()
    cdef Py_ssize_t blocks, block, items, item, n, gi, b, ws_size
    cdef floating *ws
    cdef int failures = 0
    if (groups == 1 and N > 1 and P % nr != 0 and P <= BATCHED_PIXELS
            and not cconv_conv2d_im2col_is_input(g)):
        return forward_batched_items(x, packed, bias, out, g)
    if floating is float:
        ws_size = cconv_conv2d_forward_workspace_size_f32(g)
    else:
        ws_size = cconv_conv2d_forward_workspace_size_f64(g)
    # Split each image's pixels only as far as needed to feed every thread.
    blocks = ceil_div(cconv_max_threads() * ITEMS_PER_THREAD, N * groups)
    blocks = max(1, min(blocks, ceil_div(P, nr)))
    block = ceil_div(ceil_div(P, blocks), nr) * nr
    blocks = ceil_div(P, block)
    items = N * groups * blocks
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(items, schedule='static'):
            if ws == NULL:
                failures += 1
            else:
                n = item // (groups * blocks)
                gi = (item // blocks) % groups
                b = item % blocks
                if floating is float:
                    cconv_conv2d_forward_tile_f32(
                        g, &x[n, gi * Cg, 0, 0], packed + gi * packed_size,
                        bias + gi * Kg if bias != NULL else NULL,
                        &out[n, gi * Kg, 0, 0], b * block, min(P, (b + 1) * block), ws)
                else:
                    cconv_conv2d_forward_tile_f64(
                        g, &x[n, gi * Cg, 0, 0], packed + gi * packed_size,
                        bias + gi * Kg if bias != NULL else NULL,
                        &out[n, gi * Kg, 0, 0], b * block, min(P, (b + 1) * block), ws)
        cconv_aligned_free(ws)
    return failures


# Images of at most this many output pixels whose count is no multiple of the
# tile width take tiles across image boundaries (forward_batched_items).
cdef enum:
    BATCHED_PIXELS = 1024


cdef int forward_batched_items(const floating[:, :, :, ::1] x, const floating *packed,
                               const floating *bias, floating[:, :, :, ::1] out,
                               const cconv_conv2d_geometry *g) noexcept nogil:
    """One group, small images: items are blocks of the batch's pixels, image
    after image, in whole tiles (the 14 x 14 outputs of a strided conv fill
    3 tiles of 64 and a 4-wide one per image; as one axis, all but the last
    tile are full)."""
    cdef Py_ssize_t N = x.shape[0], P = g.out_h * g.out_w, total = N * P
    cdef Py_ssize_t nr = cconv_tile_nr_f32() if floating is float else cconv_tile_nr_f64()
    cdef Py_ssize_t x_stride = x.shape[1] * x.shape[2] * x.shape[3]
    cdef Py_ssize_t y_stride = out.shape[1] * P
    cdef Py_ssize_t blocks, block, item, ws_size
    cdef floating *ws
    cdef int failures = 0
    # Blocks of CCONV_NC pixels (whole tiles), handed out dynamically: 8 images
    # of 196 pixels are 12.25 blocks, which static halves would split 7 : 6 at
    # best (every output is the same sum whoever computes it).
    block = ceil_div(CCONV_NC, nr) * nr
    blocks = ceil_div(total, block)
    if floating is float:
        ws_size = cconv_conv2d_forward_batched_workspace_size_f32(g)
    else:
        ws_size = cconv_conv2d_forward_batched_workspace_size_f64(g)
    with parallel(num_threads=threads_for(blocks)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(blocks, schedule='dynamic'):
            if ws == NULL:
                failures += 1
            elif floating is float:
                cconv_conv2d_forward_batched_tile_f32(
                    g, &x[0, 0, 0, 0], x_stride, packed, bias, &out[0, 0, 0, 0], y_stride,
                    item * block, min(total, (item + 1) * block), ws)
            else:
                cconv_conv2d_forward_batched_tile_f64(
                    g, &x[0, 0, 0, 0], x_stride, packed, bias, &out[0, 0, 0, 0], y_stride,
                    item * block, min(total, (item + 1) * block), ws)
        cconv_aligned_free(ws)
    return failures


cdef int forward_direct_items(const floating[:, :, :, ::1] x, const floating *packed,
                              Py_ssize_t packed_size, const floating *bias,
                              floating[:, :, :, ::1] out, const cconv_conv2d_geometry *g,
                              Py_ssize_t groups, bint phases=False) noexcept nogil:
    """Items are (image, group, block of output rows): the stride-1 direct
    conv, or with `phases` the strided one through phase planes.

    `x` and `out` are the conv's input and output as laid out for `g` (the
    input gradient passes dY and dX here with the transposed geometry)."""
    cdef Py_ssize_t N = x.shape[0], Cg = g.channels, Kg = g.out_channels, OH = g.out_h
    cdef Py_ssize_t rows, blocks, items, item, ws_size
    cdef floating *ws
    cdef int failures = 0, failures_static = 0
    if floating is float:
        rows = (cconv_conv2d_phases_rows_per_item_f32(g) if phases
                else cconv_conv2d_direct_rows_per_item_f32(g))
    else:
        rows = (cconv_conv2d_phases_rows_per_item_f64(g) if phases
                else cconv_conv2d_direct_rows_per_item_f64(g))
    # Thinner row blocks when images alone cannot feed every thread.
    rows = max(1, min(rows, ceil_div(OH, ceil_div(cconv_max_threads() * ITEMS_PER_THREAD,
                                                  N * groups))))
    blocks = ceil_div(OH, rows)
    items = N * groups * blocks
    if floating is float:
        ws_size = (cconv_conv2d_forward_phases_workspace_size_f32(g, rows) if phases
                   else cconv_conv2d_forward_direct_workspace_size_f32(g, rows))
    else:
        ws_size = (cconv_conv2d_forward_phases_workspace_size_f64(g, rows) if phases
                   else cconv_conv2d_forward_direct_workspace_size_f64(g, rows))
    # Whole images whose outputs end in a sliver of a vector past the last
    # whole tile (14 x 14 = 3 x 64 + 4): those of every image are one more
    # item, the first (csrc: forward_phases_tails).
    cdef Py_ssize_t tile = cconv_tile_nr_f32() if floating is float else cconv_tile_nr_f64()
    cdef Py_ssize_t P = OH * g.out_w
    # (channel lanes take partial tiles of positions at no cost in lanes)
    cdef bint lanes = phases and (cconv_conv2d_phases_channel_lanes_f32(g) if floating is float
                                  else cconv_conv2d_phases_channel_lanes_f64(g))
    cdef Py_ssize_t tail = P % tile if phases and blocks == 1 and groups == 1 and not lanes else 0
    if tail > tile // 4 or P < tile:
        tail = 0
    cdef Py_ssize_t tails_at = ws_size  # after the planes, whose zeros must stay
    if tail:
        items += 1
        if floating is float:
            ws_size += cconv_conv2d_forward_phases_tails_workspace_size_f32(g)
        else:
            ws_size += cconv_conv2d_forward_phases_tails_workspace_size_f64(g)
    # One block per image: every item pads the same rows, so a workspace
    # zeroed once keeps its zeros and each item copies only x's cells.
    cdef bint same_rows = blocks == 1
    # Large items go out guided (big chunks first, then smaller ones to
    # whichever thread is free): on these shared machines a neighbour slows
    # one core, and the static split made the other wait at the end (3x3
    # K64 layers, forward and input gradient: 0.90-1.00x the time). Small
    # ones keep the static split, whose contiguous images per thread match
    # the layers around them (LeNet-sized: guided was 1.02-1.06x).
    cdef bint guided = Kg * Cg * g.kernel_h * g.kernel_w * rows * g.out_w >= GUIDED_ITEM_FMAS
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        if ws != NULL and same_rows:
            memset(ws, 0, ws_size * sizeof(floating))
        if guided:
            for item in prange(items, schedule='guided'):
                failures += direct_item(x, packed, packed_size, bias, out, g, groups, blocks,
                                        rows, item, same_rows, phases, tail, tails_at, ws)
        else:
            # (a reduction variable of its own: Cython names one twice in the
            # parallel block's clauses otherwise)
            for item in prange(items, schedule='static'):
                failures_static += direct_item(x, packed, packed_size, bias, out, g, groups,
                                               blocks, rows, item, same_rows, phases, tail,
                                               tails_at, ws)
        cconv_aligned_free(ws)
    return failures + failures_static


# Multiply-adds of a direct-conv work item from which it is scheduled guided.
cdef enum:
    GUIDED_ITEM_FMAS = 2000000


cdef inline int direct_item(const floating[:, :, :, ::1] x, const floating *packed,
                            Py_ssize_t packed_size, const floating *bias,
                            floating[:, :, :, ::1] out, const cconv_conv2d_geometry *g,
                            Py_ssize_t groups, Py_ssize_t blocks, Py_ssize_t rows,
                            Py_ssize_t item, bint same_rows, bint phases, Py_ssize_t tail,
                            Py_ssize_t tails_at, floating *ws) noexcept nogil:
    """One (image, group, block of rows) of forward_direct_items, after item 0
    of the images' tails when there is a tail; 1 when the thread has no
    workspace."""
    cdef Py_ssize_t N = x.shape[0], Cg = g.channels, Kg = g.out_channels, OH = g.out_h
    cdef Py_ssize_t x_stride = x.shape[1] * x.shape[2] * x.shape[3]
    cdef Py_ssize_t y_stride = out.shape[1] * out.shape[2] * out.shape[3]
    cdef Py_ssize_t n, gi, b, oh0, oh1
    cdef const floating *group_bias
    if ws == NULL:
        return 1
    if tail:
        if item == 0:
            if floating is float:
                cconv_conv2d_forward_phases_tails_f32(g, &x[0, 0, 0, 0], x_stride, N, tail, packed,
                                                      bias, &out[0, 0, 0, 0], y_stride, ws + tails_at)
            else:
                cconv_conv2d_forward_phases_tails_f64(g, &x[0, 0, 0, 0], x_stride, N, tail, packed,
                                                      bias, &out[0, 0, 0, 0], y_stride, ws + tails_at)
            return 0
        item -= 1
    n = item // (groups * blocks)
    gi = (item // blocks) % groups
    b = item % blocks
    oh0 = b * rows
    oh1 = min(OH, (b + 1) * rows)
    group_bias = bias + gi * Kg if bias != NULL else NULL
    if floating is float:
        if phases:
            cconv_conv2d_forward_phases_rows_f32(g, &x[n, gi * Cg, 0, 0], packed + gi * packed_size,
                                                 group_bias, &out[n, gi * Kg, 0, 0], oh0, oh1,
                                                 (oh1 - oh0) * g.out_w - tail, same_rows, ws)
        else:
            cconv_conv2d_forward_direct_rows_f32(g, &x[n, gi * Cg, 0, 0], packed + gi * packed_size,
                                                 group_bias, &out[n, gi * Kg, 0, 0], oh0, oh1,
                                                 same_rows, ws)
    else:
        if phases:
            cconv_conv2d_forward_phases_rows_f64(g, &x[n, gi * Cg, 0, 0], packed + gi * packed_size,
                                                 group_bias, &out[n, gi * Kg, 0, 0], oh0, oh1,
                                                 (oh1 - oh0) * g.out_w - tail, same_rows, ws)
        else:
            cconv_conv2d_forward_direct_rows_f64(g, &x[n, gi * Cg, 0, 0], packed + gi * packed_size,
                                                 group_bias, &out[n, gi * Kg, 0, 0], oh0, oh1,
                                                 same_rows, ws)
    return 0


cdef int conv2d_backward_input(const floating[:, :, :, ::1] grad_output,
                               const floating[:, :, :, ::1] weight,
                               floating[:, :, :, ::1] grad_input,
                               Py_ssize_t stride_h, Py_ssize_t stride_w,
                               Py_ssize_t pad_top, Py_ssize_t pad_left,
                               Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                               Py_ssize_t groups) noexcept nogil:
    cdef Py_ssize_t N = grad_input.shape[0], Cg = grad_input.shape[1] // groups
    cdef Py_ssize_t Kg = grad_output.shape[1] // groups
    cdef Py_ssize_t RS = weight.shape[2] * weight.shape[3]
    cdef cconv_conv2d_geometry g = conv_geometry(
        Cg, grad_input.shape[2], grad_input.shape[3], Kg, grad_output.shape[2],
        grad_output.shape[3], weight.shape[2], weight.shape[3], stride_h, stride_w,
        pad_top, pad_left, dilation_h, dilation_w)
    cdef Py_ssize_t per_block, blocks, block_stride, packed_size, ws_size, items, item, n, gi, b
    cdef floating *packed
    cdef floating *ws
    cdef int failures = 0
    if N == 0 or Cg == 0:
        return 0
    if stride_h == 1 and stride_w == 1 and g.kernel_h * g.kernel_w > 1 and Kg > 0:
        return backward_input_direct(grad_output, weight, grad_input, &g, groups)
    if (stride_h == 1 and stride_w == 1 and g.kernel_h * g.kernel_w == 1 and pad_top == 0
            and pad_left == 0 and Kg > 0):
        return backward_input_pointwise(grad_output, weight, grad_input, &g, groups)
    # Other strides: a direct conv per phase, its items whole images, so from
    # a few images on (a choice by shape, never by thread count, keeps the
    # results bitwise the same) and for images whose dX fits a thread's
    # workspace; else channels split through col2im.
    if ((stride_h > 1 or stride_w > 1) and stride_h <= CCONV_PHASES_MAX_STRIDE
            and stride_w <= CCONV_PHASES_MAX_STRIDE and g.kernel_h * g.kernel_w > 1
            and Kg > 0 and N * groups >= PHASES_MIN_IMAGES
            and Cg * g.in_h * g.in_w <= PHASES_MAX_IMAGE):
        return backward_input_phases(grad_output, weight, grad_input, &g, groups)
    # Blocks of input channels give N = 1 calls parallel work too.
    blocks = max(1, min(Cg, ceil_div(cconv_max_threads() * 2, N * groups)))
    per_block = ceil_div(Cg, blocks)
    blocks = ceil_div(Cg, per_block)
    block_stride = ceil_div(per_block * RS, CCONV_MR) * CCONV_MR * Kg
    if floating is float:
        packed_size = whole_lines(cconv_conv2d_backward_input_packed_size_f32(&g, per_block))
        ws_size = cconv_conv2d_backward_input_workspace_size_f32(&g, per_block)
    else:
        packed_size = whole_lines(cconv_conv2d_backward_input_packed_size_f64(&g, per_block))
        ws_size = cconv_conv2d_backward_input_workspace_size_f64(&g, per_block)
    packed = <floating *> cconv_aligned_malloc(max(1, groups * packed_size) * sizeof(floating))
    if packed == NULL:
        return -1
    for item in prange(groups * blocks, num_threads=threads_for(groups * blocks)):
        gi = item // blocks
        b = item % blocks
        if floating is float:
            cconv_conv2d_backward_input_pack_f32(
                &g, &weight[gi * Kg, 0, 0, 0] if Kg > 0 else NULL, b * per_block,
                min(Cg, (b + 1) * per_block), packed + gi * packed_size + b * block_stride)
        else:
            cconv_conv2d_backward_input_pack_f64(
                &g, &weight[gi * Kg, 0, 0, 0] if Kg > 0 else NULL, b * per_block,
                min(Cg, (b + 1) * per_block), packed + gi * packed_size + b * block_stride)
    items = N * groups * blocks
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(items, schedule='static'):
            if ws == NULL:
                failures += 1
            else:
                n = item // (groups * blocks)
                gi = (item // blocks) % groups
                b = item % blocks
                if floating is float:
                    cconv_conv2d_backward_input_tile_f32(
                        &g, &grad_output[n, gi * Kg, 0, 0] if Kg > 0 else NULL,
                        packed + gi * packed_size + b * block_stride,
                        &grad_input[n, gi * Cg, 0, 0], b * per_block,
                        min(Cg, (b + 1) * per_block), ws)
                else:
                    cconv_conv2d_backward_input_tile_f64(
                        &g, &grad_output[n, gi * Kg, 0, 0] if Kg > 0 else NULL,
                        packed + gi * packed_size + b * block_stride,
                        &grad_input[n, gi * Cg, 0, 0], b * per_block,
                        min(Cg, (b + 1) * per_block), ws)
        cconv_aligned_free(ws)
    cconv_aligned_free(packed)
    return -1 if failures else 0


# Image groups from which a strided input gradient goes phase by phase, and
# the most dX elements of one image group (each thread holds one: 4 MiB fp32).
cdef enum:
    PHASES_MIN_IMAGES = 4
    PHASES_MAX_IMAGE = 1048576


cdef int backward_input_phases(const floating[:, :, :, ::1] grad_output,
                               const floating[:, :, :, ::1] weight,
                               floating[:, :, :, ::1] grad_input,
                               const cconv_conv2d_geometry *g, Py_ssize_t groups) noexcept nogil:
    """Strides 2..8: each phase of dX is a stride-1 direct conv of dY
    (csrc/generic/conv2d_backward_input_phases.inc); items are images."""
    cdef Py_ssize_t N = grad_input.shape[0], Cg = g.channels, Kg = g.out_channels
    cdef Py_ssize_t phases = g.stride_h * g.stride_w, per_group = 0, phase, item, n, gi, ws_size
    cdef Py_ssize_t offsets[CCONV_PHASES_MAX_STRIDE * CCONV_PHASES_MAX_STRIDE]
    cdef floating *packed
    cdef floating *ws
    cdef int failures = 0
    for phase in range(phases):
        offsets[phase] = per_group
        if floating is float:
            per_group += cconv_conv2d_backward_input_phases_packed_size_f32(g, phase)
        else:
            per_group += cconv_conv2d_backward_input_phases_packed_size_f64(g, phase)
    packed = <floating *> cconv_aligned_malloc(max(1, groups * per_group) * sizeof(floating))
    if packed == NULL:
        return -1
    for item in prange(groups * phases, num_threads=threads_for(groups * phases)):
        gi = item // phases
        phase = item % phases
        if floating is float:
            cconv_conv2d_backward_input_phases_pack_f32(
                g, &weight[gi * Kg, 0, 0, 0], phase, packed + gi * per_group + offsets[phase], 0, Kg)
        else:
            cconv_conv2d_backward_input_phases_pack_f64(
                g, &weight[gi * Kg, 0, 0, 0], phase, packed + gi * per_group + offsets[phase], 0, Kg)
    if floating is float:
        ws_size = cconv_conv2d_backward_input_phases_workspace_size_f32(g)
    else:
        ws_size = cconv_conv2d_backward_input_phases_workspace_size_f64(g)
    with parallel(num_threads=threads_for(N * groups)):
        ws = <floating *> cconv_aligned_malloc(max(1, ws_size) * sizeof(floating))
        for item in prange(N * groups, schedule='dynamic'):
            if ws == NULL:
                failures += 1
            else:
                n = item // groups
                gi = item % groups
                if floating is float:
                    cconv_conv2d_backward_input_phases_image_f32(
                        g, &grad_output[n, gi * Kg, 0, 0], packed + gi * per_group,
                        &grad_input[n, gi * Cg, 0, 0], ws)
                else:
                    cconv_conv2d_backward_input_phases_image_f64(
                        g, &grad_output[n, gi * Kg, 0, 0], packed + gi * per_group,
                        &grad_input[n, gi * Cg, 0, 0], ws)
        cconv_aligned_free(ws)
    cconv_aligned_free(packed)
    return -1 if failures else 0


cdef int backward_input_pointwise(const floating[:, :, :, ::1] grad_output,
                                  const floating[:, :, :, ::1] weight,
                                  floating[:, :, :, ::1] grad_input,
                                  const cconv_conv2d_geometry *g, Py_ssize_t groups) noexcept nogil:
    """1x1, stride 1, no padding: dX = W^T dY is the forward of dY with the
    (C, K) filter W^T, written straight into dX. The col2im path zeroed dX and
    added each tile into it (8x256x28x28 K64: 3 passes over a 6 MB dX)."""
    cdef cconv_conv2d_geometry t = conv_geometry(
        g.out_channels, g.out_h, g.out_w, g.channels, g.in_h, g.in_w, 1, 1, 1, 1, 0, 0, 1, 1)
    cdef Py_ssize_t packed_size, gi
    cdef floating *packed
    cdef int failures
    if floating is float:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f32(&t))
    else:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f64(&t))
    packed = <floating *> cconv_aligned_malloc(groups * packed_size * sizeof(floating))
    if packed == NULL:
        return -1
    # W^T in MR-row panels of input channels is t's forward packing
    for gi in prange(groups, num_threads=threads_for(groups)):
        if floating is float:
            cconv_conv2d_backward_input_pack_f32(g, &weight[gi * g.out_channels, 0, 0, 0], 0,
                                                 g.channels, packed + gi * packed_size)
        else:
            cconv_conv2d_backward_input_pack_f64(g, &weight[gi * g.out_channels, 0, 0, 0], 0,
                                                 g.channels, packed + gi * packed_size)
    failures = forward_im2col_items(grad_output, packed, packed_size, NULL, grad_input, &t, groups)
    cconv_aligned_free(packed)
    return -1 if failures else 0


cdef int backward_input_direct(const floating[:, :, :, ::1] grad_output,
                               const floating[:, :, :, ::1] weight,
                               floating[:, :, :, ::1] grad_input,
                               const cconv_conv2d_geometry *g, Py_ssize_t groups) noexcept nogil:
    """Stride 1: dX is the forward conv of dY with the flipped, transposed kernel."""
    cdef cconv_conv2d_geometry t = cconv_conv2d_backward_input_direct_geometry_f32(g)
    cdef Py_ssize_t packed_size
    cdef floating *packed
    cdef int failures
    if floating is float:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f32(&t))
    else:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f64(&t))
    packed = <floating *> cconv_aligned_malloc(groups * packed_size * sizeof(floating))
    if packed == NULL:
        return -1
    pack_weights(PACK_BACKWARD_DIRECT, g, &weight[0, 0, 0, 0], packed, packed_size, groups)
    failures = forward_direct_items(grad_output, packed, packed_size, NULL, grad_input, &t, groups)
    cconv_aligned_free(packed)
    return -1 if failures else 0


cdef extern from "plane_sum.h" nogil:
    double cconv_plane_sum_f32(const float *first, int64_t planes, int64_t stride, int64_t n)
    double cconv_plane_sum_f64(const double *first, int64_t planes, int64_t stride, int64_t n)


cdef int conv2d_backward_bias(const floating[:, :, :, ::1] grad_output,
                              floating[::1] grad_bias) noexcept nogil:
    return plane_sums(grad_output, &grad_bias[0] if grad_bias.shape[0] else NULL)


cdef int plane_sums(const floating[:, :, :, ::1] grad_output, floating *grad_bias) noexcept nogil:
    """grad_bias[k] = the sum of channel k over every image."""
    cdef Py_ssize_t N = grad_output.shape[0], K = grad_output.shape[1]
    cdef Py_ssize_t P = grad_output.shape[2] * grad_output.shape[3]
    cdef Py_ssize_t k
    if N == 0 or P == 0:
        for k in range(K):
            grad_bias[k] = 0
        return 0
    # fp32 sums over N*P terms lose digits: each channel sums in double.
    # Channels split over threads once there are enough elements to pay for it.
    cdef int threads = threads_for(K if N * P * K >= 2 * ELEMENTWISE_CHUNK else 1)
    for k in prange(K, num_threads=threads, schedule='static'):
        if floating is float:
            grad_bias[k] = <float>cconv_plane_sum_f32(&grad_output[0, k, 0, 0], N, K * P, P)
        else:
            grad_bias[k] = cconv_plane_sum_f64(&grad_output[0, k, 0, 0], N, K * P, P)
    return 0


def _raise_on_failure(int status):
    if status != 0:
        raise MemoryError("cconv: could not allocate a kernel workspace")


def run_conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] weight,
                       const floating[::1] bias, floating[:, :, :, ::1] out,
                       Py_ssize_t stride_h, Py_ssize_t stride_w,
                       Py_ssize_t pad_top, Py_ssize_t pad_left,
                       Py_ssize_t dilation_h, Py_ssize_t dilation_w, Py_ssize_t groups):
    """out = conv2d(x, weight) + bias; arguments already validated by cconv.functional."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_forward(x, weight, bias, out, stride_h, stride_w, pad_top, pad_left,
                                dilation_h, dilation_w, groups)
        cconv_leave_call()
    _raise_on_failure(status)


def run_conv2d_backward_input(const floating[:, :, :, ::1] grad_output,
                              const floating[:, :, :, ::1] weight,
                              floating[:, :, :, ::1] grad_input,
                              Py_ssize_t stride_h, Py_ssize_t stride_w,
                              Py_ssize_t pad_top, Py_ssize_t pad_left,
                              Py_ssize_t dilation_h, Py_ssize_t dilation_w, Py_ssize_t groups):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_backward_input(grad_output, weight, grad_input, stride_h, stride_w,
                                       pad_top, pad_left, dilation_h, dilation_w, groups)
        cconv_leave_call()
    _raise_on_failure(status)


def run_conv2d_backward_weight(const floating[:, :, :, ::1] grad_output,
                               const floating[:, :, :, ::1] x,
                               floating[:, :, :, ::1] grad_weight,
                               Py_ssize_t stride_h, Py_ssize_t stride_w,
                               Py_ssize_t pad_top, Py_ssize_t pad_left,
                               Py_ssize_t dilation_h, Py_ssize_t dilation_w, Py_ssize_t groups):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_backward_weight(grad_output, x, grad_weight, stride_h, stride_w,
                                        pad_top, pad_left, dilation_h, dilation_w, groups)
        cconv_leave_call()
    _raise_on_failure(status)


def run_conv2d_backward_weight_bias(const floating[:, :, :, ::1] grad_output,
                                    const floating[:, :, :, ::1] x,
                                    floating[:, :, :, ::1] grad_weight, floating[::1] grad_bias,
                                    Py_ssize_t stride_h, Py_ssize_t stride_w,
                                    Py_ssize_t pad_top, Py_ssize_t pad_left,
                                    Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                    Py_ssize_t groups):
    """run_conv2d_backward_weight and run_conv2d_backward_bias in one call: the
    channel-lane weight gradient sums the bias from the dY^T it builds."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_backward_weight_bias(
            grad_output, x, grad_weight, &grad_bias[0] if grad_bias.shape[0] else NULL,
            stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w, groups)
        cconv_leave_call()
    _raise_on_failure(status)


def run_conv2d_backward_bias(const floating[:, :, :, ::1] grad_output, floating[::1] grad_bias):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_backward_bias(grad_output, grad_bias)
        cconv_leave_call()
    _raise_on_failure(status)
