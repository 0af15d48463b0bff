# Max and average pooling, forward and backward (NCHW; torch's CPU semantics).
#
# Every (n, c) plane is independent, so the kernels run planes in parallel and
# hand each one to a C plane routine (csrc/pool2d.h): one pass over the input,
# with the interior of each output row done by an ISA-specific row micro-kernel.
# Output sizes come from the outputs' shapes (cconv.functional computes them,
# ceil_mode included).
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

cdef extern from "pool2d.h" nogil:
    ctypedef struct cconv_pool2d_ukernel_table:
        const char *name
    ctypedef struct cconv_pool2d_geometry:
        int64_t in_h, in_w, out_h, out_w
        int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w
        int64_t dilation_h, dilation_w
        int64_t count_include_pad, divisor_override
        const cconv_pool2d_ukernel_table *ukernels
    const cconv_pool2d_ukernel_table *cconv_pool2d_select_ukernels()
    void cconv_max_pool2d_forward_plane_f32(const cconv_pool2d_geometry *g, const float *x,
                                            float *y, int64_t *indices)
    void cconv_max_pool2d_forward_plane_f64(const cconv_pool2d_geometry *g, const double *x,
                                            double *y, int64_t *indices)
    int cconv_max_pool2d_backward_plane_f32(const cconv_pool2d_geometry *g,
                                             const float *grad_output, const int64_t *indices,
                                             float *grad_input)
    int cconv_max_pool2d_backward_plane_f64(const cconv_pool2d_geometry *g,
                                             const double *grad_output, const int64_t *indices,
                                             double *grad_input)
    void cconv_avg_pool2d_forward_plane_f32(const cconv_pool2d_geometry *g, const float *x,
                                            float *y)
    void cconv_avg_pool2d_forward_plane_f64(const cconv_pool2d_geometry *g, const double *x,
                                            double *y)
    void cconv_avg_pool2d_backward_plane_f32(const cconv_pool2d_geometry *g,
                                             const float *grad_output, float *grad_input,
                                             float *workspace)
    void cconv_avg_pool2d_backward_plane_f64(const cconv_pool2d_geometry *g,
                                             const double *grad_output, double *grad_input,
                                             double *workspace)


cdef inline cconv_pool2d_geometry pool2d_geometry(
        Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t out_h, Py_ssize_t out_w,
        Py_ssize_t kernel_h, Py_ssize_t kernel_w, Py_ssize_t stride_h, Py_ssize_t stride_w,
        Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t dilation_h, Py_ssize_t dilation_w,
        bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    cdef cconv_pool2d_geometry g
    g.in_h = in_h
    g.in_w = in_w
    g.out_h = out_h
    g.out_w = out_w
    g.kernel_h = kernel_h
    g.kernel_w = kernel_w
    g.stride_h = stride_h
    g.stride_w = stride_w
    g.pad_h = pad_h
    g.pad_w = pad_w
    g.dilation_h = dilation_h
    g.dilation_w = dilation_w
    g.count_include_pad = count_include_pad
    g.divisor_override = divisor_override
    g.ukernels = cconv_pool2d_select_ukernels()
    return g


# ---- max pooling ------------------------------------------------------------------------

cdef int max_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                            int64_t[:, :, :, ::1] indices,
                            Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                            Py_ssize_t stride_h, Py_ssize_t stride_w,
                            Py_ssize_t pad_h, Py_ssize_t pad_w,
                            Py_ssize_t dilation_h, Py_ssize_t dilation_w) noexcept nogil:
    cdef Py_ssize_t planes = x.shape[0] * x.shape[1], p
    cdef Py_ssize_t in_size = x.shape[2] * x.shape[3], out_size = out.shape[2] * out.shape[3]
    if planes == 0 or in_size == 0 or out_size == 0:
        return 0
    cdef cconv_pool2d_geometry g = pool2d_geometry(
        x.shape[2], x.shape[3], out.shape[2], out.shape[3], kernel_h, kernel_w,
        stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, False, 0)
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &out[0, 0, 0, 0]
    cdef int64_t *ip = &indices[0, 0, 0, 0]
    for p in prange(planes, schedule="static", num_threads=threads_for(planes)):
        if floating is float:
            cconv_max_pool2d_forward_plane_f32(&g, xp + p * in_size, yp + p * out_size,
                                               ip + p * out_size)
        else:
            cconv_max_pool2d_forward_plane_f64(&g, xp + p * in_size, yp + p * out_size,
                                               ip + p * out_size)
    return 0


