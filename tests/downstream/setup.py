"""Build of the downstream example: only cimport, no extra include paths or
libraries (cconv's kernels come through Cython's module C-API)."""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

openmp = [] if os.environ.get("NO_OPENMP") else (["/openmp"] if sys.platform == "win32" else ["-fopenmp"])
setup(
    name="batched",
    ext_modules=cythonize(
        [Extension("batched", ["batched.pyx"], extra_compile_args=openmp, extra_link_args=openmp)],
        language_level=3),
)
