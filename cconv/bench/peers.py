"""The libraries the benchmark times, each in its fastest form, on the same data.

A peer turns (case, data, pass) into a `Prepared`: `run()` is the timed call
(all conversions to the peer's own tensors and layouts happen before, outside
the timing), `outputs(result)` converts what `run()` returned to NCHW NumPy
arrays for the one correctness check per case. fwd returns (y,); fwd+bwd
returns (y, grad_input, grad_weight, grad_bias) for conv and (y, grad_input)
for pooling.

A peer that cannot run a case raises `Unsupported`, one that takes no part in
an op (NumPy and TensorFlow in the training steps) returns None, and one that
is not installed reports why from `load()`.
"""
import os
from typing import Callable, NamedTuple

import numpy as np

from . import numpy_reference as ref
from . import train

__all__ = ["Prepared", "Unsupported", "Unavailable", "PEERS", "load_peers"]


class Prepared(NamedTuple):
    run: Callable
    outputs: Callable


class Unsupported(Exception):
    """This peer has no form of this case (the reason is the message)."""


class Unavailable(Exception):
    """This peer is not importable here (the reason is the message)."""


def _numpy_outputs(result):
    return tuple(np.asarray(a) for a in result)


class Peer:
    """What every peer answers. An op a peer does not take part in returns
    None (not listed); a case it cannot run raises Unsupported (listed, with why).
    `layout` (set by the suite) is the activation layout the peer runs in:
    "NCHW", or "NHWC" (channels last; the check still sees NCHW arrays)."""
    name = "?"
    version = "?"
    layout = "NCHW"

    def conv(self, case, data, pass_):
        return None

    def pool(self, case, data, pass_):
        return None

    def train(self, case, data, pass_):
        return None

    def restore_threads(self):
        """Undo set_threads, so a run leaves the caller's process as it found it."""


class CconvPeer(Peer):
    name = "cconv"

    def load(self):
        try:
            import cconv
            cconv.conv2d  # noqa: B018  (the compiled core must be there, not just the package)
        except (ImportError, AttributeError) as error:
            raise Unavailable(f"cconv is not importable ({error}); build it with "
                              f"`python setup.py build_ext --inplace`") from error
        self.cconv = cconv
        self.version = cconv.__version__
        try:
            self.version += f" ({cconv._kernels.simd_path()})"
        except AttributeError:
            pass

    def set_threads(self, threads):
        self._previous = self.cconv.get_num_threads()
        self.cconv.set_num_threads(threads)
        return self.cconv.get_num_threads()

    def restore_threads(self):
        self.cconv.set_num_threads(self._previous)

    def _inputs(self, data, *names):
        """The arrays in this run's layout (NHWC activations, HWIO filters)."""
        if self.layout == "NCHW":
            return [data[name] for name in names]
        order = {"weight": (2, 3, 1, 0), "bias": None}
        return [data[n] if order.get(n, (0, 2, 3, 1)) is None
                else np.ascontiguousarray(data[n].transpose(order.get(n, (0, 2, 3, 1))))
                for n in names]

    def _outputs(self, result):
        """Back to NCHW (and OIHW) for the check."""
        if self.layout == "NCHW":
            return _numpy_outputs(result)
        out = []
        for i, a in enumerate(result):
            if a.ndim == 4:
                a = a.transpose(3, 2, 0, 1) if (len(result) == 4 and i == 2) else a.transpose(0, 3, 1, 2)
            out.append(np.asarray(a))
        return tuple(out)

    def conv(self, case, data, pass_):
        cc, kw = self.cconv, dict(case.kwargs(), data_format=self.layout)
        x, w, b, gy = self._inputs(data, "x", "weight", "bias", "grad_output")
        if pass_ == "fwd":
            return Prepared(lambda: (cc.conv2d(x, w, b, **kw),), self._outputs)

        def run():
            y = cc.conv2d(x, w, b, **kw)
            return (y, *cc.conv2d_backward(gy, x, w, **kw, output_mask=(True, True, True)))
        return Prepared(run, self._outputs)

    def pool(self, case, data, pass_):
        cc, kw = self.cconv, dict(case.kwargs(), data_format=self.layout)
        x, gy = self._inputs(data, "x", "grad_output")

        def forward():
            return cc.max_pool2d(x, **kw, return_indices=True)
        if pass_ == "fwd":
            return Prepared(lambda: forward()[:1], self._outputs)

        def run():
            y, indices = forward()
            return y, cc.max_pool2d_backward(gy, indices, x.shape, data_format=self.layout)
        return Prepared(run, self._outputs)

    def train(self, case, data, pass_):
        return train.cconv_step(case, data, data["x"].dtype)