# What max_pool2d_backward(_nhwc) returns at an index outside [0, H*W): the
# kernels check every index as they use it, so no pass of its own reads them.
cdef enum:
    BAD_INDEX = -2


cdef object index_error(const int64_t[:, :, :, ::1] indices, Py_ssize_t plane_size):
    """The ValueError for the first index outside [0, plane_size)."""
    cdef const int64_t *flat = &indices[0, 0, 0, 0]
    cdef Py_ssize_t i, count = indices.size
    for i in range(count):
        if flat[i] < 0 or flat[i] >= plane_size:
            return ValueError(f"indices must lie in [0, H*W) = [0, {plane_size}) for "
                              f"input_shape's H*W plane, got {flat[i]}")
    return AssertionError("max_pool2d_backward reported an index out of range and found none")


cdef int max_pool2d_backward(const floating[:, :, :, ::1] grad_output,
                             const int64_t[:, :, :, ::1] indices,
                             floating[:, :, :, ::1] grad_input) noexcept nogil:
    cdef Py_ssize_t planes = grad_input.shape[0] * grad_input.shape[1], p
    cdef Py_ssize_t in_size = grad_input.shape[2] * grad_input.shape[3]
    cdef Py_ssize_t out_size = grad_output.shape[2] * grad_output.shape[3]
    if planes == 0 or in_size == 0:
        return 0
    cdef floating *gip = &grad_input[0, 0, 0, 0]
    if out_size == 0:
        memset(gip, 0, planes * in_size * sizeof(floating))
        return 0
    cdef cconv_pool2d_geometry g = pool2d_geometry(
        grad_input.shape[2], grad_input.shape[3], grad_output.shape[2], grad_output.shape[3],
        1, 1, 1, 1, 0, 0, 1, 1, False, 0)
    cdef const floating *gop = &grad_output[0, 0, 0, 0]
    cdef const int64_t *ip = &indices[0, 0, 0, 0]
    cdef int bad_planes = 0
    for p in prange(planes, schedule="static", num_threads=threads_for(planes)):
        if floating is float:
            bad_planes += cconv_max_pool2d_backward_plane_f32(&g, gop + p * out_size,
                                                              ip + p * out_size, gip + p * in_size)
        else:
            bad_planes += cconv_max_pool2d_backward_plane_f64(&g, gop + p * out_size,
                                                              ip + p * out_size, gip + p * in_size)
    return BAD_INDEX if bad_planes else 0


# ---- average pooling --------------------------------------------------------------------

cdef int avg_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                            Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                            Py_ssize_t stride_h, Py_ssize_t stride_w,
                            Py_ssize_t pad_h, Py_ssize_t pad_w,
                            bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t planes = x.shape[0] * x.shape[1], p
    cdef Py_ssize_t in_size = x.shape[2] * x.shape[3], out_size = out.shape[2] * out.shape[3]
    if planes == 0 or in_size == 0 or out_size == 0:
        return 0
    cdef cconv_pool2d_geometry g = pool2d_geometry(
        x.shape[2], x.shape[3], out.shape[2], out.shape[3], kernel_h, kernel_w,
        stride_h, stride_w, pad_h, pad_w, 1, 1, count_include_pad, divisor_override)
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &out[0, 0, 0, 0]
    for p in prange(planes, schedule="static", num_threads=threads_for(planes)):
        if floating is float:
            cconv_avg_pool2d_forward_plane_f32(&g, xp + p * in_size, yp + p * out_size)
        else:
            cconv_avg_pool2d_forward_plane_f64(&g, xp + p * in_size, yp + p * out_size)
    return 0


