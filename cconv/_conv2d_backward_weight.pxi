# conv2d gradient w.r.t. the weights: how dW is split into work items.
#
# Every work item owns a block of dW (output channels x im2col rows) and sums
# all images into it in order, so no two threads touch one element and the
# result does not depend on the thread count. Convs whose output channels
# fill the vector width (or fit in one vector) take the channel-lane kernel
# (one call per item over all images); the rest take the dot kernel image by
# image. The channel-lane kernel can add up the bias gradient too, from the
# dY^T it builds anyway (conv2d_backward_weight_bias); other paths leave it
# to conv2d_backward_bias.


cdef int conv2d_backward_weight(const floating[:, :, :, ::1] grad_output,
                                const floating[:, :, :, ::1] x,
                                floating[:, :, :, ::1] grad_weight,
                                Py_ssize_t stride_h, Py_ssize_t stride_w,
                                Py_ssize_t pad_top, Py_ssize_t pad_left,
                                Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                Py_ssize_t groups) noexcept nogil:
    return conv2d_backward_weight_bias(grad_output, x, grad_weight, NULL, stride_h, stride_w,
                                       pad_top, pad_left, dilation_h, dilation_w, groups)


cdef int conv2d_backward_weight_bias(const floating[:, :, :, ::1] grad_output,
                                     const floating[:, :, :, ::1] x,
                                     floating[:, :, :, ::1] grad_weight, floating *grad_bias,
                                     Py_ssize_t stride_h, Py_ssize_t stride_w,
                                     Py_ssize_t pad_top, Py_ssize_t pad_left,
                                     Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                     Py_ssize_t groups) noexcept nogil:
    """dW, and grad_bias (K sums over images and pixels) unless it is NULL."""
    cdef int status = backward_weight_paths(grad_output, x, grad_weight, grad_bias, stride_h,
                                            stride_w, pad_top, pad_left, dilation_h,
                                            dilation_w, groups)
    if status == BIAS_LEFT:
        return plane_sums(grad_output, grad_bias)
    return status


cdef enum:
    BIAS_LEFT = 1  # backward_weight_paths: dW done, the bias gradient still to sum


cdef int backward_weight_paths(const floating[:, :, :, ::1] grad_output,
                               const floating[:, :, :, ::1] x,
                               floating[:, :, :, ::1] grad_weight, floating *grad_bias,
                               Py_ssize_t stride_h, Py_ssize_t stride_w,
                               Py_ssize_t pad_top, Py_ssize_t pad_left,
                               Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                               Py_ssize_t groups) noexcept nogil:
    """dW by the path its shape takes: 0 (or -1 when out of memory), or
    BIAS_LEFT when grad_bias was asked for and that path did not sum it."""
    cdef Py_ssize_t N = x.shape[0], Cg = x.shape[1] // groups
    cdef Py_ssize_t Kg = grad_weight.shape[0] // groups
    cdef Py_ssize_t CRS = Cg * grad_weight.shape[2] * grad_weight.shape[3]
    cdef Py_ssize_t total = grad_weight.shape[0] * CRS
    cdef Py_ssize_t lanes = CCONV_NR_F32 if floating is float else CCONV_NR_F64
    cdef Py_ssize_t tile
    cdef cconv_conv2d_geometry g = conv_geometry(
        Cg, x.shape[2], x.shape[3], Kg, grad_output.shape[2], grad_output.shape[3],
        grad_weight.shape[2], grad_weight.shape[3], stride_h, stride_w, pad_top, pad_left,
        dilation_h, dilation_w)
    cdef int status
    if total > 0:
        memset(&grad_weight[0, 0, 0, 0], 0, total * sizeof(floating))
    if total == 0 or N == 0 or g.out_h * g.out_w == 0:
        return BIAS_LEFT if grad_bias != NULL else 0
    # Channel lanes at any stride (an unpadded stride-1 1x1 conv reads x in place):
    # whole tiles of the selected kernels (64 floats with AVX-512) where K allows.
    tile = cconv_tile_nr_f32() if floating is float else cconv_tile_nr_f64()
    if Kg % tile == 0:
        return backward_weight_lanes(grad_output, x, grad_weight, grad_bias, &g, groups, tile)
    if Kg % lanes == 0:
        return backward_weight_lanes(grad_output, x, grad_weight, grad_bias, &g, groups, lanes)
    if (floating is float and Kg < lanes and groups == 1 and stride_h == 1 and stride_w == 1
            and N > IMAGES_PER_BLOCK):
        # first layers (K = 6) at stride 1: pixels in the lanes (dot_rows), 2.4x
        # the masked channel lanes below; from two image blocks on (a choice by
        # shape, never by thread count, keeps results bitwise the same)
        status = backward_weight_by_images(grad_output, x, grad_weight, NULL, &g, Kg, True)
    elif Kg < lanes:  # first layers (K = 6): masked lanes still beat the dot kernel 2x
        return backward_weight_lanes(grad_output, x, grad_weight, grad_bias, &g, groups, Kg)
    else:
        status = backward_weight_dot(grad_output, x, grad_weight, &g, groups)
    return BIAS_LEFT if status == 0 and grad_bias != NULL else status


