# Matrix products of the Linear layer, on the conv micro-kernels. NumPy's
# BLAS is not used: OpenBLAS workers spin after each product and took the
# cores from the next conv (an MNIST-net step ran 146 ms with 2 BLAS threads,
# 62 ms with 1), so cconv.nn had held BLAS to one thread; now the products
# run on every thread cconv is given, in the same thread pool as the convs.

from libc.stdlib cimport calloc, free

cdef extern from "matmul.h" nogil:
    int64_t cconv_matmul_workspace_size_f32(int64_t n_block, int pack_b)
    int64_t cconv_matmul_workspace_size_f64(int64_t n_block, int pack_b)
    void cconv_matmul_block_f32(int64_t K, const float *a, int64_t a_rs, int64_t a_cs,
                                const float *b, int64_t b_rs, int64_t b_cs, const float *bias,
                                float *c, int64_t ldc, int64_t m_begin, int64_t m_end,
                                int64_t n_begin, int64_t n_end, int accumulate,
                                float *workspace)
    void cconv_matmul_block_f64(int64_t K, const double *a, int64_t a_rs, int64_t a_cs,
                                const double *b, int64_t b_rs, int64_t b_cs, const double *bias,
                                double *c, int64_t ldc, int64_t m_begin, int64_t m_end,
                                int64_t n_begin, int64_t n_end, int accumulate,
                                double *workspace)

# Rows of C per work item in multiples of the widest tile's 12 rows; columns
# per item when B must be packed: its KC x 256 block (256 KiB fp32) in L2.
cdef enum:
    MATMUL_ROW_STEP = 12
    MATMUL_NC_PACKED = 256


