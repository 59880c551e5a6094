"""The training loop: learning, determinism, early stopping, checkpoints, interruption."""

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.nn import architectures, optim
from softmaxkit.train import History, fit, train_val_split


def blobs(n=300, k=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    y = rng.integers(0, k, n)
    x = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    return x.reshape(n, 1, 2, d // 2), y


def small_mlp(seed=0, k=3):
    return architectures.mlp((1, 2, 2), k, hidden=(16,), rng=np.random.default_rng(seed))


def test_fit_learns_separable_blobs():
    x, y = blobs()
    model = small_mlp()
    history = fit(
        model, x, y, optimizer=optim.Adam(1e-2), rng=np.random.default_rng(0), epochs=15, batch_size=32, progress=False
    )
    assert isinstance(history, History)
    assert len(history.epochs) == 15
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    assert np.mean(model.predict(x) == y) > 0.95


def test_same_seed_same_run_bit_for_bit():
    x, y = blobs()
    runs = []
    for _ in range(2):
        model = small_mlp(seed=3)
        fit(
            model,
            x,
            y,
            optimizer=optim.SGD(0.1, momentum=0.9),
            rng=np.random.default_rng(7),
            epochs=3,
            batch_size=16,
            progress=False,
        )
        runs.append(model.predict_logits(x))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_early_stopping_restores_best_weights_and_checkpoints(tmp_path):
    x, y = blobs(n=200)
    rng = np.random.default_rng(0)
    xt, yt, xv, yv = train_val_split(x, y, val_fraction=0.5, rng=rng)
    yt = rng.permutation(yt)  # noise labels: validation loss soon gets worse
    model = small_mlp()
    path = tmp_path / "best.skm"
    history = fit(
        model,
        xt,
        yt,
        optimizer=optim.Adam(3e-2),
        rng=rng,
        epochs=60,
        batch_size=16,
        x_val=xv,
        y_val=yv,
        patience=3,
        checkpoint=path,
        progress=False,
    )
    assert history.stopped_early
    val = history.column("val_loss")
    assert history.best_epoch == int(np.argmin(val)) + 1
    saved = nn.load(path)
    np.testing.assert_allclose(saved.predict_logits(xv), model.predict_logits(xv), rtol=1e-6)


def test_keyboard_interrupt_keeps_best_model(tmp_path):
    x, y = blobs()
    model = small_mlp()
    path = tmp_path / "m.skm"

    def interrupt(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    history = fit(
        model,
        x,
        y,
        optimizer=optim.Adam(1e-2),
        rng=np.random.default_rng(0),
        epochs=10,
        x_val=x,
        y_val=y,
        checkpoint=path,
        progress=False,
        on_epoch_end=interrupt,
    )
    assert history.interrupted
    assert len(history.epochs) == 2
    assert path.exists()


def test_fit_rejects_bad_input():
    x, y = blobs()
    model = small_mlp()
    with pytest.raises(ValueError, match="fit: y has label 3 out of range"):
        fit(model, x, np.where(y == 0, 3, y), optimizer=optim.SGD(0.1), rng=np.random.default_rng(0), progress=False)
    with pytest.raises(ValueError, match="fit: x has 300 rows but y has 10"):
        fit(model, x, y[:10], optimizer=optim.SGD(0.1), rng=np.random.default_rng(0), progress=False)
    with pytest.raises(TypeError, match=r"fit: rng must be a numpy.random.Generator"):
        fit(model, x, y, optimizer=optim.SGD(0.1), rng=0, progress=False)
    with pytest.raises(ValueError, match="fit: epochs must be a positive integer"):
        fit(model, x, y, optimizer=optim.SGD(0.1), rng=np.random.default_rng(0), epochs=0, progress=False)


def test_train_val_split_is_stratified_and_reproducible():
    y = np.repeat(np.arange(4), 25)
    x = np.arange(100.0)
    a = train_val_split(x, y, val_fraction=0.2, rng=np.random.default_rng(1))
    b = train_val_split(x, y, val_fraction=0.2, rng=np.random.default_rng(1))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    xt, _, xv, yv = a
    assert np.bincount(yv).tolist() == [5, 5, 5, 5]
    assert set(xt).isdisjoint(set(xv)) and len(xt) + len(xv) == 100