cdef int avg_pool2d_backward(const floating[:, :, :, ::1] grad_output,
                             floating[:, :, :, ::1] grad_input,
                             Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                             Py_ssize_t stride_h, Py_ssize_t stride_w,
                             Py_ssize_t pad_h, Py_ssize_t pad_w,
                             bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t planes = grad_input.shape[0] * grad_input.shape[1], p
    cdef Py_ssize_t in_size = grad_input.shape[2] * grad_input.shape[3]
    cdef Py_ssize_t out_size = grad_output.shape[2] * grad_output.shape[3]
    if planes == 0 or in_size == 0:
        return 0
    cdef floating *gip = &grad_input[0, 0, 0, 0]
    if out_size == 0:
        memset(gip, 0, planes * in_size * sizeof(floating))
        return 0
    cdef cconv_pool2d_geometry g = pool2d_geometry(
        grad_input.shape[2], grad_input.shape[3], grad_output.shape[2], grad_output.shape[3],
        kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, 1, 1,
        count_include_pad, divisor_override)
    cdef const floating *gop = &grad_output[0, 0, 0, 0]
    # one row of workspace per thread (cconv_thread_id() < threads)
    cdef int threads = threads_for(planes)
    cdef Py_ssize_t ws_row = grad_input.shape[3] + grad_output.shape[3]
    cdef floating *workspace = <floating *>malloc(threads * ws_row * sizeof(floating))
    if workspace == NULL:
        return -1
    for p in prange(planes, schedule="static", num_threads=threads):
        if floating is float:
            cconv_avg_pool2d_backward_plane_f32(&g, gop + p * out_size, gip + p * in_size,
                                                workspace + cconv_thread_id() * ws_row)
        else:
            cconv_avg_pool2d_backward_plane_f64(&g, gop + p * out_size, gip + p * in_size,
                                                workspace + cconv_thread_id() * ws_row)
    free(workspace)
    return 0


# ---- Python entry points (cconv.functional validates and allocates first) ---------------

def pool_simd_path():
    """Name of the pooling row kernels the selected micro-kernels imply
    ('avx2-fma' for AVX2 and AVX-512, else 'generic')."""
    return cconv_pool2d_select_ukernels().name.decode()


def run_max_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                           int64_t[:, :, :, ::1] indices,
                           Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                           Py_ssize_t stride_h, Py_ssize_t stride_w,
                           Py_ssize_t pad_h, Py_ssize_t pad_w,
                           Py_ssize_t dilation_h, Py_ssize_t dilation_w):
    """max_pool2d_forward on preallocated out and indices (N, C, OH, OW)."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = max_pool2d_forward(x, out, indices, kernel_h, kernel_w, stride_h, stride_w,
                                    pad_h, pad_w, dilation_h, dilation_w)
        cconv_leave_call()
    if status != 0:
        raise MemoryError("max_pool2d_forward: workspace allocation failed")


def run_max_pool2d_backward(const floating[:, :, :, ::1] grad_output,
                            const int64_t[:, :, :, ::1] indices,
                            floating[:, :, :, ::1] grad_input):
    """max_pool2d_backward into preallocated grad_input; indices must be in range."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = max_pool2d_backward(grad_output, indices, grad_input)
        cconv_leave_call()
    if status == BAD_INDEX:
        raise index_error(indices, grad_input.shape[2] * grad_input.shape[3])


def run_avg_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                           Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                           Py_ssize_t stride_h, Py_ssize_t stride_w,
                           Py_ssize_t pad_h, Py_ssize_t pad_w,
                           bint count_include_pad, Py_ssize_t divisor_override):
    """avg_pool2d_forward on preallocated out; divisor_override <= 0 means none."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = avg_pool2d_forward(x, out, kernel_h, kernel_w, stride_h, stride_w,
                                    pad_h, pad_w, count_include_pad, divisor_override)
        cconv_leave_call()
    if status != 0:
        raise MemoryError("avg_pool2d_forward: workspace allocation failed")


def run_avg_pool2d_backward(const floating[:, :, :, ::1] grad_output,
                            floating[:, :, :, ::1] grad_input,
                            Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                            Py_ssize_t stride_h, Py_ssize_t stride_w,
                            Py_ssize_t pad_h, Py_ssize_t pad_w,
                            bint count_include_pad, Py_ssize_t divisor_override):
    """avg_pool2d_backward into preallocated grad_input."""
    cdef int status
    with nogil:
        cconv_enter_call()
        status = avg_pool2d_backward(grad_output, grad_input, kernel_h, kernel_w,
                                     stride_h, stride_w, pad_h, pad_w,
                                     count_include_pad, divisor_override)
        cconv_leave_call()
    if status != 0:
        raise MemoryError("avg_pool2d_backward: workspace allocation failed")
