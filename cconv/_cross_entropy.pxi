# CrossEntropyCriterion's loss and gradient in one pass over the logits: the
# NumPy form (max, subtract, exp, sum, log, gather, exp again, scatter) made
# about a dozen calls on a (64, 10) array, 0.2 ms of a LeNet step once the
# kernels before it had pushed NumPy's own data out of the caches.

from libc.math cimport exp, log


cdef double cross_entropy_row(const floating *x, Py_ssize_t classes, const floating *target,
                              Py_ssize_t label, double scale, floating *grad) noexcept nogil:
    """-<target, log_softmax(x)> of one row (target one-hot at `label` when
    `target` is NULL), and grad = (softmax(x) - target) * scale, the gradient
    for targets that sum to 1 (as NumPy's form). The max is shifted out first
    (no overflow); sums are kept in double."""
    cdef Py_ssize_t j
    cdef double top = x[0], total = 0, dot = 0, weights = 0, weight
    for j in range(1, classes):
        if x[j] > top:
            top = x[j]
    for j in range(classes):
        total += exp(x[j] - top)
    for j in range(classes):
        weight = (1.0 if j == label else 0.0) if target == NULL else target[j]
        weights += weight
        dot += weight * (x[j] - top)
        grad[j] = <floating>((exp(x[j] - top) / total - weight) * scale)
    return weights * log(total) - dot


def run_cross_entropy(const floating[:, ::1] x, const Py_ssize_t[::1] labels,
                      const floating[:, ::1] target, floating[:, ::1] grad):
    """The mean over rows of -<target, log_softmax(x)>, with grad (its
    gradient) written alongside. Targets are `labels` (N,) when `target` is
    empty, else the rows of `target`. The caller has checked the labels (a
    label is only ever compared with column numbers, never used to index)."""
    cdef Py_ssize_t rows = x.shape[0], classes = x.shape[1], i
    cdef bint dense = target.shape[0] != 0
    cdef double loss = 0, scale = 1.0 / rows if rows else 0.0
    with nogil:
        for i in range(rows):
            loss += cross_entropy_row(&x[i, 0], classes, &target[i, 0] if dense else NULL,
                                      -1 if dense else labels[i], scale, &grad[i, 0])
    return loss * scale
