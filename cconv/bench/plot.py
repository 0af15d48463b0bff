"""`--plot FILE.png`: the suite's records as a bar chart (matplotlib, an optional extra).

One group of bars per (case, pass), one bar per peer, height = the peer's
throughput relative to cconv (cconv = 1), so every op shares one axis whatever
its size; the ratio in the table is the reciprocal of the best peer's bar.
"""
from .peers import PEERS

__all__ = ["plot", "MatplotlibMissing"]


class MatplotlibMissing(ImportError):
    pass


def plot(records, path, title=None):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise MatplotlibMissing("--plot needs matplotlib: pip install matplotlib "
                                "(or cconv's [plot] extra)") from error
    rows = [r for r in records if "cconv" in r["peers"] and "ms" in r["peers"]["cconv"]]
    if not rows:
        raise ValueError("nothing to plot: no record has a cconv time")
    peers = [p for p in PEERS if any(p in r["peers"] for r in rows)]
    width = 0.8 / len(peers)
    fig, ax = plt.subplots(figsize=(min(20, max(8, 0.55 * len(rows))), 6))
    for i, peer in enumerate(peers):
        xs, heights = [], []
        for j, r in enumerate(rows):
            stats = r["peers"].get(peer)
            if stats and "ms" in stats:
                xs.append(j + (i - (len(peers) - 1) / 2) * width)
                heights.append(r["peers"]["cconv"]["ms"] / stats["ms"])
        ax.bar(xs, heights, width, label=peer)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("throughput relative to cconv (higher is faster)")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{r['op']} {r['case']}\n{r['pass']}" for r in rows],
                       rotation=60, ha="right", fontsize=7)
    first = rows[0]
    ax.set_title(title or f"cconv benchmark: {first['dtype']}, {first['layout']}, "
                          f"{first['threads']} threads")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
