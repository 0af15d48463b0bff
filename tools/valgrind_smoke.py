"""Every kernel once on small shapes, with the generic and the AVX2 micro-
kernels: what tools/sanitize.sh runs under valgrind memcheck (run from a
folder whose cconv/ holds the build to check)."""
import numpy as np

import cconv
import cconv.optim
from cconv import _kernels
from cconv import functional as F

rng = np.random.default_rng(0)
paths = (["generic"] + (["avx2"] if _kernels.cpu_supports_avx2_fma() else [])
         + (["avx512"] if _kernels.cpu_supports_avx512() else []))
for path in paths:
    _kernels.select_simd_path(path)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((2, 6, 11, 9)).astype(dtype)
        for w_shape, kw in [((16, 6, 3, 3), dict(padding=1)), ((8, 3, 3, 3), dict(stride=2, groups=2)),
                            ((12, 6, 1, 1), {}), ((16, 6, 2, 3), dict(dilation=2, padding=(1, 2)))]:
            w = rng.standard_normal(w_shape).astype(dtype)
            y = F.conv2d(x, w, np.ones(w_shape[0], dtype), **kw)
            F.conv2d_backward(np.ones_like(y), x, w, **kw)
        x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        w_hwio = rng.standard_normal((3, 3, 6, 16)).astype(dtype)
        out = np.empty((2, 11, 9, 16), dtype)
        _kernels.run_conv2d_forward_nhwc(x_nhwc, w_hwio, np.empty(0, dtype), out, 1, 1, 1, 1, 1, 1, 1)
        y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True, ceil_mode=True)
        F.max_pool2d_backward(y, idx, x.shape)
        a = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        F.avg_pool2d_backward(a, x.shape, 3, 2, 1, count_include_pad=False)
        F.col2im(F.im2col(x, 3, 3, 2, 1), x.shape, 3, 3, 2, 1)
        d, mask = F.dropout(x[0, 1, :, ::2], 0.3, 5)    # strided, an odd length (55)
        F.dropout_backward(d, mask, 0.3)
        # first-layer dW with pixels in the lanes (batch > 16), strided small
        # images through tiles across image boundaries
        xb = rng.standard_normal((17, 1, 7, 9)).astype(dtype)
        wb = rng.standard_normal((6, 1, 3, 3)).astype(dtype)
        F.conv2d_backward(F.conv2d(xb, wb, padding=1), xb, wb, padding=1)
        F.conv2d(xb, wb, stride=2, padding=1)
        # Linear (a transposed operand packed, tails of every tile) and SGD
        lx, lw = rng.standard_normal((13, 70)).astype(dtype), rng.standard_normal((9, 70)).astype(dtype)
        ly = F.linear(lx, lw, np.ones(9, dtype))
        F.linear_backward(ly, lx, lw, add_to=(np.zeros_like(lw), np.zeros(9, dtype)))
        cconv.optim.sgd_momentum([lw], [lw.copy()], {"learning_rate": 0.1, "momentum": 0.9}, {})
print("smoke ok:", ", ".join(paths), "| threads:", cconv.get_num_threads())
