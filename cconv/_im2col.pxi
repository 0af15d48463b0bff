# im2col / col2im in the layout of the "Deep Learning from Scratch" helpers:
# col has one row per output position (n, oh, ow) and one column per filter tap
# (c, fh, fw), so col is (N*OH*OW, C*FH*FW) with OH = (H + 2*pad - FH)//stride + 1.
# col2im is the adjoint: it sums every patch back into a zeroed image.
#
# Both walk col row by row, so col (the big array, FH*FW times the image)
# streams through memory once, in order.
from cython.parallel cimport prange
from libc.string cimport memset


cdef inline void copy_taps(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    # Patches are a few elements wide: spelled out, the common widths cost a
    # few moves instead of a loop set-up each.
    if n == 3:
        dst[0] = src[0]
        dst[1] = src[1]
        dst[2] = src[2]
    elif n == 1:
        dst[0] = src[0]
    elif n == 2:
        dst[0] = src[0]
        dst[1] = src[1]
    else:
        for i in range(n):
            dst[i] = src[i]


cdef inline void add_taps(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    if n == 3:
        dst[0] += src[0]
        dst[1] += src[1]
        dst[2] += src[2]
    elif n == 1:
        dst[0] += src[0]
    elif n == 2:
        dst[0] += src[0]
        dst[1] += src[1]
    else:
        for i in range(n):
            dst[i] += src[i]


cdef inline void im2col_row(const floating *x, floating *dst, Py_ssize_t C, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t filter_h, Py_ssize_t filter_w,
                            Py_ssize_t ih0, Py_ssize_t iw0) noexcept nogil:
    """One col row: the patch of image x (C, H, W) whose top-left corner is (ih0, iw0)."""
    cdef Py_ssize_t c, fh, fw, ih, iw
    cdef const floating *src
    if ih0 >= 0 and iw0 >= 0 and ih0 + filter_h <= H and iw0 + filter_w <= W:
        for c in range(C):
            src = x + (c * H + ih0) * W + iw0
            for fh in range(filter_h):
                copy_taps(dst, src, filter_w)
                src += W
                dst += filter_w
        return
    for c in range(C):
        for fh in range(filter_h):
            ih = ih0 + fh
            if ih < 0 or ih >= H:
                for fw in range(filter_w):
                    dst[fw] = 0
            else:
                src = x + (c * H + ih) * W
                for fw in range(filter_w):
                    iw = iw0 + fw
                    dst[fw] = src[iw] if 0 <= iw < W else 0
            dst += filter_w


cdef inline void col2im_row(const floating *src, floating *out, Py_ssize_t c_begin,
                            Py_ssize_t c_end, Py_ssize_t H, Py_ssize_t W,
                            Py_ssize_t filter_h, Py_ssize_t filter_w,
                            Py_ssize_t ih0, Py_ssize_t iw0) noexcept nogil:
    """Adds channels [c_begin, c_end) of one col row (src at its c_begin block)
    into image out (C, H, W); taps falling in the padding are dropped."""
    cdef Py_ssize_t c, fh, fw, ih, iw
    cdef floating *row
    if ih0 >= 0 and iw0 >= 0 and ih0 + filter_h <= H and iw0 + filter_w <= W:
        for c in range(c_begin, c_end):
            row = out + (c * H + ih0) * W + iw0
            for fh in range(filter_h):
                add_taps(row, src, filter_w)
                row += W
                src += filter_w
        return
    for c in range(c_begin, c_end):
        for fh in range(filter_h):
            ih = ih0 + fh
            if 0 <= ih < H:
                row = out + (c * H + ih) * W
                for fw in range(filter_w):
                    iw = iw0 + fw
                    if 0 <= iw < W:
                        row[iw] += src[fw]
            src += filter_w


cdef int im2col(const floating[:, :, :, ::1] x, floating[:, ::1] col,
                Py_ssize_t filter_h, Py_ssize_t filter_w,
                Py_ssize_t stride, Py_ssize_t pad) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = (H + 2 * pad - filter_h) // stride + 1
    cdef Py_ssize_t OW = (W + 2 * pad - filter_w) // stride + 1
    cdef Py_ssize_t width = col.shape[1], rows = N * OH, r, n, oh, ow
    if col.shape[0] == 0 or width == 0:
        return 0
    cdef floating *colp = &col[0, 0]
    if C * H * W == 0:  # an empty image padded: every tap is padding
        memset(colp, 0, col.shape[0] * width * sizeof(floating))
        return 0
    cdef const floating *xp = &x[0, 0, 0, 0]
    # rows of col for one (n, oh) are contiguous and owned by one thread
    for r in prange(rows, schedule="static", num_threads=threads_for(rows)):
        n = r // OH
        oh = r - n * OH
        for ow in range(OW):
            im2col_row(xp + n * C * H * W, colp + (r * OW + ow) * width, C, H, W,
                       filter_h, filter_w, oh * stride - pad, ow * stride - pad)
    return 0


cdef int col2im(const floating[:, ::1] col, floating[:, :, :, ::1] out,
                Py_ssize_t filter_h, Py_ssize_t filter_w,
                Py_ssize_t stride, Py_ssize_t pad) noexcept nogil:
    cdef Py_ssize_t N = out.shape[0], C = out.shape[1], H = out.shape[2], W = out.shape[3]
    cdef Py_ssize_t OH = (H + 2 * pad - filter_h) // stride + 1
    cdef Py_ssize_t OW = (W + 2 * pad - filter_w) // stride + 1
    cdef Py_ssize_t width = C * filter_h * filter_w
    cdef Py_ssize_t i, n, blk, c0, c1, oh, ow, blocks, items
    if N * C * H * W == 0:
        return 0
    cdef floating *outp = &out[0, 0, 0, 0]
    if col.shape[0] == 0 or width == 0:
        memset(outp, 0, N * C * H * W * sizeof(floating))
        return 0
    cdef const floating *colp = &col[0, 0]
    # Overlapping patches of one image add into the same pixels, so a work item
    # owns whole images; with fewer images than threads, blocks of channels.
    # Each pixel receives its terms in (oh, ow) order whatever the split, so the
    # result does not depend on the thread count.
    cdef int threads = threads_for(N * C)
    blocks = 1
    if N < threads:
        blocks = min((threads + N - 1) // N, C)
    items = N * blocks
    for i in prange(items, schedule="static", num_threads=threads_for(items)):
        n = i // blocks
        blk = i - n * blocks
        c0 = C * blk // blocks
        c1 = C * (blk + 1) // blocks
        memset(outp + (n * C + c0) * H * W, 0, (c1 - c0) * H * W * sizeof(floating))
        for oh in range(OH):
            for ow in range(OW):
                col2im_row(colp + ((n * OH + oh) * OW + ow) * width + c0 * filter_h * filter_w,
                           outp + n * C * H * W, c0, c1, H, W, filter_h, filter_w,
                           oh * stride - pad, ow * stride - pad)
    return 0


def run_im2col(const floating[:, :, :, ::1] x, floating[:, ::1] col,
               Py_ssize_t filter_h, Py_ssize_t filter_w, Py_ssize_t stride, Py_ssize_t pad):
    """im2col into preallocated col (N*OH*OW, C*filter_h*filter_w)."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = im2col(x, col, filter_h, filter_w, stride, pad)
        cconv_leave_call()
    if status != 0:
        raise MemoryError("im2col: workspace allocation failed")


def run_col2im(const floating[:, ::1] col, floating[:, :, :, ::1] out,
               Py_ssize_t filter_h, Py_ssize_t filter_w, Py_ssize_t stride, Py_ssize_t pad):
    """col2im into preallocated out (N, C, H, W), which it overwrites."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = col2im(col, out, filter_h, filter_w, stride, pad)
        cconv_leave_call()
    if status != 0:
        raise MemoryError("col2im: workspace allocation failed")
