"""`--memory`: peak resident memory of one layer's forward+backward, per peer.

Each peer runs in its own fresh process (`python -m cconv.bench.memory PEER`),
so one library's caches and allocator pools never count against another. The
child imports the peer, makes the data and prepares the call, notes its
resident set, runs forward+backward a few times and reports how far the peak
resident set rose above that: the memory the layer itself needs (workspace,
outputs, the library's caches), not the interpreter or the inputs.

The peak comes from the kernel's high-water mark (VmHWM), reset just before
the run through /proc/self/clear_refs; where that is not possible, from
ru_maxrss (then a higher peak during imports can hide part of the run's).
"""
import json
import os
import resource
import subprocess
import sys

__all__ = ["measure_memory"]

# the folder holding the cconv package this process runs
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _release_free_heap():
    """Hand freed heap memory back to the OS (glibc), so memory the data set-up
    freed but kept resident does not count as room the run could reuse."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5: reset the peak RSS to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _child(peer_name, threads, dtype, runs=3):
    import numpy as np

    from .cases import MEMORY_CASE
    from .peers import load_peers
    loaded, missing = load_peers([peer_name])
    if missing:
        return dict(peer=peer_name, skipped=missing[peer_name])
    peer = loaded[peer_name]
    peer.set_threads(threads)
    data = MEMORY_CASE.make_data(np.dtype(dtype))
    prepared = peer.conv(MEMORY_CASE, data, "fwd+bwd")
    _release_free_heap()
    before = _status_kib("VmRSS")
    exact = _reset_peak() and before is not None
    if not exact:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(runs):
        prepared.run()
    peak = _status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(peer=peer_name, case=MEMORY_CASE.id, before_mib=before / 1024,
                peak_mib=peak / 1024, delta_mib=(peak - before) / 1024,
                method="VmHWM reset" if exact else "ru_maxrss")


def measure_memory(peers, threads=2, dtype="float32", log=None):
    """[{peer, case, before_mib, peak_mib, delta_mib, method} or {peer, skipped}]."""
    results = []
    for name in peers:
        process = subprocess.run(
            [sys.executable, "-m", "cconv.bench.memory", name, str(threads), dtype],
            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
            # `-m` puts the working directory first on sys.path: start the child
            # where the cconv this process imported lives, so a source checkout
            # (without the compiled extension) cannot shadow it
            cwd=_PACKAGE_PARENT)
        if process.returncode:
            result = dict(peer=name, skipped=f"the child failed: {process.stderr.strip()[-500:]}")
        else:
            result = json.loads(process.stdout.strip().splitlines()[-1])
        results.append(result)
        if log:
            log(memory_line(result))
    return results


def memory_line(result):
    if "skipped" in result:
        return f"{result['peer']:<11} skipped: {result['skipped']}"
    return (f"{result['peer']:<11} {result['case']} fwd+bwd: peak RSS +{result['delta_mib']:.1f} MiB "
            f"above {result['before_mib']:.0f} MiB ({result['method']})")


if __name__ == "__main__":
    name, threads, dtype = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(json.dumps(_child(name, threads, dtype)))
