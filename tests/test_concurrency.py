"""Kernels release the GIL; Python threads calling them at once get exactly
the serial results and never deadlock; cconv.set_num_threads holds for every
Python thread (csrc/threads.c, which also shares the thread budget among the
calls in flight)."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cconv
from cconv import functional as F


@pytest.fixture
def two_threads():
    before = cconv.get_num_threads()
    cconv.set_num_threads(2)
    yield
    cconv.set_num_threads(before)


def _count_while(action):
    """(increments a counting Python thread made during action(), seconds)."""
    counter, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    worker = threading.Thread(target=count)
    worker.start()
    time.sleep(0.02)
    before, start = counter[0], time.perf_counter()
    action()
    advanced, seconds = counter[0] - before, time.perf_counter() - start
    stop.set()
    worker.join()
    return advanced, seconds


def test_a_long_conv_lets_other_python_threads_run():
    """One ~0.1-0.3 s single-threaded conv call. A C call that holds the GIL leaves
    the counting thread at ~0.3% of its rate next to a sleep (a backtracking
    re.match, measured); released, it counts on the other core at 26-70% of
    that rate on a busy shared VM. 5% separates the two with room either way."""
    before = cconv.get_num_threads()
    cconv.set_num_threads(1)
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((48, 64, 48, 48)).astype(np.float32)
        w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
        F.conv2d(x[:1], w, padding=1)  # warm up
        idle, idle_seconds = _count_while(lambda: time.sleep(0.1))
        busy, busy_seconds = _count_while(lambda: F.conv2d(x, w, padding=1))
    finally:
        cconv.set_num_threads(before)
    assert busy_seconds > 0.02  # many 5 ms switch intervals long
    assert busy / busy_seconds > 0.05 * idle / idle_seconds, (busy, busy_seconds, idle, idle_seconds)


def _jobs(rng):
    """(function, args, kwargs) of every kind of kernel, float32 and float64."""
    jobs = []
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((3, 8, 15, 13)).astype(dtype)
        w = rng.standard_normal((16, 4, 3, 3)).astype(dtype)
        y = F.conv2d(x, w, padding=1, groups=2)
        gy = rng.standard_normal(y.shape).astype(dtype)
        p, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
        jobs += [(F.conv2d, (x, w), dict(padding=1, groups=2)),
                 (F.conv2d, (x, w[:, :2].copy()), dict(stride=2, dilation=2, groups=4)),
                 (F.conv2d_backward, (gy, x, w), dict(padding=1, groups=2)),
                 (F.max_pool2d, (x, 3, 2, 1), dict(return_indices=True)),
                 (F.max_pool2d_backward, (np.ones_like(p), idx, x.shape), {}),
                 (F.avg_pool2d, (x, 3, 2, 1), dict(ceil_mode=True)),
                 (F.avg_pool2d_backward, (np.ones_like(p), x.shape, 3, 2, 1), {}),
                 (F.im2col, (x, 3, 3, 2, 1), {})]
    return jobs


def _flat(result):
    return list(result) if isinstance(result, tuple) else [result]


@pytest.mark.parametrize("workers", [2, 8])
def test_threads_at_once_give_exactly_the_serial_results(workers, two_threads):
    jobs = _jobs(np.random.default_rng(1))
    serial = [_flat(f(*a, **k)) for f, a, k in jobs]
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(f, *a, **k) for _ in range(6) for f, a, k in jobs]
        results = [_flat(future.result(timeout=120)) for future in futures]
    for i, result in enumerate(results):
        expected = serial[i % len(jobs)]
        for got, want in zip(result, expected):
            assert (got is None and want is None) or np.array_equal(got, want)


def test_set_num_threads_reaches_other_python_threads():
    before = cconv.get_num_threads()
    try:
        cconv.set_num_threads(1)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(cconv.get_num_threads()))
        thread.start()
        thread.join()
        assert seen == [1]
    finally:
        cconv.set_num_threads(before)