cdef int backward_weight_lanes(const floating[:, :, :, ::1] grad_output,
                               const floating[:, :, :, ::1] x,
                               floating[:, :, :, ::1] grad_weight, floating *grad_bias,
                               const cconv_conv2d_geometry *g, Py_ssize_t groups,
                               Py_ssize_t lanes) noexcept nogil:
    """Items are (group, run of `lanes`-channel blocks, block of im2col rows):
    as many runs as threads, as every item pads every image's rows for its
    taps and builds dY^T for its channels (16 blocks of 16 channels, one item
    each, padded the 8x128x28x28 K256 stride-2 layer's input 16 times: a
    fifth of its dW); one block of rows when the runs feed every thread, and
    no more blocks than threads otherwise. The first row block of a run also
    sums its channels' bias gradient (when grad_bias is not NULL). Each dW
    cell sums images, then pixels, in order, whatever the split."""
    cdef Py_ssize_t N = x.shape[0], Cg = g.channels, Kg = g.out_channels
    cdef Py_ssize_t CRS = Cg * g.kernel_h * g.kernel_w
    cdef Py_ssize_t threads = cconv_max_threads()
    cdef Py_ssize_t runs = min(Kg // lanes, max(1, ceil_div(threads, groups)))
    cdef Py_ssize_t run_blocks = ceil_div(Kg // lanes, runs)
    cdef Py_ssize_t k_runs = ceil_div(Kg // lanes, run_blocks)  # each of whole blocks
    cdef Py_ssize_t k_run = run_blocks * lanes
    cdef Py_ssize_t mr = cconv_tile_mr()  # blocks of whole tiles
    cdef Py_ssize_t row_blocks = max(1, min(ceil_div(CRS, mr),
                                            ceil_div(threads, groups * k_runs)))
    cdef Py_ssize_t rows = ceil_div(ceil_div(CRS, row_blocks), mr) * mr
    cdef Py_ssize_t items, item, gi, qb, kb, ws_size, i, k0, k1
    cdef Py_ssize_t x_stride = x.shape[1] * x.shape[2] * x.shape[3]
    cdef Py_ssize_t gy_stride = grad_output.shape[1] * grad_output.shape[2] * grad_output.shape[3]
    cdef floating *ws
    cdef double *sums
    cdef int failures = 0
    row_blocks = ceil_div(CRS, rows)
    items = groups * k_runs * row_blocks
    # One channel block: split the images, not the taps (see below), when the
    # taps cannot be split (one tile of them) or the images make 4+ blocks
    # (fewer leave a thread idle for a block). Decided by shape alone: the
    # two ways sum in different orders.
    if (groups * (Kg // lanes) == 1 and N > IMAGES_PER_BLOCK
            and (CRS <= mr or N >= 4 * IMAGES_PER_BLOCK)):
        return backward_weight_by_images(grad_output, x, grad_weight, grad_bias, g, lanes,
                                         False)
    if floating is float:
        ws_size = cconv_conv2d_backward_weight_lanes_workspace_size_f32(g, rows, k_run)
    else:
        ws_size = cconv_conv2d_backward_weight_lanes_workspace_size_f64(g, rows, k_run)
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        sums = <double *> malloc(k_run * sizeof(double))
        for item in prange(items, schedule='static'):
            if ws == NULL or sums == NULL:
                failures += 1
            else:
                gi = item // (k_runs * row_blocks)
                kb = (item // row_blocks) % k_runs
                qb = item % row_blocks
                k0 = kb * k_run
                k1 = min(Kg, k0 + k_run)
                memset(sums, 0, k_run * sizeof(double))
                if floating is float:
                    cconv_conv2d_backward_weight_lanes_f32(
                        g, &x[0, gi * Cg, 0, 0], x_stride, &grad_output[0, gi * Kg, 0, 0],
                        gy_stride, N, &grad_weight[gi * Kg, 0, 0, 0], k0, k1,
                        qb * rows, min(CRS, (qb + 1) * rows), ws,
                        sums if grad_bias != NULL and qb == 0 else NULL)
                else:
                    cconv_conv2d_backward_weight_lanes_f64(
                        g, &x[0, gi * Cg, 0, 0], x_stride, &grad_output[0, gi * Kg, 0, 0],
                        gy_stride, N, &grad_weight[gi * Kg, 0, 0, 0], k0, k1,
                        qb * rows, min(CRS, (qb + 1) * rows), ws,
                        sums if grad_bias != NULL and qb == 0 else NULL)
                if grad_bias != NULL and qb == 0:
                    for i in range(k1 - k0):
                        grad_bias[gi * Kg + k0 + i] = <floating> sums[i]
        free(sums)
        cconv_aligned_free(ws)
    return -1 if failures else 0


# Images per partial sum when a layer's dW is one channel block (first
# layers: K = 6, 25 taps; K = 64 with every tap): fixed, so the order of the
# sums does not depend on the threads.
cdef enum:
    IMAGES_PER_BLOCK = 16
    PARTIALS_IN_ONE_WAVE_BYTES = 4 << 20


cdef int backward_weight_by_images(const floating[:, :, :, ::1] grad_output,
                                   const floating[:, :, :, ::1] x,
                                   floating[:, :, :, ::1] grad_weight, floating *grad_bias,
                                   const cconv_conv2d_geometry *g,
                                   Py_ssize_t lanes, bint pixel_lanes) noexcept nogil:
    """One group, one channel block: items are blocks of IMAGES_PER_BLOCK
    images, each summing into a partial dW of its own; the partials are added
    into dW in block order. Splitting the taps instead fed both threads but
    made each transpose every image's dY (64x32x26x26 K64: 1.05x by images,
    64x3x28x28 K16: 1.26x). Partials past PARTIALS_IN_ONE_WAVE_BYTES run in
    waves of one block per thread, so they take threads x dW, not
    N / IMAGES_PER_BLOCK x dW (one parallel region per wave cost a LeNet
    layer 5%); the order of the additions is the same whatever the wave. Each block runs the
    channel-lane kernel (`lanes` channels), which also sums each block's
    bias gradient when grad_bias is not NULL (added up as dW), or with
    `pixel_lanes` (float, stride 1) the dot_rows one (grad_bias: NULL)."""
    cdef Py_ssize_t N = x.shape[0], Kg = g.out_channels
    cdef Py_ssize_t CRS = g.channels * g.kernel_h * g.kernel_w, size = Kg * CRS
    cdef Py_ssize_t blocks = ceil_div(N, IMAGES_PER_BLOCK), b, i, n0, ws_size
    cdef Py_ssize_t wave = blocks, w0, w1
    if blocks * size * <Py_ssize_t>sizeof(floating) > PARTIALS_IN_ONE_WAVE_BYTES:
        wave = min(blocks, cconv_max_threads())
    cdef Py_ssize_t x_stride = x.shape[1] * x.shape[2] * x.shape[3]
    cdef Py_ssize_t gy_stride = grad_output.shape[1] * grad_output.shape[2] * grad_output.shape[3]
    cdef floating *gw = &grad_weight[0, 0, 0, 0]
    cdef floating *partial = <floating *> cconv_aligned_malloc(wave * size * sizeof(floating))
    cdef double *bias_partial = <double *> calloc(wave * Kg, sizeof(double))
    cdef double *bias_total = <double *> calloc(Kg, sizeof(double))
    cdef floating *ws
    cdef floating *mine
    cdef int failures = 0
    if partial == NULL or bias_partial == NULL or bias_total == NULL:
        cconv_aligned_free(partial)
        free(bias_partial)
        free(bias_total)
        return -1
    if floating is float:
        if pixel_lanes:
            ws_size = cconv_conv2d_backward_weight_rows_workspace_size_f32(g)
        else:
            ws_size = cconv_conv2d_backward_weight_lanes_workspace_size_f32(g, CRS, lanes)
    else:
        ws_size = cconv_conv2d_backward_weight_lanes_workspace_size_f64(g, CRS, lanes)
    w0 = 0
    while w0 < blocks:
        w1 = min(blocks, w0 + wave)
        with parallel(num_threads=threads_for(w1 - w0)):
            ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
            for b in prange(w0, w1, schedule='static'):
                if ws == NULL:
                    failures += 1
                else:
                    n0 = b * IMAGES_PER_BLOCK
                    mine = partial + (b - w0) * size
                    memset(bias_partial + (b - w0) * Kg, 0, Kg * sizeof(double))
                    if floating is float and pixel_lanes:
                        memset(mine, 0, size * sizeof(floating))
                        cconv_conv2d_backward_weight_rows_f32(
                            g, &x[n0, 0, 0, 0], x_stride, &grad_output[n0, 0, 0, 0], gy_stride,
                            min(IMAGES_PER_BLOCK, N - n0), mine, ws)
                    elif floating is float:
                        cconv_conv2d_backward_weight_lanes_f32(
                            g, &x[n0, 0, 0, 0], x_stride, &grad_output[n0, 0, 0, 0], gy_stride,
                            min(IMAGES_PER_BLOCK, N - n0), mine, 0, Kg, 0, CRS, ws,
                            bias_partial + (b - w0) * Kg if grad_bias != NULL else NULL)
                    else:
                        cconv_conv2d_backward_weight_lanes_f64(
                            g, &x[n0, 0, 0, 0], x_stride, &grad_output[n0, 0, 0, 0], gy_stride,
                            min(IMAGES_PER_BLOCK, N - n0), mine, 0, Kg, 0, CRS, ws,
                            bias_partial + (b - w0) * Kg if grad_bias != NULL else NULL)
            cconv_aligned_free(ws)
        if failures:
            break
        for b in range(w0, w1):
            mine = partial + (b - w0) * size
            if b == 0:
                memcpy(gw, mine, size * sizeof(floating))
            else:
                for i in range(size):
                    gw[i] += mine[i]
            for i in range(Kg):
                bias_total[i] += bias_partial[(b - w0) * Kg + i]
        w0 = w1
    if grad_bias != NULL and not failures:
        for i in range(Kg):
            grad_bias[i] = <floating> bias_total[i]
    cconv_aligned_free(partial)
    free(bias_partial)
    free(bias_total)
    return -1 if failures else 0


cdef int backward_weight_dot(const floating[:, :, :, ::1] grad_output,
                             const floating[:, :, :, ::1] x,
                             floating[:, :, :, ::1] grad_weight,
                             const cconv_conv2d_geometry *g_, Py_ssize_t groups) noexcept nogil:
    """Items are (group, block of WEIGHT_GRAD_ROWS im2col rows, block of
    output channels); each item walks the images one by one."""
    cdef cconv_conv2d_geometry g = g_[0]
    cdef Py_ssize_t N = x.shape[0], Cg = g.channels, Kg = g.out_channels
    cdef Py_ssize_t CRS = Cg * g.kernel_h * g.kernel_w
    cdef Py_ssize_t row_blocks, k_blocks, k_per_block, ws_size, items, item, n, gi, qb, kb
    cdef Py_ssize_t k0, k1, q0, q1
    cdef bint direct
    cdef floating *ws
    cdef int failures = 0
    row_blocks = ceil_div(CRS, WEIGHT_GRAD_ROWS)
    # Few im2col rows (first layers): split output channels instead.
    k_blocks = max(1, min(ceil_div(Kg, CCONV_DOT_MR),
                          ceil_div(cconv_max_threads() * 2, groups * row_blocks)))
    k_per_block = ceil_div(ceil_div(Kg, k_blocks), CCONV_DOT_MR) * CCONV_DOT_MR
    k_blocks = ceil_div(Kg, k_per_block)
    direct = g.stride_h == 1 and g.stride_w == 1 and g.kernel_h * g.kernel_w > 1
    if floating is float:
        if direct:
            ws_size = cconv_conv2d_backward_weight_direct_workspace_size_f32(
                &g, WEIGHT_GRAD_ROWS, k_per_block)
        else:
            ws_size = cconv_conv2d_backward_weight_workspace_size_f32(&g, WEIGHT_GRAD_ROWS)
    else:
        if direct:
            ws_size = cconv_conv2d_backward_weight_direct_workspace_size_f64(
                &g, WEIGHT_GRAD_ROWS, k_per_block)
        else:
            ws_size = cconv_conv2d_backward_weight_workspace_size_f64(&g, WEIGHT_GRAD_ROWS)
    items = groups * row_blocks * k_blocks
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(items, schedule='static'):
            if ws == NULL:
                failures += 1
            else:
                gi = item // (row_blocks * k_blocks)
                qb = (item // k_blocks) % row_blocks
                kb = item % k_blocks
                k0 = kb * k_per_block
                k1 = min(Kg, (kb + 1) * k_per_block)
                q0 = qb * WEIGHT_GRAD_ROWS
                q1 = min(CRS, (qb + 1) * WEIGHT_GRAD_ROWS)
                for n in range(N):
                    if floating is float:
                        if direct:
                            cconv_conv2d_backward_weight_direct_f32(
                                &g, &x[n, gi * Cg, 0, 0], &grad_output[n, gi * Kg, 0, 0],
                                &grad_weight[gi * Kg, 0, 0, 0], k0, k1, q0, q1, ws)
                        else:
                            cconv_conv2d_backward_weight_tile_f32(
                                &g, &x[n, gi * Cg, 0, 0], &grad_output[n, gi * Kg, 0, 0],
                                &grad_weight[gi * Kg, 0, 0, 0], k0, k1, q0, q1, ws)
                    else:
                        if direct:
                            cconv_conv2d_backward_weight_direct_f64(
                                &g, &x[n, gi * Cg, 0, 0], &grad_output[n, gi * Kg, 0, 0],
                                &grad_weight[gi * Kg, 0, 0, 0], k0, k1, q0, q1, ws)
                        else:
                            cconv_conv2d_backward_weight_tile_f64(
                                &g, &x[n, gi * Cg, 0, 0], &grad_output[n, gi * Kg, 0, 0],
                                &grad_weight[gi * Kg, 0, 0, 0], k0, k1, q0, q1, ws)
        cconv_aligned_free(ws)
    return -1 if failures else 0


