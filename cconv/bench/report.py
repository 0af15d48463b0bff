"""Records -> the markdown table (CLI and README), the JSON document, geometric means."""
import json
import math

from .peers import PEERS

__all__ = ["geomean_ratios", "markdown", "peak_line", "to_json"]

_SHORT = {"tensorflow": "tf"}


def geomean_ratios(records, ops=None):
    """Geometric mean of cconv / best-peer over the records that have a ratio."""
    ratios = [r["ratio"] for r in records
              if "ratio" in r and (ops is None or r["op"] in ops) and r["ratio"] > 0]
    if not ratios:
        return None
    return math.exp(sum(math.log(x) for x in ratios) / len(ratios))


def _peer_columns(records):
    seen = {name for r in records for name in r["peers"]}
    return [name for name in PEERS if name in seen]


def _ms(value):
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _rate(value, unit):
    return f"{value:,.0f}" if unit == "img/s" else f"{value:.1f}"


def _check(record):
    diffs = [s["max_rel_diff"] for n, s in record["peers"].items()
             if n != record.get("checked_against")]
    if not diffs:
        return ""
    mark = " !" if record["warnings"] else ""
    return f"{max(diffs):.0e}{mark}"


def peak_line(peak):
    if not peak:
        return "Machine peak: not measured."
    line = (f"Machine peak ({peak['threads']} threads, {peak['isa']}, measured this run): "
            f"FP32 {peak['fp32_gflops']:.1f} GFLOP/s, FP64 {peak['fp64_gflops']:.1f} GFLOP/s "
            f"(FMA chains, per-core rates summed), copy {peak['copy_gbs']:.1f} GB/s.")
    if "fp32_gflops_wall" in peak and peak["fp32_gflops_wall"] < 0.8 * peak["fp32_gflops"]:
        line += (f" By the wall clock the FMA probe got only {peak['fp32_gflops_wall']:.1f} "
                 f"GFLOP/s FP32: other processes were using these cores.")
    return line


def markdown(records, environment=None):
    """The table: one row per (case, pass); per-peer ms (median or min); cconv's rate
    and % of peak; the best other peer's rate; cconv / best; worst max rel diff
    of any peer against the checked reference."""
    peers = _peer_columns(records)
    head = (["op", "case", "pass"] + [f"{_SHORT.get(p, p)} ms" for p in peers]
            + ["cconv rate", "best peer rate", "% peak", "ratio", "check"])
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 4) + [":---"]) + "|"]
    for r in records:
        cells = [r["op"], r["case"], r["pass"]]
        for p in peers:
            stats = r["peers"].get(p)
            cells.append(_ms(stats["ms"]) if stats and "ms" in stats else "-")
        own = r["peers"].get("cconv", {})
        cells.append(f"{_rate(own['rate'], r['unit'])} {r['unit']}" if "rate" in own else "-")
        best = r.get("best_peer")
        if best is None and r["peers"]:
            others = [n for n in r["peers"] if n != "cconv" and "rate" in r["peers"][n]]
            best = max(others, key=lambda n: r["peers"][n]["rate"]) if others else None
        cells.append(f"{_rate(r['peers'][best]['rate'], r['unit'])} ({_SHORT.get(best, best)})"
                     if best else "-")
        cells.append(f"{r['pct_peak']:.0f}%" if "pct_peak" in r else "-")
        cells.append(f"{r['ratio']:.2f}" if "ratio" in r else "-")
        cells.append(_check(r))
        lines.append("| " + " | ".join(cells) + " |")

    summary = []
    for label, ops in (("conv + pool", ("conv", "pool")), ("conv", ("conv",)),
                       ("pool", ("pool",)), ("train", ("train",))):
        g = geomean_ratios(records, ops)
        if g is not None:
            summary.append(f"{label} {g:.2f}")
    text = "\n".join(lines)
    if summary:
        text += "\n\nGeometric mean of cconv / best peer: " + ", ".join(summary) + "."
    if any(r["op"] in ("conv", "pool") for r in records):
        text += "\n" + peak_line(next((r["peak"] for r in records if "peak" in r), None))
    if records:
        r = records[0]
        text += (f"\n{r['dtype']}, {r['layout']}, {r['threads']} threads; ms are the {r['stat']} of "
                 f"interleaved rounds; ratio < 1 means cconv is faster.")
    used = [r["cores_used"] for r in records if "cores_used" in r]
    if used:
        text += (f"\nThe process kept {sum(used) / len(used):.2f} cores busy on average while "
                 f"timing (of {records[0]['threads']} threads asked for; spinning counts too).")
    if environment:
        text += (f"\nCPU: {environment['cpu']}; load average at start "
                 f"{environment['load_average']:.1f}.")
    skipped = {}
    for r in records:
        for name, reason in r["skipped"].items():
            skipped.setdefault((name, reason), []).append(f"{r['op']} {r['case']}")
    for (name, reason), where in skipped.items():
        scope = "all cases" if len(where) == len(records) else f"{len(set(where))} case(s)"
        text += f"\nNot run: {name} ({scope}): {reason}"
    warnings = [f"{r['op']} {r['case']} {r['pass']}: {w}" for r in records for w in r["warnings"]]
    for w in warnings:
        text += f"\nWarning: {w}"
    return text


def to_json(records, environment=None, versions=None):
    """The JSON document of `--json`: environment, versions, records, geometric means."""
    document = dict(
        environment=environment or {},
        versions=versions or {},
        records=records,
        geomean_ratio={label: geomean_ratios(records, ops) for label, ops in (
            ("all", ("conv", "pool")), ("conv", ("conv",)), ("pool", ("pool",)),
            ("train", ("train",)))},
    )
    return json.dumps(document, indent=1, default=float)
