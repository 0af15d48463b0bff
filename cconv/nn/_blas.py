"""Run NumPy's matrix products on one BLAS thread inside cconv.nn.

OpenBLAS (NumPy's BLAS) keeps its worker threads spinning for a while after
each product. In a training step the next layer is a cconv kernel whose
OpenMP threads then share the cores with those spinners: measured on the
2-core machine, a step of the PyTorch MNIST net took 146 ms with 2 BLAS
threads and 62 ms with 1. The Linear layers of a CNN are small enough that
one BLAS thread costs little. Needs threadpoolctl (in the `train` extra);
without it, products run as NumPy is configured.

Entering a threadpoolctl limit costs about 20 us (it inspects every library
to remember the limits it must restore), a step of LeNet-5 enters nine, and
most of the time BLAS is on one thread already (OMP_NUM_THREADS=1, or an
outer limit). Asking each BLAS library for its thread count costs about 1 us,
so the limit is entered only when some library is not on one thread yet.
"""
import contextlib

__all__ = ["one_blas_thread"]

_limiter = None
_libraries = ()   # threadpoolctl's controllers of the BLAS libraries NumPy loaded
_NO_LIMIT = contextlib.nullcontext()


def _blas_limiter():
    global _limiter, _libraries
    if _limiter is None:
        try:
            from threadpoolctl import ThreadpoolController
            blas = ThreadpoolController().select(user_api="blas")
            _libraries = tuple(blas.lib_controllers)
            _limiter = (lambda: blas.limit(limits=1)) if _libraries else contextlib.nullcontext
        except Exception:  # threadpoolctl missing or unable to inspect this process
            _limiter = contextlib.nullcontext
    return _limiter


def _on_one_thread():
    for library in _libraries:
        if library.get_num_threads() != 1:
            return False
    return True


def one_blas_thread():
    """Context manager: NumPy's BLAS on one thread (a no-op without threadpoolctl,
    and when every BLAS library is on one thread already)."""
    limiter = _limiter or _blas_limiter()
    if _on_one_thread():
        return _NO_LIMIT
    return limiter()
