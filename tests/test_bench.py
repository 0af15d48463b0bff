"""The benchmark harness (cconv.bench) on tiny cases: record and JSON structure,
the ratio and geometric-mean arithmetic, the checks. No timing assertions."""
import json
import math
import shutil

import pytest

from cconv import bench
from cconv.bench import report
from cconv.bench.__main__ import main
from cconv.bench.cases import ConvCase, PoolCase

TINY = [ConvCase(2, 3, 9, 9, 4, 3, 3, stride=2, pad=1), PoolCase(2, 3, 8, 8, 3, stride=2, pad=1)]
PEERS = ["cconv", "numpy"]


@pytest.fixture(scope="module")
def records():
    return bench.run_suite(cases=TINY, peers=PEERS, threads=1, repeat=2, peak=False)


def test_one_record_per_case_and_pass(records):
    assert [(r["op"], r["case"], r["pass"]) for r in records] == [
        ("conv", TINY[0].id, "fwd"), ("conv", TINY[0].id, "fwd+bwd"),
        ("pool", TINY[1].id, "fwd"), ("pool", TINY[1].id, "fwd+bwd")]
    for r in records:
        assert set(r["peers"]) == set(PEERS)
        for stats in r["peers"].values():
            assert stats["rounds"] == 2
            assert 0 < stats["min_ms"] <= stats["median_ms"]
            assert stats["rate"] == pytest.approx(r["work"] / stats["ms"] * 1e-6)  # G per s
        assert r["dtype"] == "float32" and r["layout"] == "NCHW" and r["threads"] == 1


def test_ratio_is_cconv_over_the_best_other_peer(records):
    for r in records:
        assert all(s["ms"] == s["median_ms"] for s in r["peers"].values())  # the default stat
        others = {n: s["ms"] for n, s in r["peers"].items() if n != "cconv"}
        assert r["best_peer"] == min(others, key=others.get)
        assert r["ratio"] == pytest.approx(r["peers"]["cconv"]["ms"] / min(others.values()))
    expected = math.exp(sum(math.log(r["ratio"]) for r in records) / len(records))
    assert report.geomean_ratios(records) == pytest.approx(expected)


def test_min_stat():
    (r,) = bench.run_suite(cases=TINY[:1], passes=("fwd",), peers=PEERS, threads=1, repeat=3,
                           stat="min", peak=False)
    assert r["stat"] == "min" and all(s["ms"] == s["min_ms"] for s in r["peers"].values())


def test_peers_agree_with_cconv(records):
    # the one correctness check per case: the NumPy im2col reference matches cconv
    for r in records:
        assert r["checked_against"] == "cconv"
        assert r["peers"]["numpy"]["max_rel_diff"] < 1e-5
        assert r["warnings"] == []


def test_work_counts():
    case = ConvCase(2, 4, 5, 5, 3, 3, 3)  # output 2x3x3x3
    assert case.work("fwd") == 2 * 2 * 3 * 4 * 3 * 3 * 3 * 3
    assert case.work("fwd+bwd") == 3 * case.work("fwd")
    pool = PoolCase(1, 1, 4, 4, 2)  # 16 in, 4 out
    assert pool.work("fwd") == 16 * 4 + 4 * 4 + 4 * 8
    assert pool.work("fwd+bwd") == 2 * pool.work("fwd")


def test_markdown_and_json(records):
    table = report.markdown(records)
    rows = [line for line in table.splitlines() if line.startswith("| conv") or
            line.startswith("| pool")]
    assert len(rows) == len(records)
    assert f"{records[0]['ratio']:.2f}" in rows[0]
    assert "Geometric mean" in table
    document = json.loads(report.to_json(records, bench.environment(1), {"numpy": "x"}))
    assert len(document["records"]) == len(records)
    assert document["geomean_ratio"]["all"] == pytest.approx(report.geomean_ratios(records))


def test_unknown_peer_and_layout():
    with pytest.raises(ValueError, match="unknown peer"):
        bench.run_suite(cases=TINY[:1], peers=["nope"], peak=False)
    with pytest.raises(ValueError, match="layout must be NCHW or NHWC"):
        bench.run_suite(cases=TINY[:1], layout="NWHC", peak=False)


def test_nhwc_layout_runs_cconv_channels_last_and_checks_against_nchw():
    records = bench.run_suite(cases=TINY, layout="NHWC", peers=["cconv", "numpy"], repeat=1,
                              peak=False)
    for record in records:
        assert record["layout"] == "NHWC"
        assert "ms" in record["peers"]["cconv"]
        assert "NCHW only" in record["skipped"]["numpy"]


def test_cli_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--ops", "pool", "--case", "64x3x28x28", "--passes", "fwd", "--repeat", "1",
                 "--no-peak", "--peers", "cconv,numpy", "--json", str(out)]) == 0
    assert "| pool | 64x3x28x28 k2 stride 1 | fwd |" in capsys.readouterr().out
    records = json.loads(out.read_text())["records"]
    assert len(records) == 1 and "ratio" in records[0]


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler")
def test_peak_probe():
    peak = bench.measure_peak(1)
    assert peak["threads"] == 1
    assert peak["fp32_gflops"] > 0 and peak["fp64_gflops"] > 0 and peak["copy_gbs"] > 0


def test_memory_mode_runs_in_a_child():
    (result,) = bench.measure_memory(["cconv"], threads=1)
    assert result["peer"] == "cconv" and "skipped" not in result
    assert result["peak_mib"] >= result["before_mib"] > 0


def test_thread_counts_are_restored():
    import cconv
    before = cconv.get_num_threads()
    bench.run_suite(cases=TINY[1:], passes=("fwd",), peers=PEERS, threads=before + 1, repeat=1,
                    peak=False)
    assert cconv.get_num_threads() == before


def test_percent_of_peak_takes_the_higher_of_two_readings(monkeypatch):
    from cconv.bench import suite
    readings = iter([{"threads": 1, "isa": "x", "fp32_gflops": 10.0, "fp64_gflops": 8.0,
                      "copy_gbs": 4.0},
                     {"threads": 1, "isa": "x", "fp32_gflops": 20.0, "fp64_gflops": 5.0,
                      "copy_gbs": 4.0}])
    monkeypatch.setattr(suite, "measure_peak", lambda threads: next(readings))
    (record,) = bench.run_suite(cases=TINY[:1], passes=("fwd",), peers=["cconv"], threads=1,
                                repeat=1, peak=True)
    assert record["peak"]["fp32_gflops"] == 20.0 and record["peak"]["fp64_gflops"] == 8.0
    rate = record["peers"]["cconv"]["rate"]
    assert record["pct_peak"] == pytest.approx(100 * rate / 20.0)


def test_percent_of_peak_from_a_given_reading():
    peak = {"threads": 1, "isa": "x", "fp32_gflops": 50.0, "fp64_gflops": 25.0, "copy_gbs": 5.0}
    conv, pool = bench.run_suite(cases=TINY, passes=("fwd",), peers=["cconv"], threads=1,
                                 repeat=1, peak=peak)
    assert conv["pct_peak"] == pytest.approx(100 * conv["peers"]["cconv"]["rate"] / 50.0)
    assert pool["pct_peak"] == pytest.approx(100 * pool["peers"]["cconv"]["rate"] / 5.0)
