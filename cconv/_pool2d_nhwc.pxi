# Channels-last (NHWC) max and average pooling.
#
# The channel axis is contiguous, so every loop runs innermost over channels:
# a window visits its taps one after another and each tap updates a whole
# row of C accumulators, a loop the compiler vectorises. Work items are
# (image, output row) for the forwards; the backwards scatter into the input,
# so their items are whole images (no two threads touch one element, and the
# sums keep one order: results do not depend on the thread count).
# Padding is given as the leading (top, left) amounts; windows are clipped to
# the input, so trailing padding follows from the output size (TF's SAME).
from libc.math cimport isnan, INFINITY


cdef int max_pool2d_forward_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                                 int64_t[:, :, :, ::1] indices,
                                 Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                 Py_ssize_t stride_h, Py_ssize_t stride_w,
                                 Py_ssize_t pad_top, Py_ssize_t pad_left,
                                 Py_ssize_t dilation_h, Py_ssize_t dilation_w) noexcept nogil:
    """out[n, oh, ow, c] = max over the window; indices = ih * W + iw of the
    first maximum (NaN wins and propagates, as torch)."""
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t item, n, oh, ow, i, j, ih, iw, c
    cdef floating v
    cdef floating *o
    cdef int64_t *idx
    cdef const floating *row
    for item in prange(N * OH, schedule="static", num_threads=threads_for(N * OH // 4 + 1)):
        n = item // OH
        oh = item % OH
        for ow in range(OW):
            o = &out[n, oh, ow, 0]
            idx = &indices[n, oh, ow, 0]
            for c in range(C):
                o[c] = -INFINITY
                # torch's start index: the window's first position, even in padding
                idx[c] = (oh * stride_h - pad_top) * W + ow * stride_w - pad_left
            for i in range(kernel_h):
                ih = oh * stride_h - pad_top + i * dilation_h
                if ih < 0 or ih >= H:
                    continue
                for j in range(kernel_w):
                    iw = ow * stride_w - pad_left + j * dilation_w
                    if iw < 0 or iw >= W:
                        continue
                    row = &x[n, ih, iw, 0]
                    for c in range(C):
                        v = row[c]
                        if v > o[c] or isnan(v):
                            o[c] = v
                            idx[c] = ih * W + iw
    return 0


cdef int max_pool2d_backward_nhwc(const floating[:, :, :, ::1] grad_output,
                                  const int64_t[:, :, :, ::1] indices,
                                  floating[:, :, :, ::1] grad_input) noexcept nogil:
    """grad_input[n, idx // W, idx % W, c] += grad_output[n, oh, ow, c]; every
    index must lie in [0, H*W): the kernel trusts it."""
    cdef Py_ssize_t N = grad_input.shape[0], H = grad_input.shape[1], W = grad_input.shape[2]
    cdef Py_ssize_t C = grad_input.shape[3], OH = grad_output.shape[1], OW = grad_output.shape[2]
    cdef Py_ssize_t n, oh, ow, c, k
    cdef floating *gi
    for n in prange(N, schedule="static", num_threads=threads_for(N)):
        gi = &grad_input[n, 0, 0, 0]
        for k in range(H * W * C):
            gi[k] = 0
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    k = indices[n, oh, ow, c]
                    gi[k * C + c] += grad_output[n, oh, ow, c]
    return 0


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
    cdef Py_ssize_t item, n, oh, ow, h0, w0, ih, iw, c, divisor
    cdef floating *o
    cdef const floating *row
    cdef floating scale
    for item in prange(N * OH, schedule="static", num_threads=threads_for(N * OH // 4 + 1)):
        n = item // OH
        oh = item % OH
        h0 = oh * stride_h - pad_top
        for ow in range(OW):
            w0 = ow * stride_w - pad_left
            o = &out[n, oh, ow, 0]
            for c in range(C):
                o[c] = 0
            for ih in range(max(h0, 0), min(h0 + kernel_h, H)):
                for iw in range(max(w0, 0), min(w0 + kernel_w, W)):
                    row = &x[n, ih, iw, 0]
                    for c in range(C):
                        o[c] += row[c]
            divisor = avg_divisor(h0, h0 + kernel_h, w0, w0 + kernel_w, H, W, pad_top, pad_left,
                                  count_include_pad, divisor_override)
            scale = (<floating> 1) / divisor if divisor > 0 else 0
            for c in range(C):
                o[c] = o[c] * scale if divisor > 0 else 0
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
    with nogil:
        cconv_enter_call()
        max_pool2d_backward_nhwc(grad_output, indices, grad_input)
        cconv_leave_call()


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
