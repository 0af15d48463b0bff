"""Time the conv kernels of two builds of cconv in one process, interleaved.

    python tools/ab_builds.py A_DIR B_DIR [--rounds 11] [--case s2] [--pass fwd] [--layout NHWC]

A_DIR and B_DIR each hold a built `cconv/` (e.g. copies of the checkout
before and after a change, each after `python setup.py build_ext --inplace`).
Both builds' `_kernels` extensions are loaded side by side and every case runs
A, B, A, B, ... on the same arrays; the table gives the minimum of the rounds
and A/B. On these shared machines absolute times drift by 10-30% between
runs, so two builds timed in separate processes say little; interleaved, the
ratio holds to about 5% (a build against a copy of itself: 0.94-1.07).
"""
import argparse
import importlib.machinery
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

# (N, C, H, K, kernel, padding, stride): the suite's convs a change usually moves
CASES = [
    (32, 64, 32, 64, 3, 1, 1), (8, 64, 56, 64, 3, 1, 1), (64, 32, 26, 64, 3, 0, 1),
    (64, 6, 14, 16, 5, 0, 1), (64, 3, 28, 16, 5, 0, 1), (64, 1, 28, 6, 5, 2, 1),
    (8, 128, 28, 256, 3, 1, 2), (8, 256, 28, 64, 1, 0, 1),
]


def load_kernels(folder):
    """The `_kernels` extension of the build in folder/cconv, as a module of its own."""
    matches = sorted(Path(folder, "cconv").glob("_kernels*.so")) + sorted(
        Path(folder, "cconv").glob("_kernels*.pyd"))
    if not matches:
        sys.exit(f"no built cconv/_kernels extension under {folder}")
    path = str(matches[0])
    loader = importlib.machinery.ExtensionFileLoader("_kernels", path)
    spec = importlib.util.spec_from_file_location("_kernels", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules.pop("_kernels", None)   # the second build loads under the same name
    return module


def calls(n, c, h, k, r, pad, stride, rng, layout="NCHW"):
    """{pass: function(kernels)} for one case, on arrays shared by both builds:
    NCHW with KCRS filters, or NHWC with HWIO filters (the `_nhwc` kernels)."""
    oh = (h + 2 * pad - r) // stride + 1
    if layout == "NHWC":
        x_shape, w_shape, y_shape, suffix = (n, h, h, c), (r, r, c, k), (n, oh, oh, k), "_nhwc"
    else:
        x_shape, w_shape, y_shape, suffix = (n, c, h, h), (k, c, r, r), (n, k, oh, oh), ""
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    bias = np.zeros(k, np.float32)
    y = np.empty(y_shape, np.float32)
    g = rng.standard_normal(y.shape, dtype=np.float32)
    gx, gw = np.empty_like(x), np.empty_like(w)
    geometry = (stride, stride, pad, pad, 1, 1, 1)
    forward, backward_input, backward_weight = (
        "run_conv2d_forward" + suffix, "run_conv2d_backward_input" + suffix,
        "run_conv2d_backward_weight" + suffix)
    return {
        "fwd": lambda m: getattr(m, forward)(x, w, bias, y, *geometry),
        "dx": lambda m: getattr(m, backward_input)(g, w, gx, *geometry),
        "dw": lambda m: getattr(m, backward_weight)(g, x, gw, *geometry),
    }, 2.0 * y.size * c * r * r


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a_dir")
    parser.add_argument("b_dir")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--case", default="", help="only cases whose label holds this text")
    parser.add_argument("--pass", dest="passes", default="fwd,dx,dw",
                        help="comma-separated passes to time (fwd, dx, dw)")
    parser.add_argument("--layout", choices=("NCHW", "NHWC"), default="NCHW")
    args = parser.parse_args(argv)
    builds = {"A": load_kernels(args.a_dir), "B": load_kernels(args.b_dir)}
    rng = np.random.default_rng(0)
    print("| case | pass | A ms | B ms | A/B |\n|---|---|---:|---:|---:|")
    for case in CASES:
        n, c, h, k, r, pad, stride = case
        label = f"{n}x{c}x{h}x{h} K{k} {r}x{r}" + (f" s{stride}" if stride > 1 else "")
        if args.case not in label:
            continue
        passes, flops = calls(*case, rng, args.layout)
        reps = max(1, int(1e9 / flops))    # ~1 GFLOP a round
        for name, run in passes.items():
            if name not in args.passes.split(","):
                continue
            for kernels in builds.values():    # first calls: page faults, thread start-up
                run(kernels)
            best = {}
            for _ in range(args.rounds):
                for tag, kernels in builds.items():
                    start = time.perf_counter()
                    for _ in range(reps):
                        run(kernels)
                    best[tag] = min(best.get(tag, np.inf), (time.perf_counter() - start) / reps)
            print(f"| {label} | {name} | {best['A'] * 1e3:.3f} | {best['B'] * 1e3:.3f} | "
                  f"{best['A'] / best['B']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