class NumpyPeer(Peer):
    """im2col + BLAS matmul (cconv/bench/numpy_reference.py); BLAS threads are
    limited to the run's thread count with threadpoolctl when it is installed."""
    name = "numpy"

    def load(self):
        self.version = np.__version__
        self._limits = None

    def set_threads(self, threads):
        try:
            import threadpoolctl
        except ImportError:
            return None  # unknown: BLAS uses its own default
        self._limits = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
        return threads

    def restore_threads(self):
        if self._limits is not None:
            self._limits.restore_original_limits()

    def conv(self, case, data, pass_):
        if self.layout != "NCHW":
            raise Unsupported("the im2col reference is NCHW only")
        if case.groups != 1:
            raise Unsupported("the im2col reference does groups=1 only")
        x, w, b, gy = data["x"], data["weight"], data["bias"], data["grad_output"]
        kw = dict(stride=case.stride, padding=case.pad, dilation=case.dilation)
        if pass_ == "fwd":
            return Prepared(lambda: (ref.conv2d_forward(x, w, b, **kw)[0],), _numpy_outputs)

        def run():
            y, cols = ref.conv2d_forward(x, w, b, **kw)
            return (y, *ref.conv2d_backward(gy, x, w, cols, **kw))
        return Prepared(run, _numpy_outputs)

    def pool(self, case, data, pass_):
        if self.layout != "NCHW":
            raise Unsupported("the im2col reference is NCHW only")
        x, gy = data["x"], data["grad_output"]
        args = (case.kernel, case.step, case.pad)
        if pass_ == "fwd":
            return Prepared(lambda: ref.max_pool2d_forward(x, *args)[:1], _numpy_outputs)

        def run():
            y, indices = ref.max_pool2d_forward(x, *args)
            return y, ref.max_pool2d_backward(gy, indices, x.shape)
        return Prepared(run, _numpy_outputs)


class TorchPeer(Peer):
    """torch.conv2d and the aten backward ops autograd itself calls (no autograd
    graph: the timing is of the kernels plus their dispatch)."""
    name = "torch"

    def load(self):
        try:
            import torch
        except ImportError as error:
            raise Unavailable(f"torch is not installed ({error})") from error
        self.torch = torch
        self.version = torch.__version__

    def set_threads(self, threads):
        self._previous = self.torch.get_num_threads()
        self.torch.set_num_threads(threads)
        return self.torch.get_num_threads()

    def restore_threads(self):
        self.torch.set_num_threads(self._previous)

    def _tensor(self, array):
        """NCHW data as a torch tensor, channels_last in the NHWC layout (the
        memory format oneDNN runs natively)."""
        t = self.torch.from_numpy(array)
        if self.layout == "NHWC" and t.ndim == 4:
            t = t.contiguous(memory_format=self.torch.channels_last)
        return t

    def conv(self, case, data, pass_):
        torch = self.torch
        x, w, b, gy = (self._tensor(data[k]) for k in ("x", "weight", "bias", "grad_output"))
        stride, pad, dil = [case.stride] * 2, [case.pad] * 2, [case.dilation] * 2
        if pass_ == "fwd":
            return Prepared(lambda: (torch.conv2d(x, w, b, stride, pad, dil, case.groups),),
                            self._outputs)
        backward = torch.ops.aten.convolution_backward

        def run():
            y = torch.conv2d(x, w, b, stride, pad, dil, case.groups)
            return (y, *backward(gy, x, w, [case.K], stride, pad, dil, False, [0, 0],
                                 case.groups, [True, True, True]))
        return Prepared(run, self._outputs)

    def pool(self, case, data, pass_):
        torch = self.torch
        x, gy = self._tensor(data["x"]), self._tensor(data["grad_output"])
        geometry = ([case.kernel] * 2, [case.step] * 2, [case.pad] * 2, [1, 1], False)
        forward = torch.ops.aten.max_pool2d_with_indices
        backward = torch.ops.aten.max_pool2d_with_indices_backward
        if pass_ == "fwd":
            return Prepared(lambda: forward(x, *geometry)[:1], self._outputs)

        def run():
            y, indices = forward(x, *geometry)
            return y, backward(gy, x, *geometry, indices)
        return Prepared(run, self._outputs)

    def train(self, case, data, pass_):
        return train.torch_step(case, data, data["x"].dtype)

    @staticmethod
    def _outputs(result):
        return tuple(t.contiguous().numpy() for t in result)


