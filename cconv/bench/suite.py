"""run_suite: every case of the suite, every installed peer, one record per (case, pass).

For each case: make the data once (the same arrays for every peer), prepare
each peer, call each once and check its outputs against cconv's (or, without
cconv, the NumPy reference's), then time all of them interleaved. Threads are
set to the same count in every peer before anything runs.
"""
import gc
import os
import platform
import time

import numpy as np

from . import cases as suite_cases
from . import timing
from .peak import PeakUnavailable, measure_peak
from .peers import Unsupported, load_peers

__all__ = ["run_suite", "environment", "peer_versions", "TOLERANCE", "TIMING"]

# Max relative difference (to the largest |value| of the reference output)
# above which a peer's result is flagged: float32 convs sum ~10^3 products.
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}

# Rounds and time budget per (case, pass); see timing.interleaved. The checked
# first call of each peer is already one untimed warm-up call.
TIMING = {
    "full": dict(warmup=1, min_rounds=5, max_rounds=40, budget=1.5),
    "quick": dict(warmup=0, min_rounds=3, max_rounds=10, budget=0.25),
}


def _rel_diff(outputs, reference):
    worst = 0.0
    for a, b in zip(outputs, reference):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return float("inf")
        scale = np.max(np.abs(b)) if b.size else 0.0
        diff = np.max(np.abs(a - b)) if b.size else 0.0
        worst = max(worst, diff / scale if scale else diff)
    return float(worst)


def _passes_of(case, passes):
    return ("step",) if case.op == "train" else passes


def _peak_for(case, dtype, peak):
    if not peak:
        return None
    if case.op == "conv":
        return peak["fp32_gflops" if dtype == "float32" else "fp64_gflops"]
    if case.op == "pool":
        return peak["copy_gbs"]
    return None


def _time_case(case, pass_, data, peers, dtype, timing_options, stat, log):
    """One record: prepare, check once, time interleaved."""
    itemsize = np.dtype(dtype).itemsize
    record = {"op": case.op, "case": case.id, "pass": pass_, "work": case.work(pass_, itemsize),
              "unit": case.unit, "peers": {}, "skipped": {}, "warnings": []}
    prepared = {}
    for name, peer in peers.items():
        try:
            runner = getattr(peer, case.op)(case, data, pass_)
        except Unsupported as reason:
            record["skipped"][name] = str(reason)
        else:
            if runner is not None:
                prepared[name] = runner
    if not prepared:
        return record

    # The first call of each peer is also its correctness check.
    outputs = {name: p.outputs(p.run()) for name, p in prepared.items()}
    reference = "cconv" if "cconv" in outputs else next(iter(outputs))
    record["checked_against"] = reference
    for name in prepared:
        diff = _rel_diff(outputs[name], outputs[reference])
        record["peers"][name] = dict(max_rel_diff=diff)
        if diff > TOLERANCE[dtype]:
            record["warnings"].append(f"{name} differs from {reference}: max rel diff {diff:.2e}")
    del outputs

    wall, cpu = time.perf_counter(), time.process_time()
    samples = timing.interleaved({name: p.run for name, p in prepared.items()}, **timing_options)
    # cores this process actually had while timing: well below the thread
    # count means other work on the machine took them (the times are then noisy)
    record["cores_used"] = (time.process_time() - cpu) / (time.perf_counter() - wall)
    for name, times in samples.items():
        stats = timing.summarize(times)
        stats["ms"] = stats[f"{stat}_ms"]
        stats["rate"] = record["work"] / (stats["ms"] * 1e-3)
        if case.unit != "img/s":
            stats["rate"] *= 1e-9
        record["peers"][name].update(stats)
    others = {n: s["ms"] for n, s in record["peers"].items() if n != "cconv"}
    if "cconv" in record["peers"] and others:
        best = min(others, key=others.get)
        record["best_peer"] = best
        record["ratio"] = record["peers"]["cconv"]["ms"] / others[best]
    for warning in record["warnings"]:
        log(f"warning: {case.op} {case.id} {pass_}: {warning}")
    return record


