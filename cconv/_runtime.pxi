# Threads and micro-kernel selection: the run-time configuration of the kernels.
from libc.stdint cimport int64_t
import os as _os

cdef extern from "threads.h" nogil:
    int cconv_openmp_enabled()
    int cconv_configured_threads()
    int cconv_max_threads()
    void cconv_set_max_threads(int n)
    void cconv_enter_call()
    void cconv_leave_call()
    int cconv_thread_id()

cdef extern from "cconv.h" nogil:
    int cconv_select_kernels(const char *name)
    const char *cconv_selected_kernels()
    int cconv_cpu_supports_avx2_fma()
    int cconv_cpu_supports_avx512()
    int64_t cconv_tile_nr_f32()
    int64_t cconv_tile_nr_f64()
    int64_t cconv_tile_mr()

cdef extern from "aligned_alloc.h" nogil:
    size_t cconv_release_cached_blocks()


cdef inline int threads_for(Py_ssize_t work_items) noexcept nogil:
    """Threads worth starting for this many independent work items."""
    cdef int n = cconv_max_threads()
    if work_items < n:
        return <int>work_items if work_items > 0 else 1
    return n


def get_num_threads():
    """Threads a kernel call may use: the count set_num_threads() gave (for the
    whole process), else omp_get_max_threads() of the calling thread
    (OMP_NUM_THREADS, threadpoolctl). Calls running at once share it."""
    return cconv_configured_threads()


def set_num_threads(int n):
    """Set the thread count of later kernel calls from any Python thread
    (no-op without OpenMP)."""
    if n < 1:
        raise ValueError(f"n must be a positive thread count, got {n}")
    cconv_set_max_threads(n)


def openmp_enabled():
    """True when the extension was built with OpenMP."""
    return bool(cconv_openmp_enabled())


def simd_path():
    """Name of the micro-kernel set in use ('avx512', 'avx2-fma' or 'generic')."""
    return cconv_selected_kernels().decode()


def cpu_supports_avx2_fma():
    return bool(cconv_cpu_supports_avx2_fma())


def cpu_supports_avx512():
    """True when the CPU and the OS support AVX-512F (the 'avx512' path)."""
    return bool(cconv_cpu_supports_avx512())


def select_simd_path(str name):
    """Choose the micro-kernels: 'auto' (the best this CPU runs), 'avx512',
    'avx2' or 'generic' (tests run each the CPU supports)."""
    if cconv_select_kernels(name.encode()) != 0:
        raise ValueError(f"simd path {name!r} is unknown or not supported by this CPU; "
                         "expected 'auto', 'avx512', 'avx2' or 'generic'")


select_simd_path(_os.environ.get("CCONV_SIMD", "auto"))


def release_cached_memory():
    """Hand the kernels' kept workspaces back to the C library; returns their
    bytes. Calls keep a few freed workspace and packed-weight blocks (at most
    64 MiB) so that the next call finds them mapped: the pages of fresh ones
    fault in again on every call. Nothing else is held between calls."""
    cdef size_t released
    with nogil:
        released = cconv_release_cached_blocks()
    return released
