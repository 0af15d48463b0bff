"""python -m cconv.bench: time cconv against the installed peers and print the table.

    python -m cconv.bench                      # conv + pool, float32, NCHW, 2 threads
    python -m cconv.bench --quick              # CI-sized: fewer rounds
    python -m cconv.bench --ops train          # the training steps of issue 4
    python -m cconv.bench --json out.json --plot out.png
    python -m cconv.bench --memory             # peak RSS of one layer's fwd+bwd per peer
"""
import argparse
import sys

from .cases import OPS, PASSES
from .peers import PEERS


def _csv(allowed, what):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in allowed]
        if unknown or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {unknown or text!r}; choose from {', '.join(allowed)}")
        return items
    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m cconv.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for every peer (default 2)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--layout", choices=("NCHW", "NHWC"), default="NCHW",
                   help="activation layout: NHWC runs cconv with data_format='NHWC' and torch "
                        "channels_last (TensorFlow is NHWC either way)")
    p.add_argument("--ops", type=_csv(OPS, "op"), default=["conv", "pool"],
                   help=f"comma-separated, of {', '.join(OPS)} (default conv,pool)")
    p.add_argument("--passes", type=_csv(PASSES, "pass"), default=list(PASSES),
                   help="comma-separated, of fwd, fwd+bwd (default both)")
    p.add_argument("--peers", type=_csv(tuple(PEERS), "peer"), default=None,
                   help=f"comma-separated, of {', '.join(PEERS)} (default: all installed)")
    p.add_argument("--case", action="append", default=None, metavar="TEXT",
                   help="only cases whose id contains TEXT (repeatable)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed rounds per case (default: adaptive, 5-40)")
    p.add_argument("--stat", choices=("median", "min"), default="median",
                   help="which per-peer time the table and ratios use (min resists a busy machine)")
    p.add_argument("--quick", action="store_true", help="CI-sized run: fewer rounds")
    p.add_argument("--json", metavar="FILE", help="write the records as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart (needs matplotlib)")
    p.add_argument("--no-peak", action="store_true", help="skip the peak FLOP/s probe")
    p.add_argument("--memory", action="store_true",
                   help="instead of timing: peak RSS of the 32x64x32x32 layer fwd+bwd per peer")
    return p.parse_args(argv)


def _log(line):
    print(line, file=sys.stderr, flush=True)


def main(argv=None):
    from . import measure_memory, plot, report, suite
    from .cases import suite as suite_cases

    args = parse_args(argv)
    if args.threads < 1:
        sys.exit("--threads must be at least 1")
    if args.memory:
        results = measure_memory(args.peers or list(PEERS), args.threads, args.dtype, log=_log)
        print("\n".join(_memory_table(results)))
        return 0
    if args.plot:  # fail before a long run, not after it
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            sys.exit("--plot needs matplotlib: pip install matplotlib (or cconv's [plot] extra)")

    cases = None
    if args.case:
        cases = [c for c in suite_cases(args.ops) if any(t in c.id for t in args.case)]
        if not cases:
            sys.exit(f"no case of {','.join(args.ops)} matches {args.case}")
    environment = suite.environment(args.threads)
    if environment["load_average"] and environment["load_average"] > 0.5:
        _log(f"note: load average {environment['load_average']:.1f} at start: other work on "
             f"this machine makes the timings noisy")
    try:
        records = suite.run_suite(args.ops, threads=args.threads, dtype=args.dtype,
                                  layout=args.layout, passes=args.passes, peers=args.peers,
                                  cases=cases, quick=args.quick, repeat=args.repeat,
                                  stat=args.stat, peak=not args.no_peak, log=_log)
    except NotImplementedError as error:
        sys.exit(str(error))
    print(report.markdown(records, environment))
    if args.json:
        with open(args.json, "w") as f:
            f.write(report.to_json(records, environment, suite.peer_versions(args.peers)))
        _log(f"wrote {args.json}")
    if args.plot:
        plot.plot(records, args.plot)
        _log(f"wrote {args.plot}")
    return 0


def _memory_table(results):
    lines = ["| peer | case | peak RSS rise (MiB) | RSS before (MiB) |", "|---|---|---:|---:|"]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['peer']} | skipped: {r['skipped']} | - | - |")
        else:
            lines.append(f"| {r['peer']} | {r['case']} fwd+bwd | {r['delta_mib']:.1f} | "
                         f"{r['before_mib']:.0f} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
