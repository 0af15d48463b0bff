# The public Cython API of cconv: `from cconv._kernels cimport conv2d_forward`.
#
# Every kernel takes C-contiguous typed memoryviews of one dtype (float32 or
# float64, the fused `floating`), NCHW, with outputs already allocated by the
# caller; it runs without the GIL, in parallel over OpenMP threads (serially
# when called from inside another parallel region), writes every element of
# its outputs and returns 0, or -1 when a workspace could not be allocated.
# Kernels do NOT validate: shapes must already agree (cconv.functional checks
# them, and is the place to look for the exact rules).
from cython cimport floating
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

# conv: x (N, C, H, W), weight (K, C/groups, R, S), out (N, K, OH, OW).
# pad_top/pad_left are the leading paddings; the trailing ones follow from OH, OW.
# An empty `bias` (shape (0,)) means no bias.
cdef int conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] weight,
                        const floating[::1] bias, floating[:, :, :, ::1] out,
                        Py_ssize_t stride_h, Py_ssize_t stride_w,
                        Py_ssize_t pad_top, Py_ssize_t pad_left,
                        Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                        Py_ssize_t groups) noexcept nogil
cdef int conv2d_backward_input(const floating[:, :, :, ::1] grad_output,
                               const floating[:, :, :, ::1] weight,
                               floating[:, :, :, ::1] grad_input,
                               Py_ssize_t stride_h, Py_ssize_t stride_w,
                               Py_ssize_t pad_top, Py_ssize_t pad_left,
                               Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                               Py_ssize_t groups) noexcept nogil
cdef int conv2d_backward_weight(const floating[:, :, :, ::1] grad_output,
                                const floating[:, :, :, ::1] x,
                                floating[:, :, :, ::1] grad_weight,
                                Py_ssize_t stride_h, Py_ssize_t stride_w,
                                Py_ssize_t pad_top, Py_ssize_t pad_left,
                                Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                Py_ssize_t groups) noexcept nogil
cdef int conv2d_backward_bias(const floating[:, :, :, ::1] grad_output,
                              floating[::1] grad_bias) noexcept nogil

# channels last (TensorFlow layout): x (N, H, W, C), weight HWIO (R, S, C/groups, K),
# out (N, OH, OW, K); same conventions otherwise.
cdef int conv2d_forward_nhwc(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] weight,
                             const floating[::1] bias, floating[:, :, :, ::1] out,
                             Py_ssize_t stride_h, Py_ssize_t stride_w,
                             Py_ssize_t pad_top, Py_ssize_t pad_left,
                             Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                             Py_ssize_t groups) noexcept nogil
cdef int conv2d_backward_input_nhwc(const floating[:, :, :, ::1] grad_output,
                                    const floating[:, :, :, ::1] weight,
                                    floating[:, :, :, ::1] grad_input,
                                    Py_ssize_t stride_h, Py_ssize_t stride_w,
                                    Py_ssize_t pad_top, Py_ssize_t pad_left,
                                    Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                    Py_ssize_t groups) noexcept nogil
cdef int conv2d_backward_weight_nhwc(const floating[:, :, :, ::1] grad_output,
                                     const floating[:, :, :, ::1] x,
                                     floating[:, :, :, ::1] grad_weight,
                                     Py_ssize_t stride_h, Py_ssize_t stride_w,
                                     Py_ssize_t pad_top, Py_ssize_t pad_left,
                                     Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                                     Py_ssize_t groups) noexcept nogil
cdef int conv2d_backward_bias_nhwc(const floating[:, :, :, ::1] grad_output,
                                   floating[::1] grad_bias) noexcept nogil

# max pooling: indices are flat positions in each input H*W plane (torch's).
cdef int max_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                            int64_t[:, :, :, ::1] indices,
                            Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                            Py_ssize_t stride_h, Py_ssize_t stride_w,
                            Py_ssize_t pad_h, Py_ssize_t pad_w,
                            Py_ssize_t dilation_h, Py_ssize_t dilation_w) noexcept nogil
# An index outside [0, H*W) makes max_pool2d_backward(_nhwc) return -2 (each
# index is checked as it is used; grad_input then holds part of the sums).
cdef int max_pool2d_backward(const floating[:, :, :, ::1] grad_output,
                             const int64_t[:, :, :, ::1] indices,
                             floating[:, :, :, ::1] grad_input) noexcept nogil

