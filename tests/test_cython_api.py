"""The public Cython API: a downstream extension (tests/downstream/) cimports
cconv's kernels, is built against the installed cconv with nothing but
cimport, calls them without the GIL inside its own prange, and gets the
numbers cconv.functional gives."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import cconv
import cconv._kernels

pytest.importorskip("Cython")
HERE = os.path.dirname(os.path.abspath(__file__))
CCONV_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(cconv.__file__)))

CHECK = textwrap.dedent("""
    import numpy as np
    import batched
    import cconv

    rng = np.random.default_rng(0)
    xs = rng.standard_normal((3, 2, 4, 9, 8)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    out = np.full((3, 2, 5, 9, 8), np.nan, np.float32)
    assert batched.conv_many(xs, w, bias, out, 1) == 0
    for b in range(3):
        np.testing.assert_array_equal(out[b], cconv.conv2d(xs[b], w, bias, padding=1))

    xd, wd = xs.astype(np.float64), w.astype(np.float64)
    gys = rng.standard_normal((3, 2, 5, 9, 8))
    gxs, gws = np.zeros_like(xd), np.zeros((3,) + wd.shape)
    assert batched.conv_grads_many(gys, xd, wd, gxs, gws, 1) == 0
    for b in range(3):
        gx, gw, _ = cconv.conv2d_backward(gys[b], xd[b], wd, padding=1, output_mask=(True, True, False))
        np.testing.assert_array_equal(gxs[b], gx)
        np.testing.assert_array_equal(gws[b], gw)

    pooled = np.zeros((3, 2, 4, 4, 4), np.float32)
    indices = np.zeros(pooled.shape, np.int64)
    grad_in = np.full(xs.shape, np.nan, np.float32)
    assert batched.max_pool_many(xs, pooled, indices, grad_in) == 0
    for b in range(3):
        y, idx = cconv.max_pool2d(xs[b], 2, return_indices=True)
        np.testing.assert_array_equal(pooled[b], y)
        np.testing.assert_array_equal(indices[b], idx)
        np.testing.assert_array_equal(grad_in[b], cconv.max_pool2d_backward(y, idx, xs[b].shape))

    averaged = np.zeros((3, 2, 4, 5, 4))
    grad_avg = np.zeros(xd.shape)
    assert batched.avg_pool_many(xd, averaged, grad_avg) == 0
    for b in range(3):
        y = cconv.avg_pool2d(xd[b], 3, stride=2, padding=1)
        np.testing.assert_array_equal(averaged[b], y)
        np.testing.assert_array_equal(
            grad_avg[b], cconv.avg_pool2d_backward(y, xd[b].shape, 3, stride=2, padding=1))
    print("downstream ok")
""")


def test_downstream_extension_cimports_and_calls_the_kernels(tmp_path):
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    for name in ("batched.pyx", "setup.py"):
        shutil.copy(os.path.join(HERE, "downstream", name), tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([CCONV_PARENT, os.environ.get("PYTHONPATH", "")]))
    if not cconv._kernels.openmp_enabled():
        env["NO_OPENMP"] = "1"
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (tmp_path / "check.py").write_text(CHECK)
    run = subprocess.run([sys.executable, "check.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "downstream ok" in run.stdout