def environment(threads=None):
    """What a reader needs to judge the numbers: CPU, load, versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, logical_cpus=os.cpu_count(), threads=threads,
                load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                python=platform.python_version())


def run_suite(ops=("conv", "pool"), *, threads=2, dtype="float32", layout="NCHW",
              passes=suite_cases.PASSES, peers=None, cases=None, quick=False, repeat=None,
              stat="median", peak=True, log=None):
    """Time the suite; returns a list of records (dicts), one per (case, pass).

    ops: which of "conv", "pool", "train" (cases.suite); or give `cases`
    directly. peers: names (default: all installed). repeat: fixed number of
    timed rounds (default: adaptive, see TIMING). peak: True to measure the
    machine's peaks now (needs a C compiler), a dict from measure_peak, or
    False. log: called with progress and warning lines (default: silent).
    Each record: op, case, pass, dtype, layout, threads, work and unit, per
    peer {median_ms, min_ms, rounds, ms (the `stat` one: "median" or "min"),
    rate (from ms), max_rel_diff}, skipped peers with the reason, best_peer
    and ratio (cconv / best other peer, by ms), pct_peak, cores_used.
    """
    log = log or (lambda line: None)
    if dtype not in TOLERANCE:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    if stat not in ("median", "min"):
        raise ValueError(f"stat must be median or min, got {stat!r}")
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be NCHW or NHWC, got {layout!r}")
    cases = list(cases) if cases is not None else suite_cases.suite(ops)
    timing_options = dict(TIMING["quick" if quick else "full"])
    if repeat:
        timing_options.update(min_rounds=repeat, max_rounds=repeat)

    loaded, missing = load_peers(peers)
    for name, reason in missing.items():
        log(f"skipping {name}: {reason}")
    for peer in loaded.values():
        peer.layout = layout  # TensorFlow runs NHWC either way
    threads_set = {name: peer.set_threads(threads) for name, peer in loaded.items()}
    for name, actual in threads_set.items():
        if actual is not None and actual != threads:
            log(f"warning: {name} runs on {actual} threads, not {threads} "
                f"(its thread pool was fixed earlier in this process)")

    measure = peak is True
    if measure:
        try:
            peak = measure_peak(threads)
        except PeakUnavailable as reason:
            log(f"no peak numbers: {reason}")
            peak = None
            measure = False

    records, record_cases = [], []
    try:
        for case in cases:
            data = case.make_data(np.dtype(dtype))
            for pass_ in _passes_of(case, passes):
                record = _time_case(case, pass_, data, loaded, dtype, timing_options, stat, log)
                record.update(dtype=dtype, layout=layout, threads=threads, stat=stat,
                              threads_set={n: threads_set[n] for n in record["peers"]})
                for name, reason in missing.items():
                    record["skipped"].setdefault(name, reason)
                records.append(record)
                record_cases.append(case)
                log(_progress_line(record))
                gc.collect()  # drop the peers' outputs and graphs before the next case
    finally:
        # in reverse: peers may share one OpenMP runtime (cconv and a torch
        # built against the system libgomp do), so the first one saved the original
        for peer in reversed(list(loaded.values())):
            peer.restore_threads()
    if measure:
        # A peak is what the cores can do: a neighbour on these shared
        # machines once halved one reading (and "% peak" said 160%), so the
        # higher of a reading before and one after the suite counts.
        try:
            peak = _higher_peak(peak, measure_peak(threads))
        except PeakUnavailable as reason:
            log(f"second peak reading failed: {reason}")
    if isinstance(peak, dict):
        for record, case in zip(records, record_cases):
            record["peak"] = peak
            top = _peak_for(case, dtype, peak)
            if top and "cconv" in record["peers"] and "rate" in record["peers"]["cconv"]:
                record["pct_peak"] = 100 * record["peers"]["cconv"]["rate"] / top
    return records


def _higher_peak(first, second):
    """Each rate of two peak readings at its higher value."""
    return {key: max(value, second[key]) if isinstance(value, float) and key in second else value
            for key, value in first.items()}


def _progress_line(record):
    times = ", ".join(f"{name} {s['ms']:.2f} ms" for name, s in record["peers"].items()
                      if "ms" in s)
    ratio = f"  ratio {record['ratio']:.2f}" if "ratio" in record else ""
    return f"{record['op']:5} {record['case']:<36} {record['pass']:8} {times}{ratio}"


def peer_versions(peers=None):
    """{peer: version} of the installed peers (imports are cached: cheap after a run)."""
    loaded, _ = load_peers(peers)
    return {name: peer.version for name, peer in loaded.items()}
