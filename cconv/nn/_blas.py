"""Run NumPy's matrix products on one BLAS thread inside cconv.nn.

OpenBLAS (NumPy's BLAS) keeps its worker threads spinning for a while after
each product. In a training step the next layer is a cconv kernel whose
OpenMP threads then share the cores with those spinners: measured on the
2-core machine, a step of the PyTorch MNIST net took 146 ms with 2 BLAS
threads and 62 ms with 1. The Linear layers of a CNN are small enough that
one BLAS thread costs little. Needs threadpoolctl (in the `train` extra);
without it, products run as NumPy is configured.
"""
import contextlib

__all__ = ["one_blas_thread"]

_limiter = None


def _blas_limiter():
    global _limiter
    if _limiter is None:
        try:
            from threadpoolctl import ThreadpoolController
            blas = ThreadpoolController().select(user_api="blas")
            _limiter = (lambda: blas.limit(limits=1)) if blas.lib_controllers else contextlib.nullcontext
        except Exception:  # threadpoolctl missing or unable to inspect this process
            _limiter = contextlib.nullcontext
    return _limiter


def one_blas_thread():
    """Context manager: NumPy's BLAS on one thread (a no-op without threadpoolctl)."""
    return _blas_limiter()()
