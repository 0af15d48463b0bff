"""Interleaved timing: all peers of a case take turns, round after round.

Timing each library in its own block lets a change in the machine's state
(another process, the clock, the page cache) favour whoever ran in the quiet
minute. Round-robin spreads such drift over every peer; the order rotates each
round so no peer always runs right after the same neighbour (cache state left
behind). Per peer we keep every sample and report the median (the min is in
the records too).

Between two calls the clock pauses for a moment: the libraries keep their own
worker threads (OpenMP's, TensorFlow's Eigen pool, OpenBLAS's), and workers
still spinning after one library's call would otherwise steal the cores from
the next library's call.
"""
import statistics
import time

__all__ = ["interleaved", "summarize"]


def interleaved(runs, *, warmup=1, min_rounds=5, max_rounds=50, budget=2.0, gap=0.003):
    """{name: [seconds per call]} for `runs` ({name: zero-argument callable}).

    After `warmup` untimed calls each, run rounds until `max_rounds` or, once
    `min_rounds` are done, until `budget` seconds of timed calls have passed.
    `gap`: untimed seconds of sleep before each call.
    """
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    samples = {name: [] for name in names}
    spent, rounds = 0.0, 0
    clock = time.perf_counter
    while rounds < max_rounds and (rounds < min_rounds or spent < budget):
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            run = runs[name]
            time.sleep(gap)
            start = clock()
            run()
            elapsed = clock() - start
            samples[name].append(elapsed)
            spent += elapsed
        rounds += 1
    return samples


def summarize(samples):
    """median / min / rounds of one peer's samples, in milliseconds."""
    return dict(median_ms=1e3 * statistics.median(samples), min_ms=1e3 * min(samples),
                rounds=len(samples))
