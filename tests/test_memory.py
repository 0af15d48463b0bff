"""No leaks: resident memory stays flat over 10,000 forward+backward rounds,
rounds that raise included (workspaces are freed on every path)."""
import os
import sys

import numpy as np
import pytest

from cconv import functional as F

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")


def resident_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def one_round(x, w, gy, bad_weight):
    y = F.conv2d(x, w, padding=1)
    F.conv2d_backward(gy, x, w, padding=1)
    p, idx = F.max_pool2d(y, 2, return_indices=True)
    F.max_pool2d_backward(p, idx, y.shape)
    F.avg_pool2d_backward(F.avg_pool2d(y, 2), y.shape, 2)
    F.im2col(x, 3, 3, 1, 1)
    try:
        F.conv2d(x, bad_weight)
    except ValueError:
        pass
    try:
        F.max_pool2d_backward(p, idx + 10**6, y.shape)
    except ValueError:
        pass


def test_resident_memory_stays_flat_over_10000_rounds():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 8, 8, 8)).astype(np.float32)
    bad_weight = rng.standard_normal((8, 5, 3, 3)).astype(np.float32)
    for _ in range(500):  # allocator pools and caches settle first
        one_round(x, w, gy, bad_weight)
    start = resident_kib()
    for _ in range(10_000):
        one_round(x, w, gy, bad_weight)
    grown = resident_kib() - start
    # a leak of even one 64-byte block per round would add > 600 KiB
    assert grown < 512, f"resident memory grew by {grown} KiB over 10,000 rounds"
