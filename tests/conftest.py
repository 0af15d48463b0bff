"""Fixtures and tolerances shared by the cconv tests.

The oracles are torch (CPU, computed in float64 from the very inputs cconv
sees) where it is installed, and tests/reference.py (float64 NumPy) everywhere.
"""
import contextlib
import os
import zlib

import numpy as np
import pytest

import cconv
from cconv import _kernels

DTYPES = [np.float32, np.float64]

# Relative to the largest finite |value| of the oracle's output: float32 kernels
# sum a few hundred products in float32; float64 ones must match to rounding.
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}

# What select_simd_path() takes -> what simd_path() then reports.
SIMD_NAMES = {"generic": "generic", "avx2": "avx2-fma", "avx512": "avx512"}
SIMD_PATHS = (["generic"] + (["avx2"] if _kernels.cpu_supports_avx2_fma() else [])
              + (["avx512"] if _kernels.cpu_supports_avx512() else []))

# cconv's thread count is fixed for the session: left to follow OpenMP, it
# would drop to 1 once the torch fixture's set_num_threads(1) (the same libgomp)
# ran, and the threaded splits of every kernel would go untested. Two threads
# at least, so a one-core machine runs the splits too.
cconv.set_num_threads(max(2, min(4, os.cpu_count() or 1)))


@contextlib.contextmanager
def using_simd_path(name):
    """Run the block on micro-kernel set `name`, then go back to the one in use before
    (the 'auto' choice, unless CCONV_SIMD said otherwise)."""
    previous = _kernels.simd_path()
    _kernels.select_simd_path(name)
    try:
        assert _kernels.simd_path() == SIMD_NAMES[name]
        yield name
    finally:
        _kernels.select_simd_path(previous)


@contextlib.contextmanager
def using_threads(n):
    previous = cconv.get_num_threads()
    cconv.set_num_threads(n)
    try:
        yield n
    finally:
        cconv.set_num_threads(previous)


@pytest.fixture(params=SIMD_PATHS)
def simd_path(request):
    """Every micro-kernel set this CPU can run: 'generic' always, 'avx2' with AVX2+FMA,
    'avx512' with AVX-512F."""
    with using_simd_path(request.param):
        yield request.param


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: fixed data, different for each test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def torch():
    """The torch module; the test is skipped where torch is not installed."""
    torch = pytest.importorskip("torch")
    # The oracle's arrays are tiny; one torch thread keeps its OpenMP pool from
    # spinning against cconv's threads (two runtimes on two cores: 3x slower suite).
    torch.set_num_threads(1)
    return torch


def tolerance(dtype):
    return RTOL[np.dtype(dtype)]


def assert_close(actual, expected, dtype, rtol=None):
    """`actual` is a cconv output: a C-contiguous `dtype` array equal to `expected`
    within rtol * max|expected| (NaN where expected is NaN, equal infinities)."""
    expected = np.asarray(expected)
    dtype = np.dtype(dtype)
    rtol = tolerance(dtype) if rtol is None else rtol
    assert isinstance(actual, np.ndarray), type(actual)
    assert actual.dtype == dtype, (actual.dtype, dtype)
    assert actual.flags.c_contiguous
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    finite = np.abs(expected[np.isfinite(expected)])
    scale = float(finite.max()) if finite.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, equal_nan=True)


def random_array(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)