cdef int matmul(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                const floating *a, Py_ssize_t a_rs, Py_ssize_t a_cs,
                const floating *b, Py_ssize_t b_rs, Py_ssize_t b_cs, const floating *bias,
                floating *c, Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """C[M x N] (+)= A[M x K] * B[K x N] (+ bias[j] in column j unless
    accumulating; bias may be NULL), A and B through element strides, C
    row-major. Items are blocks of C."""
    cdef Py_ssize_t nr = cconv_tile_nr_f32() if floating is float else cconv_tile_nr_f64()
    cdef bint pack_b = b_cs != 1
    cdef Py_ssize_t m_block, m_blocks, n_block, n_blocks, items, item, mb, nb, ws_size
    cdef floating *ws
    cdef int failures = 0
    if M == 0 or N == 0:
        return 0
    # Columns first: an item's A rows are read in place whatever its rows, so
    # rows are split only to feed the threads (when B is packed, every row
    # block packs its columns of B again: split rows only as far as needed).
    n_blocks = min(cconv_max_threads() * ITEMS_PER_THREAD, ceil_div(N, nr))
    n_block = ceil_div(ceil_div(N, n_blocks), nr) * nr
    if pack_b:
        n_block = min(n_block, MATMUL_NC_PACKED)
    n_blocks = ceil_div(N, n_block)
    m_blocks = ceil_div(cconv_max_threads() * (1 if pack_b else ITEMS_PER_THREAD), n_blocks)
    m_blocks = max(1, min(m_blocks, ceil_div(M, MATMUL_ROW_STEP)))
    m_block = ceil_div(ceil_div(M, m_blocks), MATMUL_ROW_STEP) * MATMUL_ROW_STEP
    m_blocks = ceil_div(M, m_block)
    items = m_blocks * n_blocks
    if floating is float:
        ws_size = cconv_matmul_workspace_size_f32(n_block, pack_b)
    else:
        ws_size = cconv_matmul_workspace_size_f64(n_block, pack_b)
    with parallel(num_threads=threads_for(items)):
        ws = <floating *> cconv_aligned_malloc(ws_size * sizeof(floating))
        for item in prange(items, schedule='static'):
            if ws == NULL:
                failures += 1
            else:
                mb = item // n_blocks
                nb = item % n_blocks
                if floating is float:
                    cconv_matmul_block_f32(K, a, a_rs, a_cs, b, b_rs, b_cs, bias, c, ldc,
                                           mb * m_block, min(M, (mb + 1) * m_block),
                                           nb * n_block, min(N, (nb + 1) * n_block),
                                           accumulate, ws)
                else:
                    cconv_matmul_block_f64(K, a, a_rs, a_cs, b, b_rs, b_cs, bias, c, ldc,
                                           mb * m_block, min(M, (mb + 1) * m_block),
                                           nb * n_block, min(N, (nb + 1) * n_block),
                                           accumulate, ws)
        cconv_aligned_free(ws)
    return -1 if failures else 0


cdef int linear_forward(const floating[:, ::1] x, const floating[:, ::1] weight,
                        const floating[::1] bias, floating[:, ::1] out) noexcept nogil:
    """out = x @ weight.T (+ bias): x (rows, in), weight (out, in), out (rows, out);
    an empty `bias` (shape (0,)) means none."""
    cdef Py_ssize_t rows = x.shape[0], n_in = x.shape[1], n_out = weight.shape[0]
    # B = weight.T: element (k, j) at k + j * n_in
    return matmul(rows, n_out, n_in, &x[0, 0] if rows and n_in else NULL, n_in, 1,
                  &weight[0, 0] if n_out and n_in else NULL, 1, n_in,
                  &bias[0] if bias.shape[0] > 0 else NULL,
                  &out[0, 0] if rows and n_out else NULL, n_out, False)


cdef int linear_backward_input(const floating[:, ::1] grad_output,
                               const floating[:, ::1] weight,
                               floating[:, ::1] grad_input) noexcept nogil:
    """grad_input = grad_output @ weight: (rows, out) x (out, in) -> (rows, in)."""
    cdef Py_ssize_t rows = grad_output.shape[0], n_out = weight.shape[0], n_in = weight.shape[1]
    return matmul(rows, n_in, n_out, &grad_output[0, 0] if rows and n_out else NULL, n_out, 1,
                  &weight[0, 0] if n_out and n_in else NULL, n_in, 1, NULL,
                  &grad_input[0, 0] if rows and n_in else NULL, n_in, False)


cdef int linear_backward_weight(const floating[:, ::1] grad_output, const floating[:, ::1] x,
                                floating[:, ::1] grad_weight, bint accumulate) noexcept nogil:
    """grad_weight (+)= grad_output.T @ x: (out, rows) x (rows, in) -> (out, in)."""
    cdef Py_ssize_t rows = x.shape[0], n_in = x.shape[1], n_out = grad_output.shape[1]
    # A = grad_output.T: element (i, k) at i + k * n_out
    return matmul(n_out, n_in, rows, &grad_output[0, 0] if rows and n_out else NULL, 1, n_out,
                  &x[0, 0] if rows and n_in else NULL, n_in, 1, NULL,
                  &grad_weight[0, 0] if n_out and n_in else NULL, n_in, accumulate)


cdef int linear_backward_bias(const floating[:, ::1] grad_output, floating[::1] grad_bias,
                              bint accumulate) noexcept nogil:
    """grad_bias (+)= the column sums of grad_output, summed in double."""
    cdef Py_ssize_t rows = grad_output.shape[0], cols = grad_output.shape[1], i, j
    cdef double *sums = <double *> calloc(max(cols, 1), sizeof(double))
    if sums == NULL:
        return -1
    for i in range(rows):
        for j in range(cols):
            sums[j] += grad_output[i, j]
    for j in range(cols):
        grad_bias[j] = <floating>(grad_bias[j] + sums[j]) if accumulate else <floating>sums[j]
    free(sums)
    return 0


def run_linear_forward(const floating[:, ::1] x, const floating[:, ::1] weight,
                       const floating[::1] bias, floating[:, ::1] out):
    cdef int status
    with nogil:
        cconv_enter_call()
        status = linear_forward(x, weight, bias, out)
        cconv_leave_call()
    _raise_on_failure(status)


def run_linear_backward(const floating[:, ::1] grad_output, const floating[:, ::1] x,
                        const floating[:, ::1] weight, floating[:, ::1] grad_input,
                        floating[:, ::1] grad_weight, floating[::1] grad_bias,
                        bint want_input, bint want_weight, bint want_bias, bint accumulate):
    """The wanted gradients; grad_weight / grad_bias are added to when `accumulate`."""
    cdef int status = 0
    with nogil:
        cconv_enter_call()
        if want_input:
            status = linear_backward_input(grad_output, weight, grad_input)
        if want_weight and status == 0:
            status = linear_backward_weight(grad_output, x, grad_weight, accumulate)
        if want_bias and status == 0:
            status = linear_backward_bias(grad_output, grad_bias, accumulate)
        cconv_leave_call()
    _raise_on_failure(status)
