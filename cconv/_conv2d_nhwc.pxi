# conv2d on channels-last data (TensorFlow layout): x (N, H, W, C), filters
# HWIO (R, S, C/groups, K), out (N, OH, OW, K). Work split and threading
# around the C routines of csrc/generic/conv2d_nhwc.inc.

cdef extern from "cconv.h" nogil:
    int64_t cconv_conv2d_nhwc_forward_workspace_size_f32(const cconv_conv2d_geometry *g, int64_t rows)
    int64_t cconv_conv2d_nhwc_forward_workspace_size_f64(const cconv_conv2d_geometry *g, int64_t rows)
    int64_t cconv_conv2d_nhwc_panels_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_panels_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_nhwc_pack_panels_f32(const cconv_conv2d_geometry *g, const float *w,
                                           int64_t ws_, int64_t k0, int64_t k1, float *panels)
    void cconv_conv2d_nhwc_pack_panels_f64(const cconv_conv2d_geometry *g, const double *w,
                                           int64_t ws_, int64_t k0, int64_t k1, double *panels)
    void cconv_conv2d_nhwc_forward_rows_f32(const cconv_conv2d_geometry *g, const float *x,
                                            int64_t xs, const float *panels, const float *bias,
                                            float *y, int64_t ys, int64_t oh0, int64_t oh1, float *work)
    void cconv_conv2d_nhwc_forward_rows_f64(const cconv_conv2d_geometry *g, const double *x,
                                            int64_t xs, const double *panels, const double *bias,
                                            double *y, int64_t ys, int64_t oh0, int64_t oh1, double *work)
    cconv_conv2d_geometry cconv_conv2d_nhwc_backward_input_geometry_f32(const cconv_conv2d_geometry *g)
    void cconv_conv2d_nhwc_backward_input_pack_f32(const cconv_conv2d_geometry *g, const float *w,
                                                   int64_t ws_, float *packed)
    void cconv_conv2d_nhwc_backward_input_pack_f64(const cconv_conv2d_geometry *g, const double *w,
                                                   int64_t ws_, double *packed)
    void cconv_conv2d_nhwc_transpose_filter_f32(const cconv_conv2d_geometry *g, const float *w,
                                                int64_t ws_, float *wt)
    void cconv_conv2d_nhwc_transpose_filter_f64(const cconv_conv2d_geometry *g, const double *w,
                                                int64_t ws_, double *wt)
    int64_t cconv_conv2d_nhwc_transposed_filter_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_transposed_filter_size_f64(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_input_workspace_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_input_workspace_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_nhwc_backward_input_scatter_f32(const cconv_conv2d_geometry *g, const float *gy,
                                                      int64_t gys, const float *wt, float *gx,
                                                      int64_t gxs, float *work)
    void cconv_conv2d_nhwc_backward_input_scatter_f64(const cconv_conv2d_geometry *g, const double *gy,
                                                      int64_t gys, const double *wt, double *gx,
                                                      int64_t gxs, double *work)
    void cconv_conv2d_nhwc_planar_pack_f32(const cconv_conv2d_geometry *g, int backward_input,
                                           const float *w, int64_t ws_, float *packed,
                                           float *scratch)
    void cconv_conv2d_nhwc_planar_pack_f64(const cconv_conv2d_geometry *g, int backward_input,
                                           const double *w, int64_t ws_, double *packed,
                                           double *scratch)
    int64_t cconv_conv2d_nhwc_planar_workspace_size_f32(const cconv_conv2d_geometry *p)
    int64_t cconv_conv2d_nhwc_planar_workspace_size_f64(const cconv_conv2d_geometry *p)
    void cconv_conv2d_nhwc_planar_f32(const cconv_conv2d_geometry *p, const float *x, int64_t xs,
                                      const float *packed, const float *bias, float *y,
                                      int64_t ys, float *work)
    void cconv_conv2d_nhwc_planar_f64(const cconv_conv2d_geometry *p, const double *x, int64_t xs,
                                      const double *packed, const double *bias, double *y,
                                      int64_t ys, double *work)
    int64_t cconv_conv2d_nhwc_phases_packed_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_phases_packed_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_nhwc_phases_pack_f32(const cconv_conv2d_geometry *g, const float *w,
                                           int64_t ws_, int64_t phase, float *packed)
    void cconv_conv2d_nhwc_phases_pack_f64(const cconv_conv2d_geometry *g, const double *w,
                                           int64_t ws_, int64_t phase, double *packed)
    int64_t cconv_conv2d_nhwc_phases_workspace_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_phases_workspace_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_nhwc_phases_image_f32(const cconv_conv2d_geometry *g, const float *gy,
                                            int64_t gys, const float *packed, float *gx,
                                            int64_t gxs, float *work)
    void cconv_conv2d_nhwc_phases_image_f64(const cconv_conv2d_geometry *g, const double *gy,
                                            int64_t gys, const double *packed, double *gx,
                                            int64_t gxs, double *work)
    int64_t cconv_conv2d_nhwc_backward_weight_workspace_size_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_weight_workspace_size_f64(const cconv_conv2d_geometry *g)
    void cconv_conv2d_nhwc_backward_weight_f32(const cconv_conv2d_geometry *g, const float *x,
                                               int64_t xs, const float *gy, int64_t gys, float *gw,
                                               int64_t gws, int64_t q0, int64_t q1, float *work)
    void cconv_conv2d_nhwc_backward_weight_f64(const cconv_conv2d_geometry *g, const double *x,
                                               int64_t xs, const double *gy, int64_t gys, double *gw,
                                               int64_t gws, int64_t q0, int64_t q1, double *work)
    int cconv_conv2d_nhwc_backward_weight_blocks_fit_f32(const cconv_conv2d_geometry *g)
    int cconv_conv2d_nhwc_backward_weight_blocks_fit_f64(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_weight_units_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_weight_units_f64(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_weight_panels_f32(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_weight_panels_f64(const cconv_conv2d_geometry *g)
    int64_t cconv_conv2d_nhwc_backward_weight_blocks_accumulator_size_f32(int64_t units,
                                                                          int64_t panels)
    int64_t cconv_conv2d_nhwc_backward_weight_blocks_accumulator_size_f64(int64_t units,
                                                                          int64_t panels)
    int64_t cconv_conv2d_nhwc_backward_weight_blocks_workspace_size_f32(
        const cconv_conv2d_geometry *g, int64_t panels)
    int64_t cconv_conv2d_nhwc_backward_weight_blocks_workspace_size_f64(
        const cconv_conv2d_geometry *g, int64_t panels)
    void cconv_conv2d_nhwc_backward_weight_blocks_f32(
        const cconv_conv2d_geometry *g, const float *x, int64_t xs, const float *gy,
        int64_t gys, int64_t u0, int64_t u1, int64_t t0, int64_t t1, float *acc, float *work)
    void cconv_conv2d_nhwc_backward_weight_blocks_f64(
        const cconv_conv2d_geometry *g, const double *x, int64_t xs, const double *gy,
        int64_t gys, int64_t u0, int64_t u1, int64_t t0, int64_t t1, double *acc, double *work)
    void cconv_conv2d_nhwc_backward_weight_blocks_store_f32(
        const cconv_conv2d_geometry *g, const float *acc, int64_t u0, int64_t u1, int64_t t0,
        int64_t t1, float *gw, int64_t gws)
    void cconv_conv2d_nhwc_backward_weight_blocks_store_f64(
        const cconv_conv2d_geometry *g, const double *acc, int64_t u0, int64_t u1, int64_t t0,
        int64_t t1, double *gw, int64_t gws)

cdef enum:
    # Output pixels per forward work item: amortises the halo rows of the
    # padded copy while the copy (rows x width x C) stays near L2.
    NHWC_PIXELS_PER_ITEM = 512


cdef int nhwc_forward_items(const floating *x, Py_ssize_t N, Py_ssize_t x_image, Py_ssize_t x_stride,
                            const floating *w, Py_ssize_t w_group, Py_ssize_t w_stride,
                            const floating *bias, floating *y, Py_ssize_t y_image,
                            Py_ssize_t y_stride, const cconv_conv2d_geometry *g,
                            Py_ssize_t groups) noexcept nogil:
    """Items are (image, group, block of output rows). Pointers are to element 0;
    group gi reads channels gi * g.channels of x and writes gi * g.out_channels of y,
    with filter columns w + gi * w_group, rows w_stride apart."""
    cdef Py_ssize_t OH = g.out_h, rows, blocks, items, item, ws_size, panels_size = 0
    cdef Py_ssize_t tile_nr = cconv_tile_nr_f32() if floating is float else cconv_tile_nr_f64()
    cdef floating *ws
    cdef floating *owned = NULL
    cdef const floating *panels = w
    cdef int failures = 0, failures_static = 0
    # One group of at most a tile's channels, rows contiguous: the filter is
    # its own single panel (copying it cost tiny layers 15-20% of their time).
    if not (groups == 1 and g.out_channels <= tile_nr and w_stride == g.out_channels):
        if floating is float:
            panels_size = whole_lines(cconv_conv2d_nhwc_panels_size_f32(g))
        else:
            panels_size = whole_lines(cconv_conv2d_nhwc_panels_size_f64(g))
        owned = <floating *> cconv_aligned_malloc(groups * panels_size * sizeof(floating))
        if owned == NULL:
            return 1
        nhwc_pack_panels(g, w, w_group, w_stride, groups, owned, panels_size, tile_nr)
        panels = owned
    rows = max(1, min(OH, NHWC_PIXELS_PER_ITEM // g.out_w))
    rows = max(1, min(rows, ceil_div(OH, ceil_div(cconv_max_threads() * ITEMS_PER_THREAD,
                                                  N * groups))))
    blocks = ceil_div(OH, rows)
    items = N * groups * blocks
    if floating is float:
        ws_size = cconv_conv2d_nhwc_forward_workspace_size_f32(g, rows)
    else:
        ws_size = cconv_conv2d_nhwc_forward_workspace_size_f64(g, rows)
    # large items guided, as forward_direct_items: the static halves left one
    # core waiting for the other (10% of an 8x64x56x56 K64 forward in libgomp)
    cdef bint guided = (g.out_channels * g.channels * g.kernel_h * g.kernel_w * rows * g.out_w
                        >= GUIDED_ITEM_FMAS)
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        if guided:
            for item in prange(items, schedule='guided'):
                failures += nhwc_forward_item(x, x_image, x_stride, panels, panels_size, bias, y,
                                              y_image, y_stride, g, groups, blocks, rows, item, ws)
        else:
            for item in prange(items, schedule='static'):
                failures_static += nhwc_forward_item(x, x_image, x_stride, panels, panels_size,
                                                     bias, y, y_image, y_stride, g, groups, blocks,
                                                     rows, item, ws)
        cconv_aligned_free(ws)
    cconv_aligned_free(owned)
    return failures + failures_static


cdef void nhwc_pack_panels(const cconv_conv2d_geometry *g, const floating *w, Py_ssize_t w_group,
                           Py_ssize_t w_stride, Py_ssize_t groups, floating *panels,
                           Py_ssize_t panels_size, Py_ssize_t tile_nr) noexcept nogil:
    """Every group's filter as the forward's panels (group gi's at panels +
    gi * panels_size): each group in two halves of whole panels, on two
    threads once the filter is large (a 3x3 256 -> 256 one is 2.4 MB to walk)."""
    cdef Py_ssize_t half = ceil_div(ceil_div(g.out_channels, tile_nr), 2) * tile_nr, item
    cdef bint large = (groups * g.out_channels * g.channels * g.kernel_h * g.kernel_w
                       >= PACK_SPLIT_ELEMENTS)
    for item in prange(groups * 2, num_threads=threads_for(groups * 2) if large else 1):
        if floating is float:
            cconv_conv2d_nhwc_pack_panels_f32(g, w + (item // 2) * w_group, w_stride,
                                              (item % 2) * half,
                                              min(g.out_channels, (item % 2 + 1) * half),
                                              panels + (item // 2) * panels_size)
        else:
            cconv_conv2d_nhwc_pack_panels_f64(g, w + (item // 2) * w_group, w_stride,
                                              (item % 2) * half,
                                              min(g.out_channels, (item % 2 + 1) * half),
                                              panels + (item // 2) * panels_size)


cdef inline int nhwc_forward_item(const floating *x, Py_ssize_t x_image, Py_ssize_t x_stride,
                                  const floating *panels, Py_ssize_t panels_size,
                                  const floating *bias, floating *y, Py_ssize_t y_image,
                                  Py_ssize_t y_stride, const cconv_conv2d_geometry *g,
                                  Py_ssize_t groups, Py_ssize_t blocks, Py_ssize_t rows,
                                  Py_ssize_t item, floating *ws) noexcept nogil:
    """Item (image, group, block of rows) of nhwc_forward_items; 1 when the
    thread has no workspace."""
    cdef Py_ssize_t n = item // (groups * blocks), gi = (item // blocks) % groups
    cdef Py_ssize_t b = item % blocks
    if ws == NULL:
        return 1
    if floating is float:
        cconv_conv2d_nhwc_forward_rows_f32(
            g, x + n * x_image + gi * g.channels, x_stride, panels + gi * panels_size,
            bias + gi * g.out_channels if bias != NULL else NULL,
            y + n * y_image + gi * g.out_channels, y_stride,
            b * rows, min(g.out_h, (b + 1) * rows), ws)
    else:
        cconv_conv2d_nhwc_forward_rows_f64(
            g, x + n * x_image + gi * g.channels, x_stride, panels + gi * panels_size,
            bias + gi * g.out_channels if bias != NULL else NULL,
            y + n * y_image + gi * g.out_channels, y_stride,
            b * rows, min(g.out_h, (b + 1) * rows), ws)
    return 0


cdef int conv2d_forward_nhwc(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] weight,
                             const floating[::1] bias, floating[:, :, :, ::1] out,
                             Py_ssize_t stride_h, Py_ssize_t stride_w,
                             Py_ssize_t pad_top, Py_ssize_t pad_left,
                             Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                             Py_ssize_t groups) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[3], K = out.shape[3]
    cdef cconv_conv2d_geometry g = conv_geometry(
        C // groups, x.shape[1], x.shape[2], K // groups, out.shape[1], out.shape[2],
        weight.shape[0], weight.shape[1], stride_h, stride_w, pad_top, pad_left,
        dilation_h, dilation_w)
    cdef const floating *bias_ptr = &bias[0] if bias.shape[0] > 0 else NULL
    if N == 0 or K == 0:
        return 0
    if K // groups < NHWC_LANES_MIN_CHANNELS and nhwc_planar_fits(&g, N, groups):
        return nhwc_planar_items(False, &x[0, 0, 0, 0], N, x.shape[1] * x.shape[2] * C, C,
                                 &weight[0, 0, 0, 0], K // groups, K, bias_ptr, &out[0, 0, 0, 0],
                                 out.shape[1] * out.shape[2] * K, K, &g, groups)
    return -1 if nhwc_forward_items(
        &x[0, 0, 0, 0], N, x.shape[1] * x.shape[2] * C, C, &weight[0, 0, 0, 0], K // groups, K,
        bias_ptr, &out[0, 0, 0, 0], out.shape[1] * out.shape[2] * K, K, &g, groups) else 0


# Input channels below which a stride-1 NHWC input gradient does not take the
# transposed forward (lanes along Cg, few of them filled): from 4 image groups
# on it goes through planes (nhwc_planar_items, 1.6-2.6x the scatter's
# speed), else the scatter path (lanes along taps, reduction over K) unless K
# is that small too (the scatter's reduction would be a few steps per call).
# Below as many output channels a stride-1 forward goes through planes too
# (64x1x28x28 K6 5x5: 1.65-1.86x the channel-lane forward's speed).
cdef enum:
    NHWC_LANES_MIN_CHANNELS = 16


# Stride-1 convs with under 16 channels on one side (the forward's outputs,
# the input gradient's inputs) run through planes (csrc/generic/
# conv2d_nhwc_planar.inc) once there are this many (image, group) items, both
# threads busy, and while one image's planes stay within this many elements
# (a few MB of per-thread workspace).
cdef enum:
    NHWC_PLANAR_MIN_ITEMS = 4
    NHWC_PLANAR_MAX_ELEMENTS = 1 << 20


cdef inline bint nhwc_planar_fits(const cconv_conv2d_geometry *g, Py_ssize_t N,
                                  Py_ssize_t groups) noexcept nogil:
    return (g.stride_h == 1 and g.stride_w == 1 and g.kernel_h * g.kernel_w > 1
            and g.channels > 0 and N * groups >= NHWC_PLANAR_MIN_ITEMS
            and g.channels * g.in_h * g.in_w + g.out_channels * g.out_h * g.out_w
            <= NHWC_PLANAR_MAX_ELEMENTS)


cdef int nhwc_planar_items(bint backward_input, const floating *src, Py_ssize_t N,
                           Py_ssize_t src_image, Py_ssize_t src_stride,
                           const floating *weight, Py_ssize_t w_group, Py_ssize_t w_stride,
                           const floating *bias, floating *dst, Py_ssize_t dst_image,
                           Py_ssize_t dst_stride, const cconv_conv2d_geometry *g,
                           Py_ssize_t groups) noexcept nogil:
    """Items (image, group) of the planar conv: g's forward, or with
    backward_input its input gradient (src dY, dst dX). Pointers are to
    element 0; group gi reads its channel slice of src, writes its slice of dst."""
    cdef cconv_conv2d_geometry p = (cconv_conv2d_nhwc_backward_input_geometry_f32(g)
                                    if backward_input else g[0])
    cdef Py_ssize_t packed_size, ws_size, item, n, gi
    cdef floating *packed
    cdef floating *ws
    cdef int failures = 0
    if floating is float:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f32(&p))
        ws_size = cconv_conv2d_nhwc_planar_workspace_size_f32(&p)
    else:
        packed_size = whole_lines(cconv_conv2d_forward_packed_size_f64(&p))
        ws_size = cconv_conv2d_nhwc_planar_workspace_size_f64(&p)
    # the packs' scratch (a group's filter as K, C, R, S) after the packs
    packed = <floating *> cconv_aligned_malloc(
        (groups * packed_size + g.channels * g.kernel_h * g.kernel_w * g.out_channels)
        * sizeof(floating))
    if packed == NULL:
        return -1
    for gi in range(groups):
        if floating is float:
            cconv_conv2d_nhwc_planar_pack_f32(g, backward_input, weight + gi * w_group, w_stride,
                                              packed + gi * packed_size,
                                              packed + groups * packed_size)
        else:
            cconv_conv2d_nhwc_planar_pack_f64(g, backward_input, weight + gi * w_group, w_stride,
                                              packed + gi * packed_size,
                                              packed + groups * packed_size)
    with parallel(num_threads=threads_for(N * groups)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(N * groups, schedule='static'):
            if ws == NULL:
                failures += 1
            else:
                n = item // groups
                gi = item % groups
                if floating is float:
                    cconv_conv2d_nhwc_planar_f32(
                        &p, src + n * src_image + gi * p.channels, src_stride,
                        packed + gi * packed_size,
                        bias + gi * p.out_channels if bias != NULL else NULL,
                        dst + n * dst_image + gi * p.out_channels, dst_stride, ws)
                else:
                    cconv_conv2d_nhwc_planar_f64(
                        &p, src + n * src_image + gi * p.channels, src_stride,
                        packed + gi * packed_size,
                        bias + gi * p.out_channels if bias != NULL else NULL,
                        dst + n * dst_image + gi * p.out_channels, dst_stride, ws)
        cconv_aligned_free(ws)
    cconv_aligned_free(packed)
    return -1 if failures else 0


cdef int nhwc_backward_input_phases(const floating *gy, Py_ssize_t N, Py_ssize_t gy_image,
                                    Py_ssize_t gy_stride, const floating *weight,
                                    Py_ssize_t w_stride, floating *gx, Py_ssize_t gx_image,
                                    Py_ssize_t gx_stride,
                                    const cconv_conv2d_geometry *g,
                                    Py_ssize_t groups) noexcept nogil:
    """Strides 2..8, as the NCHW input gradient (backward_input_phases): each
    phase of dX one stride-1 channels-last forward of dY
    (csrc/generic/conv2d_nhwc_backward_input_phases.inc); items (image, group).
    Pointers are to element 0; group gi reads its K slice of dY and filter
    columns (filter rows w_stride apart), writes its C slice of dX."""
    cdef Py_ssize_t phases = g.stride_h * g.stride_w
    cdef Py_ssize_t packed_size, ws_size, item, n, gi
    cdef floating *packed
    cdef floating *ws
    cdef int failures = 0
    if floating is float:
        packed_size = whole_lines(cconv_conv2d_nhwc_phases_packed_size_f32(g))
        ws_size = cconv_conv2d_nhwc_phases_workspace_size_f32(g)
    else:
        packed_size = whole_lines(cconv_conv2d_nhwc_phases_packed_size_f64(g))
        ws_size = cconv_conv2d_nhwc_phases_workspace_size_f64(g)
    packed = <floating *> cconv_aligned_malloc(groups * packed_size * sizeof(floating))
    if packed == NULL:
        return -1
    # (group, phase) packs on every thread
    for item in prange(groups * phases, schedule='dynamic',
                       num_threads=threads_for(groups * phases)):
        if floating is float:
            cconv_conv2d_nhwc_phases_pack_f32(g, weight + (item // phases) * g.out_channels,
                                              w_stride, item % phases,
                                              packed + (item // phases) * packed_size)
        else:
            cconv_conv2d_nhwc_phases_pack_f64(g, weight + (item // phases) * g.out_channels,
                                              w_stride, item % phases,
                                              packed + (item // phases) * packed_size)
    with parallel(num_threads=threads_for(N * groups)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(N * groups, schedule='dynamic'):
            if ws == NULL:
                failures += 1
            else:
                n = item // groups
                gi = item % groups
                if floating is float:
                    cconv_conv2d_nhwc_phases_image_f32(
                        g, gy + n * gy_image + gi * g.out_channels, gy_stride,
                        packed + gi * packed_size, gx + n * gx_image + gi * g.channels,
                        gx_stride, ws)
                else:
                    cconv_conv2d_nhwc_phases_image_f64(
                        g, gy + n * gy_image + gi * g.out_channels, gy_stride,
                        packed + gi * packed_size, gx + n * gx_image + gi * g.channels,
                        gx_stride, ws)
        cconv_aligned_free(ws)
    cconv_aligned_free(packed)
    return -1 if failures else 0


cdef int conv2d_backward_input_nhwc(const floating[:, :, :, ::1] grad_output,
                                    const floating[:, :, :, ::1] weight,
                                    floating[:, :, :, ::1] grad_input,
                                    Py_ssize_t stride_h, Py_ssize_t stride_w,
                                    Py_ssize_t pad_top, Py_ssize_t pad_left,
                                    Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                    Py_ssize_t groups) noexcept nogil:
    cdef Py_ssize_t N = grad_input.shape[0], C = grad_input.shape[3], K = grad_output.shape[3]
    cdef Py_ssize_t Cg = C // groups, Kg = K // groups
    cdef cconv_conv2d_geometry g = conv_geometry(
        Cg, grad_input.shape[1], grad_input.shape[2], Kg, grad_output.shape[1],
        grad_output.shape[2], weight.shape[0], weight.shape[1], stride_h, stride_w,
        pad_top, pad_left, dilation_h, dilation_w)
    cdef cconv_conv2d_geometry t
    cdef Py_ssize_t size = weight.shape[0] * weight.shape[1] * Cg * Kg, gi, n, ws_size
    cdef Py_ssize_t gx_image = grad_input.shape[1] * grad_input.shape[2] * C
    cdef Py_ssize_t gy_image = grad_output.shape[1] * grad_output.shape[2] * K
    cdef floating *packed
    cdef floating *ws
    cdef int failures = 0
    if N == 0:
        return 0
    if Kg == 0:
        memset(&grad_input[0, 0, 0, 0], 0, N * gx_image * sizeof(floating))
        return 0
    if Cg < NHWC_LANES_MIN_CHANNELS and nhwc_planar_fits(&g, N, groups):
        return nhwc_planar_items(True, &grad_output[0, 0, 0, 0], N, gy_image, K,
                                 &weight[0, 0, 0, 0], Kg, K, NULL, &grad_input[0, 0, 0, 0],
                                 gx_image, C, &g, groups)
    if ((stride_h > 1 or stride_w > 1) and stride_h <= CCONV_PHASES_MAX_STRIDE
            and stride_w <= CCONV_PHASES_MAX_STRIDE and g.kernel_h * g.kernel_w > 1
            and N * groups >= PHASES_MIN_IMAGES and Cg * g.in_h * g.in_w <= PHASES_MAX_IMAGE):
        return nhwc_backward_input_phases(&grad_output[0, 0, 0, 0], N, gy_image, K,
                                          &weight[0, 0, 0, 0], K, &grad_input[0, 0, 0, 0],
                                          gx_image, C, &g, groups)
    # room for either packing: the flipped filter, or the tap-chunked transpose
    size = max(size, cconv_conv2d_nhwc_transposed_filter_size_f32(&g) if floating is float
           else cconv_conv2d_nhwc_transposed_filter_size_f64(&g))
    packed = <floating *> cconv_aligned_malloc(groups * size * sizeof(floating))
    if packed == NULL:
        return -1
    if stride_h == 1 and stride_w == 1 and (Cg >= NHWC_LANES_MIN_CHANNELS or
                                            Kg < NHWC_LANES_MIN_CHANNELS):
        # dX is the forward conv of dY with the flipped filter, channel roles swapped
        # (its vector lanes run along dX's Cg channels: few channels fill few lanes).
        t = cconv_conv2d_nhwc_backward_input_geometry_f32(&g)
        for gi in prange(groups, num_threads=threads_for(groups)):
            if floating is float:
                cconv_conv2d_nhwc_backward_input_pack_f32(&g, &weight[0, 0, 0, gi * Kg], K,
                                                          packed + gi * size)
            else:
                cconv_conv2d_nhwc_backward_input_pack_f64(&g, &weight[0, 0, 0, gi * Kg], K,
                                                          packed + gi * size)
        failures = nhwc_forward_items(&grad_output[0, 0, 0, 0], N, gy_image, K, packed, size, Cg,
                                      NULL, &grad_input[0, 0, 0, 0], gx_image, C, &t, groups)
    else:
        for gi in prange(groups, num_threads=threads_for(groups)):
            if floating is float:
                cconv_conv2d_nhwc_transpose_filter_f32(&g, &weight[0, 0, 0, gi * Kg], K,
                                                       packed + gi * size)
            else:
                cconv_conv2d_nhwc_transpose_filter_f64(&g, &weight[0, 0, 0, gi * Kg], K,
                                                       packed + gi * size)
        if floating is float:
            ws_size = cconv_conv2d_nhwc_backward_input_workspace_size_f32(&g)
        else:
            ws_size = cconv_conv2d_nhwc_backward_input_workspace_size_f64(&g)
        # Each image owns its dX, so scatters never race.
        with parallel(num_threads=threads_for(N)):
            ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
            for n in prange(N, schedule='static'):
                if ws == NULL:
                    failures += 1
                else:
                    for gi in range(groups):
                        if floating is float:
                            cconv_conv2d_nhwc_backward_input_scatter_f32(
                                &g, &grad_output[n, 0, 0, gi * Kg], K, packed + gi * size,
                                &grad_input[n, 0, 0, gi * Cg], C, ws)
                        else:
                            cconv_conv2d_nhwc_backward_input_scatter_f64(
                                &g, &grad_output[n, 0, 0, gi * Kg], K, packed + gi * size,
                                &grad_input[n, 0, 0, gi * Cg], C, ws)
            cconv_aligned_free(ws)
    cconv_aligned_free(packed)
    return -1 if failures else 0


cdef int conv2d_backward_weight_nhwc(const floating[:, :, :, ::1] grad_output,
                                     const floating[:, :, :, ::1] x,
                                     floating[:, :, :, ::1] grad_weight,
                                     Py_ssize_t stride_h, Py_ssize_t stride_w,
                                     Py_ssize_t pad_top, Py_ssize_t pad_left,
                                     Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                     Py_ssize_t groups) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[3], K = grad_weight.shape[3]
    cdef Py_ssize_t Cg = C // groups, Kg = K // groups
    cdef Py_ssize_t CRS = grad_weight.shape[0] * grad_weight.shape[1] * Cg
    cdef cconv_conv2d_geometry g = conv_geometry(
        Cg, x.shape[1], x.shape[2], Kg, grad_output.shape[1], grad_output.shape[2],
        grad_weight.shape[0], grad_weight.shape[1], stride_h, stride_w, pad_top, pad_left,
        dilation_h, dilation_w)
    cdef Py_ssize_t per_block, blocks, items, item, gi, qb, n, ws_size
    cdef floating *ws
    cdef int failures = 0
    if CRS * K == 0:
        return 0
    memset(&grad_weight[0, 0, 0, 0], 0, CRS * K * sizeof(floating))
    if N == 0 or Kg == 0:
        return 0
    cdef bint blocks_fit
    if floating is float:
        blocks_fit = cconv_conv2d_nhwc_backward_weight_blocks_fit_f32(&g)
    else:
        blocks_fit = cconv_conv2d_nhwc_backward_weight_blocks_fit_f64(&g)
    if blocks_fit:
        return nhwc_backward_weight_blocks(&x[0, 0, 0, 0], N, x.shape[1] * x.shape[2] * C, C,
                                           &grad_output[0, 0, 0, 0],
                                           grad_output.shape[1] * grad_output.shape[2] * K, K,
                                           &grad_weight[0, 0, 0, 0], K, &g, groups)
    # Each item pads whole images, so use few, large blocks of filter taps.
    per_block = ceil_div(ceil_div(CRS, cconv_max_threads()), cconv_tile_mr()) * cconv_tile_mr()
    blocks = ceil_div(CRS, per_block)
    items = groups * blocks
    if floating is float:
        ws_size = cconv_conv2d_nhwc_backward_weight_workspace_size_f32(&g)
    else:
        ws_size = cconv_conv2d_nhwc_backward_weight_workspace_size_f64(&g)
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(items, schedule='static'):
            if ws == NULL:
                failures += 1
            else:
                gi = item // blocks
                qb = item % blocks
                for n in range(N):
                    if floating is float:
                        cconv_conv2d_nhwc_backward_weight_f32(
                            &g, &x[n, 0, 0, gi * Cg], C, &grad_output[n, 0, 0, gi * Kg], K,
                            &grad_weight[0, 0, 0, gi * Kg], K, qb * per_block,
                            min(CRS, (qb + 1) * per_block), ws)
                    else:
                        cconv_conv2d_nhwc_backward_weight_f64(
                            &g, &x[n, 0, 0, gi * Cg], C, &grad_output[n, 0, 0, gi * Kg], K,
                            &grad_weight[0, 0, 0, gi * Kg], K, qb * per_block,
                            min(CRS, (qb + 1) * per_block), ws)
        cconv_aligned_free(ws)
    return -1 if failures else 0


cdef int nhwc_backward_weight_blocks(const floating *x, Py_ssize_t N, Py_ssize_t x_image,
                                     Py_ssize_t x_stride, const floating *gy,
                                     Py_ssize_t gy_image, Py_ssize_t gy_stride,
                                     floating *gw, Py_ssize_t gw_stride,
                                     const cconv_conv2d_geometry *g,
                                     Py_ssize_t groups) noexcept nogil:
    """Weight gradient of groups with a multiple of NR channels, in (tap,
    channel block) units x panels of output channels: items split the units,
    then the panels, into about one item per thread (each sums its tiles over
    all images in order, so the split never changes a result). Pointers are
    to element 0; gw is zeroed."""
    cdef Py_ssize_t units, panels, unit_items, per_unit, panel_items, per_panel, items
    cdef Py_ssize_t threads = cconv_max_threads(), item, gi, ui, ti, u0, u1, t0, t1, n
    cdef Py_ssize_t acc_size, ws_size
    cdef floating *acc
    cdef int failures = 0
    if floating is float:
        units = cconv_conv2d_nhwc_backward_weight_units_f32(g)
        panels = cconv_conv2d_nhwc_backward_weight_panels_f32(g)
    else:
        units = cconv_conv2d_nhwc_backward_weight_units_f64(g)
        panels = cconv_conv2d_nhwc_backward_weight_panels_f64(g)
    unit_items = min(units, ceil_div(threads, groups))
    per_unit = ceil_div(units, unit_items)
    unit_items = ceil_div(units, per_unit)
    panel_items = min(panels, ceil_div(threads, groups * unit_items))
    per_panel = ceil_div(panels, panel_items)
    panel_items = ceil_div(panels, per_panel)
    items = groups * unit_items * panel_items
    if floating is float:
        acc_size = whole_lines(
            cconv_conv2d_nhwc_backward_weight_blocks_accumulator_size_f32(per_unit, per_panel))
        ws_size = cconv_conv2d_nhwc_backward_weight_blocks_workspace_size_f32(g, per_panel)
    else:
        acc_size = whole_lines(
            cconv_conv2d_nhwc_backward_weight_blocks_accumulator_size_f64(per_unit, per_panel))
        ws_size = cconv_conv2d_nhwc_backward_weight_blocks_workspace_size_f64(g, per_panel)
    with parallel(num_threads=threads_for(items)):
        acc = <floating *> cconv_aligned_malloc((acc_size + ws_size) * sizeof(floating))
        for item in prange(items, schedule='static'):
            if acc == NULL:
                failures += 1
            else:
                gi = item // (unit_items * panel_items)
                ui = (item // panel_items) % unit_items
                ti = item % panel_items
                u0 = ui * per_unit
                u1 = min(units, u0 + per_unit)
                t0 = ti * per_panel
                t1 = min(panels, t0 + per_panel)
                memset(acc, 0, acc_size * sizeof(floating))
                for n in range(N):
                    if floating is float:
                        cconv_conv2d_nhwc_backward_weight_blocks_f32(
                            g, x + n * x_image + gi * g.channels, x_stride,
                            gy + n * gy_image + gi * g.out_channels, gy_stride, u0, u1, t0, t1,
                            acc, acc + acc_size)
                    else:
                        cconv_conv2d_nhwc_backward_weight_blocks_f64(
                            g, x + n * x_image + gi * g.channels, x_stride,
                            gy + n * gy_image + gi * g.out_channels, gy_stride, u0, u1, t0, t1,
                            acc, acc + acc_size)
                if floating is float:
                    cconv_conv2d_nhwc_backward_weight_blocks_store_f32(
                        g, acc, u0, u1, t0, t1, gw + gi * g.out_channels, gw_stride)
                else:
                    cconv_conv2d_nhwc_backward_weight_blocks_store_f64(
                        g, acc, u0, u1, t0, t1, gw + gi * g.out_channels, gw_stride)
        cconv_aligned_free(acc)
    return -1 if failures else 0


cdef extern from "bias_grad_nhwc.h" nogil:
    enum:
        CCONV_BIAS_GRAD_CHANNELS
    void cconv_bias_grad_nhwc_f32(const float *gy, int64_t rows, int64_t K, int64_t k0,
                                  int64_t k1, float *out)
    void cconv_bias_grad_nhwc_f64(const double *gy, int64_t rows, int64_t K, int64_t k0,
                                  int64_t k1, double *out)


cdef int conv2d_backward_bias_nhwc(const floating[:, :, :, ::1] grad_output,
                                   floating[::1] grad_bias) noexcept nogil:
    """Sums in double (fp32 sums over N*P terms lose digits), row by row over
    blocks of channels: the threads split the channels, never a sum."""
    cdef Py_ssize_t K = grad_output.shape[3]
    cdef Py_ssize_t rows = grad_output.shape[0] * grad_output.shape[1] * grad_output.shape[2]
    cdef Py_ssize_t block = CCONV_BIAS_GRAD_CHANNELS, b, k0
    cdef Py_ssize_t blocks = ceil_div(K, block)
    if rows == 0:
        for b in range(K):
            grad_bias[b] = 0
        return 0
    cdef const floating *data = &grad_output[0, 0, 0, 0]
    # split channel blocks finer when they are too few for the threads
    if blocks < cconv_max_threads() and K >= 32:
        block = ceil_div(K, cconv_max_threads())
        blocks = ceil_div(K, block)
    for b in prange(blocks, num_threads=threads_for(blocks), schedule='static'):
        k0 = b * block
        if floating is float:
            cconv_bias_grad_nhwc_f32(data, rows, K, k0, min(K, k0 + block), &grad_bias[k0])
        else:
            cconv_bias_grad_nhwc_f64(data, rows, K, k0, min(K, k0 + block), &grad_bias[k0])
    return 0


def run_conv2d_forward_nhwc(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] weight,
                            const floating[::1] bias, floating[:, :, :, ::1] out,
                            Py_ssize_t stride_h, Py_ssize_t stride_w,
                            Py_ssize_t pad_top, Py_ssize_t pad_left,
                            Py_ssize_t dilation_h, Py_ssize_t dilation_w, Py_ssize_t groups):
    """NHWC x, HWIO weight, NHWC out; arguments already validated by cconv.functional."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_forward_nhwc(x, weight, bias, out, stride_h, stride_w, pad_top,
                                     pad_left, dilation_h, dilation_w, groups)
        cconv_leave_call()
    _raise_on_failure(status)


def run_conv2d_backward_input_nhwc(const floating[:, :, :, ::1] grad_output,
                                   const floating[:, :, :, ::1] weight,
                                   floating[:, :, :, ::1] grad_input,
                                   Py_ssize_t stride_h, Py_ssize_t stride_w,
                                   Py_ssize_t pad_top, Py_ssize_t pad_left,
                                   Py_ssize_t dilation_h, Py_ssize_t dilation_w, Py_ssize_t groups):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_backward_input_nhwc(grad_output, weight, grad_input, stride_h, stride_w,
                                            pad_top, pad_left, dilation_h, dilation_w, groups)
        cconv_leave_call()
    _raise_on_failure(status)


def run_conv2d_backward_weight_nhwc(const floating[:, :, :, ::1] grad_output,
                                    const floating[:, :, :, ::1] x,
                                    floating[:, :, :, ::1] grad_weight,
                                    Py_ssize_t stride_h, Py_ssize_t stride_w,
                                    Py_ssize_t pad_top, Py_ssize_t pad_left,
                                    Py_ssize_t dilation_h, Py_ssize_t dilation_w, Py_ssize_t groups):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_backward_weight_nhwc(grad_output, x, grad_weight, stride_h, stride_w,
                                             pad_top, pad_left, dilation_h, dilation_w, groups)
        cconv_leave_call()
    _raise_on_failure(status)


def run_conv2d_backward_bias_nhwc(const floating[:, :, :, ::1] grad_output,
                                  floating[::1] grad_bias):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = conv2d_backward_bias_nhwc(grad_output, grad_bias)
        cconv_leave_call()
    _raise_on_failure(status)
