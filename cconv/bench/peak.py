"""The machine's measured peaks: FP32 / FP64 FMA GFLOP/s and copy GB/s.

peak.c is compiled with the system C compiler into a temporary folder and run
on the benchmark's thread count, every time (about a second): a cached number
would go stale when the machine, its clock or its load changes, and the
"% of peak" columns would then lie.
"""
import json
import os
import shutil
import subprocess
import sysconfig
import tempfile

__all__ = ["measure_peak", "PeakUnavailable"]

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peak.c")


class PeakUnavailable(RuntimeError):
    pass


def _compiler():
    python_cc = (sysconfig.get_config_var("CC") or "").split()
    for candidate in (os.environ.get("CC"), python_cc[0] if python_cc else None,
                      "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return candidate
    raise PeakUnavailable("no C compiler found (set CC): the peak columns stay empty")


def measure_peak(threads):
    """{'fp32_gflops', 'fp64_gflops', 'copy_gbs', 'isa', 'threads', ...} measured now.

    The FLOP/s peaks are per-core rates (flops per second of each thread's own
    CPU time) summed over the threads: what the cores can do even while other
    processes share them. '*_wall' are the rates this process got by the wall
    clock just now; their gap to the peaks shows how busy the machine is.
    copy_gbs is by the wall clock (memory bandwidth is shared by all cores).
    """
    compiler = _compiler()
    with tempfile.TemporaryDirectory(prefix="cconv-peak-") as folder:
        binary = os.path.join(folder, "peak")
        build = subprocess.run([compiler, "-O2", "-fopenmp", "-o", binary, SOURCE],
                               capture_output=True, text=True)
        if build.returncode:
            raise PeakUnavailable(f"{compiler} could not build {SOURCE}:\n{build.stderr.strip()}")
        run = subprocess.run([binary, str(threads)], capture_output=True, text=True, timeout=120)
        if run.returncode:
            raise PeakUnavailable(f"the peak probe failed:\n{run.stderr.strip()}")
    return json.loads(run.stdout)
