"""The top-level package: version, re-exports, threads, get_include, show_config."""
import io
import os

import numpy as np
import pytest

import cconv
from cconv import functional


def test_version_is_the_packaged_one():
    from cconv._version import __version__
    assert cconv.__version__ == __version__


def test_functional_api_is_re_exported():
    for name in functional.__all__:
        assert getattr(cconv, name) is getattr(functional, name)
        assert name in cconv.__all__


def test_get_include_holds_the_pxd_and_the_c_headers():
    folder = cconv.get_include()
    assert isinstance(folder, str)
    assert os.path.isfile(os.path.join(folder, "_kernels.pxd"))
    assert os.path.isfile(os.path.join(folder, "csrc", "cconv.h"))


def test_set_num_threads_round_trip():
    before = cconv.get_num_threads()
    try:
        cconv.set_num_threads(1)
        assert cconv.get_num_threads() == 1
    finally:
        cconv.set_num_threads(before)


def test_show_config_prints_what_the_issue_asks():
    buffer = io.StringIO()
    cconv.show_config(file=buffer)
    text = buffer.getvalue()
    assert cconv.__version__ in text
    assert "simd path" in text and "AVX2/FMA" in text
    assert "openmp" in text and "threads" in text
    assert np.__version__ in text


def test_auto_picks_the_widest_kernels_the_cpu_runs():
    """'auto' means AVX-512 where the CPU (and OS) has it, else AVX2, else generic;
    and every narrower set stays selectable."""
    from conftest import using_simd_path
    from cconv import _kernels
    expected = ("avx512" if _kernels.cpu_supports_avx512()
                else "avx2-fma" if _kernels.cpu_supports_avx2_fma() else "generic")
    previous = _kernels.simd_path()
    try:
        _kernels.select_simd_path("auto")
        assert _kernels.simd_path() == expected
        with using_simd_path("generic"):
            pass
        if not _kernels.cpu_supports_avx512():
            with pytest.raises(ValueError, match="avx512"):
                _kernels.select_simd_path("avx512")
    finally:
        _kernels.select_simd_path(previous)