# average pooling: divisor_override <= 0 means none.
cdef int avg_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                            Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                            Py_ssize_t stride_h, Py_ssize_t stride_w,
                            Py_ssize_t pad_h, Py_ssize_t pad_w,
                            bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil
cdef int avg_pool2d_backward(const floating[:, :, :, ::1] grad_output,
                             floating[:, :, :, ::1] grad_input,
                             Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                             Py_ssize_t stride_h, Py_ssize_t stride_w,
                             Py_ssize_t pad_h, Py_ssize_t pad_w,
                             bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil

# "Deep Learning from Scratch" layout: col (N*OH*OW, C*FH*FW).
cdef int im2col(const floating[:, :, :, ::1] x, floating[:, ::1] col,
                Py_ssize_t filter_h, Py_ssize_t filter_w,
                Py_ssize_t stride, Py_ssize_t pad) noexcept nogil
cdef int col2im(const floating[:, ::1] col, floating[:, :, :, ::1] out,
                Py_ssize_t filter_h, Py_ssize_t filter_w,
                Py_ssize_t stride, Py_ssize_t pad) noexcept nogil

# channels last: x (N, H, W, C), out (N, OH, OW, C); pad_top/pad_left are the
# leading paddings (trailing ones follow from OH, OW); indices are ih * W + iw.
cdef int max_pool2d_forward_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                                 int64_t[:, :, :, ::1] indices,
                                 Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                 Py_ssize_t stride_h, Py_ssize_t stride_w,
                                 Py_ssize_t pad_top, Py_ssize_t pad_left,
                                 Py_ssize_t dilation_h, Py_ssize_t dilation_w) noexcept nogil
cdef int max_pool2d_backward_nhwc(const floating[:, :, :, ::1] grad_output,
                                  const int64_t[:, :, :, ::1] indices,
                                  floating[:, :, :, ::1] grad_input) noexcept nogil
cdef int avg_pool2d_forward_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                                 Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                 Py_ssize_t stride_h, Py_ssize_t stride_w,
                                 Py_ssize_t pad_top, Py_ssize_t pad_left,
                                 bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil
cdef int avg_pool2d_backward_nhwc(const floating[:, :, :, ::1] grad_output,
                                  floating[:, :, :, ::1] grad_input,
                                  Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                                  Py_ssize_t stride_h, Py_ssize_t stride_w,
                                  Py_ssize_t pad_top, Py_ssize_t pad_left,
                                  bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil

# ReLU over flat contiguous arrays of one length: out = x > 0 ? x : 0 (NaN
# kept), grad_input = x <= 0 ? 0 : grad_output.
cdef int relu_forward(const floating[::1] x, floating[::1] out) noexcept nogil
cdef int relu_backward(const floating[::1] grad_output, const floating[::1] x,
                       floating[::1] grad_input) noexcept nogil

# Inverted dropout over flat contiguous arrays of one length: element i kept
# when u32(seed, i) >= threshold = floor(p * 2**32), p in [0, 1) (csrc/dropout.h
# has the generator), out = kept ? x * scale : 0 and mask = kept (uint8 0/1);
# grad_input = mask ? grad_output * scale : 0. scale is rounded to the dtype;
# offset is the flat position of x[0] in the array the mask is drawn for.
cdef int dropout_forward(const floating[::1] x, floating[::1] out, uint8_t[::1] mask,
                         uint64_t seed, uint32_t threshold, double scale,
                         int64_t offset) noexcept nogil
cdef int dropout_backward(const floating[::1] grad_output, const uint8_t[::1] mask,
                          floating[::1] grad_input, double scale) noexcept nogil

# Linear: x (rows, in), weight (out, in), out / grad_output (rows, out); an
# empty `bias` means none. out = x @ weight.T + bias; grad_input =
# grad_output @ weight; grad_weight (+)= grad_output.T @ x (added to when
# `accumulate`), grad_bias (+)= the column sums of grad_output.
cdef int linear_forward(const floating[:, ::1] x, const floating[:, ::1] weight,
                        const floating[::1] bias, floating[:, ::1] out) noexcept nogil
cdef int linear_backward_input(const floating[:, ::1] grad_output,
                               const floating[:, ::1] weight,
                               floating[:, ::1] grad_input) noexcept nogil
cdef int linear_backward_weight(const floating[:, ::1] grad_output, const floating[:, ::1] x,
                                floating[:, ::1] grad_weight, bint accumulate) noexcept nogil
cdef int linear_backward_bias(const floating[:, ::1] grad_output, floating[::1] grad_bias,
                              bint accumulate) noexcept nogil
