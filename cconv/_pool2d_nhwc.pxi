# Channels-last (NHWC) max and average pooling.
#
# The channel axis is contiguous, so every loop runs innermost over channels:
# a window visits its taps one after another and each tap updates a whole
# row of C accumulators, a loop the compiler vectorises. Work items are
# (image, output row) for the forwards; the backwards scatter into the input
# (max pooling's in C, zeroing grad_input just ahead of the scatter), so their
# items are whole images (no two threads touch one element, and the
# sums keep one order: results do not depend on the thread count).
# Padding is given as the leading (top, left) amounts; windows are clipped to
# the input, so trailing padding follows from the output size (TF's SAME).


cdef extern from * nogil:
    """
    void cconv_max_pool2d_nhwc_row_f32(const float *x, int64_t W, int64_t C,
        int64_t ih0, int64_t ih1, int64_t dh, int64_t OW, int64_t kernel_w, int64_t stride_w,
        int64_t pad_left, int64_t dw, float *out, int64_t *index);
    void cconv_max_pool2d_nhwc_row_f64(const double *x, int64_t W, int64_t C,
        int64_t ih0, int64_t ih1, int64_t dh, int64_t OW, int64_t kernel_w, int64_t stride_w,
        int64_t pad_left, int64_t dw, double *out, int64_t *index);
    int cconv_max_pool2d_nhwc_backward_image_f32(const float *grad_output,
        const int64_t *index, int64_t P, int64_t C, int64_t HW, float *grad_input);
    int cconv_max_pool2d_nhwc_backward_image_f64(const double *grad_output,
        const int64_t *index, int64_t P, int64_t C, int64_t HW, double *grad_input);
    void cconv_avg_pool2d_nhwc_pixel_f32(const float *x, int64_t W, int64_t C, int64_t ih0,
        int64_t ih1, int64_t iw0, int64_t iw1, float scale, float *out);
    void cconv_avg_pool2d_nhwc_pixel_f64(const double *x, int64_t W, int64_t C, int64_t ih0,
        int64_t ih1, int64_t iw0, int64_t iw1, double scale, double *out);
    """
    void cconv_max_pool2d_nhwc_row_f32(const float *x, int64_t W, int64_t C,
        int64_t ih0, int64_t ih1, int64_t dh, int64_t OW, int64_t kernel_w, int64_t stride_w,
        int64_t pad_left, int64_t dw, float *out, int64_t *index)
    void cconv_max_pool2d_nhwc_row_f64(const double *x, int64_t W, int64_t C,
        int64_t ih0, int64_t ih1, int64_t dh, int64_t OW, int64_t kernel_w, int64_t stride_w,
        int64_t pad_left, int64_t dw, double *out, int64_t *index)
    int cconv_max_pool2d_nhwc_backward_image_f32(const float *grad_output,
        const int64_t *index, int64_t P, int64_t C, int64_t HW, float *grad_input)
    int cconv_max_pool2d_nhwc_backward_image_f64(const double *grad_output,
        const int64_t *index, int64_t P, int64_t C, int64_t HW, double *grad_input)
    void cconv_avg_pool2d_nhwc_pixel_f32(const float *x, int64_t W, int64_t C, int64_t ih0,
        int64_t ih1, int64_t iw0, int64_t iw1, float scale, float *out)
    void cconv_avg_pool2d_nhwc_pixel_f64(const double *x, int64_t W, int64_t C, int64_t ih0,
        int64_t ih1, int64_t iw0, int64_t iw1, double scale, double *out)


