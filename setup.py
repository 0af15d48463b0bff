"""Build of the cconv extension.

Everything is portable x86-64 / aarch64 code: no -march=native. The AVX2/FMA
micro-kernels carry their own target attributes and are picked at run time.
OpenMP is used when the compiler supports it; otherwise (macOS clang without
libomp, or CCONV_NO_OPENMP=1) the kernels build serial and a warning says so.
"""
import os
import sys
import tempfile
import textwrap
import warnings

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CSRC = os.path.join("cconv", "csrc")
C_SOURCES = sorted(
    os.path.join(CSRC, name) for name in os.listdir(CSRC) if name.endswith(".c")
)
# Headers and the type-generic .inc bodies: build_ext rebuilds only when a
# source or one of these is newer than the extension, so an edit to a header
# or an .inc alone must count too.
C_DEPENDS = sorted(
    os.path.join(folder, name)
    for folder in (CSRC, os.path.join(CSRC, "generic"))
    for name in os.listdir(folder) if name.endswith((".h", ".inc"))
)

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)


def openmp_flags(compiler_type):
    """(compile flags, link flags) that enable OpenMP for this compiler."""
    if compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang needs libomp (brew install libomp) and the preprocessor form.
        prefix = os.environ.get("LIBOMP_PREFIX", "/opt/homebrew/opt/libomp")
        return (
            ["-Xpreprocessor", "-fopenmp", "-I" + os.path.join(prefix, "include")],
            ["-lomp", "-L" + os.path.join(prefix, "lib")],
        )
    return ["-fopenmp"], ["-fopenmp"]


def compiler_supports(compiler, compile_flags, link_flags):
    """True when a tiny OpenMP program compiles and links with these flags."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROBE)
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=compile_flags)
            compiler.link_executable(
                objects, os.path.join(tmp, "probe"), extra_postargs=link_flags
            )
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    """Adds optimisation and (when available) OpenMP flags per compiler."""

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            base = ["/O2", "/fp:precise"]
        else:
            # -fno-math-errno lets sqrt/exp inline; no -ffast-math: max pooling
            # must see NaN and the float rounding must stay IEEE.
            base = ["-O3", "-fno-math-errno", "-fno-strict-aliasing", "-Wno-unused-function"]
        compile_flags, link_flags = list(base), []
        if os.environ.get("CCONV_NO_OPENMP", "") not in ("", "0"):
            print("cconv: CCONV_NO_OPENMP set, building serial kernels")
        else:
            omp_compile, omp_link = openmp_flags(ctype)
            if compiler_supports(self.compiler, omp_compile, omp_link):
                compile_flags += omp_compile
                link_flags += omp_link
            else:
                warnings.warn(
                    "cconv: the C compiler does not support OpenMP; building serial "
                    "kernels (on macOS: brew install libomp, or set LIBOMP_PREFIX)"
                )
        for ext in self.extensions:
            ext.extra_compile_args = compile_flags + ext.extra_compile_args
            ext.extra_link_args = link_flags + ext.extra_link_args
        super().build_extensions()


extensions = [
    Extension(
        "cconv._kernels",
        sources=[os.path.join("cconv", "_kernels.pyx")] + C_SOURCES,
        include_dirs=[numpy.get_include(), CSRC],
        depends=C_DEPENDS,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
