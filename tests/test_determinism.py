"""The determinism guarantee (README, "Reliability"): every function returns
bitwise the same result on repeated calls and for any thread count. Each
output element is computed by one work item, in a reduction order fixed by
the shapes alone (weight gradients sum images, then pixels, in order; no
per-thread partial sums), so the split over threads changes nothing."""
import numpy as np
import pytest

import cconv
from cconv import functional as F

GEOMETRIES = [  # x shape, weight shape, stride, padding, dilation, groups
    ((4, 8, 13, 11), (16, 8, 3, 3), 1, 1, 1, 1),
    ((3, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, 1),
    ((2, 16, 9, 9), (32, 16, 3, 3), 2, 1, 1, 1),
    ((5, 4, 10, 10), (8, 2, 3, 3), 1, 1, 2, 2),
    ((1, 32, 12, 12), (64, 32, 1, 1), 1, 0, 1, 1),
    ((9, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1, 1),
    # one channel block of weight gradient over more than one image block:
    # taps split (under 4 blocks) or images split (5 blocks; 16 in waves)
    ((40, 3, 9, 9), (16, 3, 5, 5), 1, 0, 1, 1),
    ((70, 3, 6, 6), (16, 3, 3, 3), 1, 1, 1, 1),
    ((66, 2, 5, 5), (64, 2, 3, 3), 1, 1, 1, 1),
    ((241, 512, 3, 3), (16, 512, 3, 3), 1, 0, 1, 1),
]


def everything(x, w, gy, stride, padding, dilation, groups):
    out = [F.conv2d(x, w, None, stride, padding, dilation, groups)]
    out += F.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    out += [y, idx, F.max_pool2d_backward(y, idx, x.shape)]
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    wh = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    gyh = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))
    out += [F.conv2d(xh, wh, None, stride, padding, dilation, groups, data_format="NHWC")]
    out += F.conv2d_backward(gyh, xh, wh, stride, padding, dilation, groups, data_format="NHWC")
    yh, idxh = F.max_pool2d(xh, 3, 2, 1, return_indices=True, data_format="NHWC")
    out += [yh, idxh, F.max_pool2d_backward(yh, idxh, xh.shape, data_format="NHWC")]
    a = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    out += [a, F.avg_pool2d_backward(a, x.shape, 3, 2, 1, count_include_pad=False)]
    d, mask = F.dropout(x, 0.3, 2**64 - 3)
    out += [d, mask, F.dropout_backward(gy, F.dropout(gy, 0.5, 1)[1], 0.5)]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "x".join(map(str, g[0])))
def test_bitwise_identical_across_calls_and_thread_counts(geometry, dtype):
    xs, ws, stride, padding, dilation, groups = geometry
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    gy = rng.standard_normal(F.conv2d(x, w, None, stride, padding, dilation, groups).shape).astype(dtype)
    before = cconv.get_num_threads()
    try:
        results = {}
        for threads in (1, 2, 3, 1):
            cconv.set_num_threads(threads)
            results.setdefault(threads, []).append(everything(x, w, gy, stride, padding, dilation, groups))
    finally:
        cconv.set_num_threads(before)
    reference = results[1][0]
    for runs in results.values():
        for run in runs:
            for got, want in zip(run, reference):
                assert np.array_equal(got, want, equal_nan=True)