cdef inline Py_ssize_t first_tap(Py_ssize_t start, Py_ssize_t step, Py_ssize_t limit) noexcept nogil:
    """The first of start, start + step, ... that is >= 0 (or `limit` when none is < limit)."""
    if start >= 0:
        return start
    start = start + ((-start + step - 1) // step) * step
    return start if start < limit else limit


cdef int max_pool2d_forward_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                                 int64_t[:, :, :, ::1] indices,
                                 Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                 Py_ssize_t stride_h, Py_ssize_t stride_w,
                                 Py_ssize_t pad_top, Py_ssize_t pad_left,
                                 Py_ssize_t dilation_h, Py_ssize_t dilation_w) noexcept nogil:
    """out[n, oh, ow, c] = max over the window; indices = ih * W + iw of the
    first maximum (NaN wins and propagates, as torch). The window may have at
    most 2^31 - 1 taps (cconv.functional checks)."""
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t item, n, oh, h0, ih0, ih1
    for item in prange(N * OH, schedule="static", num_threads=threads_for(N * OH // 4 + 1)):
        n = item // OH
        oh = item % OH
        h0 = oh * stride_h - pad_top
        ih0 = first_tap(h0, dilation_h, H)
        ih1 = min(h0 + (kernel_h - 1) * dilation_h + 1, H)
        if floating is float:
            cconv_max_pool2d_nhwc_row_f32(&x[n, 0, 0, 0], W, C, ih0, max(ih0, ih1), dilation_h,
                                          OW, kernel_w, stride_w, pad_left, dilation_w,
                                          &out[n, oh, 0, 0], &indices[n, oh, 0, 0])
        else:
            cconv_max_pool2d_nhwc_row_f64(&x[n, 0, 0, 0], W, C, ih0, max(ih0, ih1), dilation_h,
                                          OW, kernel_w, stride_w, pad_left, dilation_w,
                                          &out[n, oh, 0, 0], &indices[n, oh, 0, 0])
    return 0


cdef int max_pool2d_backward_nhwc(const floating[:, :, :, ::1] grad_output,
                                  const int64_t[:, :, :, ::1] indices,
                                  floating[:, :, :, ::1] grad_input) noexcept nogil:
    """grad_input[n, idx // W, idx % W, c] += grad_output[n, oh, ow, c];
    BAD_INDEX at an index outside [0, H*W)."""
    cdef Py_ssize_t N = grad_input.shape[0], H = grad_input.shape[1], W = grad_input.shape[2]
    cdef Py_ssize_t C = grad_input.shape[3], OH = grad_output.shape[1], OW = grad_output.shape[2]
    cdef Py_ssize_t n
    cdef int bad_images = 0
    for n in prange(N, schedule="static", num_threads=threads_for(N)):
        if floating is float:
            bad_images += cconv_max_pool2d_nhwc_backward_image_f32(
                &grad_output[n, 0, 0, 0], &indices[n, 0, 0, 0], OH * OW, C, H * W,
                &grad_input[n, 0, 0, 0])
        else:
            bad_images += cconv_max_pool2d_nhwc_backward_image_f64(
                &grad_output[n, 0, 0, 0], &indices[n, 0, 0, 0], OH * OW, C, H * W,
                &grad_input[n, 0, 0, 0])
    return BAD_INDEX if bad_images else 0


cdef inline Py_ssize_t avg_divisor(Py_ssize_t h0, Py_ssize_t h1, Py_ssize_t w0, Py_ssize_t w1,
                                   Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad_top,
                                   Py_ssize_t pad_left, bint count_include_pad,
                                   Py_ssize_t divisor_override) noexcept nogil:
    """torch's divisor for the window [h0, h1) x [w0, w1) before clipping: the
    window within input and padding (symmetric padding) or within the input."""
    if divisor_override > 0:
        return divisor_override
    if count_include_pad:
        return (min(h1, H + pad_top) - h0) * (min(w1, W + pad_left) - w0)
    return (min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0))


cdef int avg_pool2d_forward_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                                 Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                 Py_ssize_t stride_h, Py_ssize_t stride_w,
                                 Py_ssize_t pad_top, Py_ssize_t pad_left,
                                 bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t item, n, oh, ow, h0, w0, divisor
    cdef floating scale
    for item in prange(N * OH, schedule="static", num_threads=threads_for(N * OH // 4 + 1)):
        n = item // OH
        oh = item % OH
        h0 = oh * stride_h - pad_top
        for ow in range(OW):
            w0 = ow * stride_w - pad_left
            divisor = avg_divisor(h0, h0 + kernel_h, w0, w0 + kernel_w, H, W, pad_top, pad_left,
                                  count_include_pad, divisor_override)
            scale = (<floating> 1) / divisor if divisor > 0 else 0
            if floating is float:
                cconv_avg_pool2d_nhwc_pixel_f32(&x[n, 0, 0, 0], W, C, max(h0, 0),
                                                min(h0 + kernel_h, H), max(w0, 0),
                                                min(w0 + kernel_w, W), scale, &out[n, oh, ow, 0])
            else:
                cconv_avg_pool2d_nhwc_pixel_f64(&x[n, 0, 0, 0], W, C, max(h0, 0),
                                                min(h0 + kernel_h, H), max(w0, 0),
                                                min(w0 + kernel_w, W), scale, &out[n, oh, ow, 0])
    return 0


cdef int avg_pool2d_backward_nhwc(const floating[:, :, :, ::1] grad_output,
                                  floating[:, :, :, ::1] grad_input,
                                  Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                  Py_ssize_t stride_h, Py_ssize_t stride_w,
                                  Py_ssize_t pad_top, Py_ssize_t pad_left,
                                  bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t N = grad_input.shape[0], H = grad_input.shape[1], W = grad_input.shape[2]
    cdef Py_ssize_t C = grad_input.shape[3], OH = grad_output.shape[1], OW = grad_output.shape[2]
    cdef Py_ssize_t n, oh, ow, h0, w0, ih, iw, c, k, divisor
    cdef floating *gi
    cdef const floating *g
    cdef floating scale
    for n in prange(N, schedule="static", num_threads=threads_for(N)):
        gi = &grad_input[n, 0, 0, 0]
        for k in range(H * W * C):
            gi[k] = 0
        for oh in range(OH):
            h0 = oh * stride_h - pad_top
            for ow in range(OW):
                w0 = ow * stride_w - pad_left
                divisor = avg_divisor(h0, h0 + kernel_h, w0, w0 + kernel_w, H, W, pad_top,
                                      pad_left, count_include_pad, divisor_override)
                if divisor <= 0:
                    continue
                scale = (<floating> 1) / divisor
                g = &grad_output[n, oh, ow, 0]
                for ih in range(max(h0, 0), min(h0 + kernel_h, H)):
                    for iw in range(max(w0, 0), min(w0 + kernel_w, W)):
                        for c in range(C):
                            gi[(ih * W + iw) * C + c] += g[c] * scale
    return 0


# ---- Python entry points (cconv.functional validates and allocates first) ---------------

def run_max_pool2d_forward_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                                int64_t[:, :, :, ::1] indices,
                                Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                Py_ssize_t stride_h, Py_ssize_t stride_w,
                                Py_ssize_t pad_top, Py_ssize_t pad_left,
                                Py_ssize_t dilation_h, Py_ssize_t dilation_w):
    with nogil:
        cconv_enter_call()
        max_pool2d_forward_nhwc(x, out, indices, kernel_h, kernel_w, stride_h, stride_w,
                                pad_top, pad_left, dilation_h, dilation_w)
        cconv_leave_call()


def run_max_pool2d_backward_nhwc(const floating[:, :, :, ::1] grad_output,
                                 const int64_t[:, :, :, ::1] indices,
                                 floating[:, :, :, ::1] grad_input):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = max_pool2d_backward_nhwc(grad_output, indices, grad_input)
        cconv_leave_call()
    if status == BAD_INDEX:
        raise index_error(indices, grad_input.shape[1] * grad_input.shape[2])


def run_avg_pool2d_forward_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                                Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                Py_ssize_t stride_h, Py_ssize_t stride_w,
                                Py_ssize_t pad_top, Py_ssize_t pad_left,
                                bint count_include_pad, Py_ssize_t divisor_override):
    with nogil:
        cconv_enter_call()
        avg_pool2d_forward_nhwc(x, out, kernel_h, kernel_w, stride_h, stride_w, pad_top,
                                pad_left, count_include_pad, divisor_override)
        cconv_leave_call()


def run_avg_pool2d_backward_nhwc(const floating[:, :, :, ::1] grad_output,
                                 floating[:, :, :, ::1] grad_input,
                                 Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                 Py_ssize_t stride_h, Py_ssize_t stride_w,
                                 Py_ssize_t pad_top, Py_ssize_t pad_left,
                                 bint count_include_pad, Py_ssize_t divisor_override):
    with nogil:
        cconv_enter_call()
        avg_pool2d_backward_nhwc(grad_output, grad_input, kernel_h, kernel_w, stride_h,
                                 stride_w, pad_top, pad_left, count_include_pad,
                                 divisor_override)
        cconv_leave_call()
