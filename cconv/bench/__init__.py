"""cconv's benchmark: the one suite behind `python -m cconv.bench`, the README
table and the plot.

    from cconv.bench import run_suite, markdown
    records = run_suite(ops=("conv",), threads=2)
    print(markdown(records))

Files: cases.py (the suite), peers.py (cconv, the NumPy im2col baseline,
PyTorch, TensorFlow), numpy_reference.py, train.py (training steps), timing.py
(interleaved rounds), peak.py + peak.c (the machine's measured peaks),
suite.py (run_suite), report.py (table, JSON), plot.py, memory.py (peak RSS
per peer), __main__.py (the CLI).
"""
from .cases import CONV_CASES, POOL_CASES, TRAIN_CASES, ConvCase, PoolCase, TrainCase, suite
from .memory import measure_memory
from .peak import measure_peak
from .report import geomean_ratios, markdown, to_json
from .suite import environment, peer_versions, run_suite

__all__ = ["run_suite", "markdown", "to_json", "geomean_ratios", "measure_peak",
           "measure_memory", "environment", "peer_versions", "suite", "ConvCase", "PoolCase",
           "TrainCase", "CONV_CASES", "POOL_CASES", "TRAIN_CASES"]
