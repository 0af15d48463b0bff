"""cconv.show_config(): how this build of cconv runs on this machine."""
import sys

import numpy as np

from cconv import _kernels
from cconv._version import __version__

__all__ = ["config", "show_config"]


def config():
    """The facts show_config prints, as a dict (for bug reports and tests)."""
    return {
        "version": __version__,
        "simd_path": _kernels.simd_path(),
        "cpu_avx2_fma": _kernels.cpu_supports_avx2_fma(),
        "cpu_avx512": _kernels.cpu_supports_avx512(),
        "openmp": _kernels.openmp_enabled(),
        "num_threads": _kernels.get_num_threads(),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def show_config(file=None):
    """Print the version, the micro-kernels in use (and whether the CPU has
    AVX2/FMA and AVX-512F), OpenMP on/off, the thread count and the NumPy version."""
    info = config()
    lines = [
        f"cconv {info['version']}",
        f"  simd path:    {info['simd_path']} "
        f"(CPU supports AVX2/FMA: {'yes' if info['cpu_avx2_fma'] else 'no'}, "
        f"AVX-512F: {'yes' if info['cpu_avx512'] else 'no'})",
        f"  openmp:       {'on' if info['openmp'] else 'off (serial kernels)'}",
        f"  threads:      {info['num_threads']}",
        f"  numpy:        {info['numpy']}",
        f"  python:       {info['python']}",
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)
