"""cconv: a compiled CNN core for NumPy.

conv2d and pooling (forward and backward) as Cython + OpenMP kernels with
AVX2/FMA micro-kernels chosen at run time, behind a NumPy API with
torch.nn.functional semantics (`cconv.functional`, re-exported here).
"""
import os as _os

from cconv import functional
from cconv._config import show_config
from cconv._kernels import get_num_threads, release_cached_memory, set_num_threads
from cconv._version import __version__
from cconv.functional import *  # noqa: F401,F403  (the public ops, listed in functional.__all__)


def get_include():
    """The folder holding cconv's Cython declarations and C headers: the package directory.

    It holds `_kernels.pxd` (`from cconv._kernels cimport conv2d_forward`;
    Cython finds it through sys.path once cconv is installed) and, under
    `csrc/`, the C headers: with this folder on the include path write
    `#include "csrc/cconv.h"`, or add `os.path.join(cconv.get_include(), "csrc")`
    to include `"cconv.h"` directly.
    """
    return _os.path.dirname(_os.path.abspath(__file__))


__all__ = [
    "__version__",
    "functional",
    *functional.__all__,
    "get_num_threads",
    "set_num_threads",
    "release_cached_memory",
    "get_include",
    "show_config",
]