class TensorFlowPeer(Peer):
    """TensorFlow on its native NHWC layout with HWIO filters; each pass is one
    tf.function (a graph: no per-op eager dispatch). Inputs are transposed
    before timing, outputs transposed back only for the check."""
    name = "tensorflow"

    def load(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no start-up banner
        try:
            import tensorflow as tf
        except ImportError as error:
            raise Unavailable(f"tensorflow is not installed ({error})") from error
        self.tf = tf
        self.version = tf.__version__
        self._threads = None

    def set_threads(self, threads):
        # TensorFlow fixes its thread pools at the first op: a second run with
        # another count keeps the first (reported, so a table never hides it).
        if self._threads is None:
            try:
                self.tf.config.threading.set_intra_op_parallelism_threads(threads)
                self.tf.config.threading.set_inter_op_parallelism_threads(threads)
                self._threads = threads
            except RuntimeError:  # already initialised by someone else
                self._threads = self.tf.config.threading.get_intra_op_parallelism_threads()
        return self._threads

    def _nhwc(self, array):
        return self.tf.constant(np.ascontiguousarray(array.transpose(0, 2, 3, 1)))

    def _outputs(self, result):
        out = []
        for t in result:
            a = t.numpy()
            out.append(a.transpose(0, 3, 1, 2) if a.ndim == 4 else a)
        return tuple(out)

    def conv(self, case, data, pass_):
        tf = self.tf
        if case.groups != 1:
            raise Unsupported("TensorFlow's CPU conv2d has no groups")
        x, gy = self._nhwc(data["x"]), self._nhwc(data["grad_output"])
        w = tf.constant(np.ascontiguousarray(data["weight"].transpose(2, 3, 1, 0)))  # HWIO
        b = tf.constant(data["bias"])
        strides, dilations = [1, case.stride, case.stride, 1], [1, case.dilation, case.dilation, 1]
        p = case.pad
        geometry = dict(strides=strides, dilations=dilations, data_format="NHWC",
                        padding="EXPLICIT" if p else "VALID",
                        explicit_paddings=[0, 0, p, p, p, p, 0, 0] if p else [])
        raw = tf.raw_ops
        input_sizes, filter_sizes = tf.constant(x.shape.as_list()), tf.constant(w.shape.as_list())

        def forward():
            return raw.BiasAdd(value=raw.Conv2D(input=x, filter=w, **geometry), bias=b)

        if pass_ == "fwd":
            graph = tf.function(lambda: (forward(),))
        else:
            def both():
                y = forward()
                gx = raw.Conv2DBackpropInput(input_sizes=input_sizes, filter=w,
                                             out_backprop=gy, **geometry)
                gw = raw.Conv2DBackpropFilter(input=x, filter_sizes=filter_sizes,
                                              out_backprop=gy, **geometry)
                return y, gx, gw, raw.BiasAddGrad(out_backprop=gy)
            graph = tf.function(both)

        def outputs(result):
            out = list(self._outputs(result))
            if len(out) > 2:
                out[2] = result[2].numpy().transpose(3, 2, 0, 1)  # HWIO -> OIHW
            return tuple(out)
        return Prepared(graph, outputs)

    def pool(self, case, data, pass_):
        tf = self.tf
        x = data["x"]
        p = case.pad
        if p:
            # TF pooling knows only SAME/VALID: torch's symmetric padding is
            # done once here (outside the timing) with -inf, then VALID.
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        x, gy = self._nhwc(x), self._nhwc(data["grad_output"])
        geometry = dict(ksize=[1, case.kernel, case.kernel, 1],
                        strides=[1, case.step, case.step, 1], padding="VALID")
        raw = tf.raw_ops
        # MaxPool + MaxPoolGrad (which recomputes the argmax from the input) is
        # the gradient TensorFlow's autodiff uses for max_pool2d; MaxPoolWithArgmax
        # + MaxPoolGradWithArgmax measured no faster on the 32x64x32x32 case.
        if pass_ == "fwd":
            graph = tf.function(lambda: (raw.MaxPool(input=x, **geometry),))
        else:
            def both():
                y = raw.MaxPool(input=x, **geometry)
                return y, raw.MaxPoolGrad(orig_input=x, orig_output=y, grad=gy, **geometry)
            graph = tf.function(both)

        def outputs(result):
            out = self._outputs(result)
            if len(out) > 1 and p:
                out = (out[0], out[1][:, :, p:-p, p:-p])
            return out
        return Prepared(graph, outputs)


# Column order of the tables: cconv first, then the baseline, then the frameworks.
PEERS = {peer.name: peer for peer in (CconvPeer, NumpyPeer, TorchPeer, TensorFlowPeer)}


def load_peers(names=None):
    """{name: loaded peer} of the importable ones and {name: reason} of the rest."""
    loaded, missing = {}, {}
    for name in names or PEERS:
        if name not in PEERS:
            raise ValueError(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")
        peer = PEERS[name]()
        try:
            peer.load()
        except Unavailable as reason:
            missing[name] = str(reason)
        else:
            loaded[name] = peer
    return loaded, missing
