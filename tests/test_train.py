"""The training loop: learning, determinism, early stopping, checkpoints, interruption."""

import re

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


# ------------------------------------------------------------------------------------------------
# what SoftmaxClassifier needs: sample weights, the L2 penalty, the monitored quantity and tol


def float64_mlp(seed=0, k=3):
    return small_mlp(seed, k).astype(np.float64)


def test_integer_sample_weights_are_repeated_rows_in_a_full_batch():
    x, y = blobs(n=60)
    w = np.random.default_rng(1).integers(0, 4, len(y)).astype(float)
    runs = []
    for xs, ys, ws in ((x, y, w), (x.repeat(w.astype(int), axis=0), y.repeat(w.astype(int)), None)):
        model = float64_mlp()
        opt = optim.Adam(1e-2)
        history = fit(
            model,
            xs,
            ys,
            optimizer=opt,
            rng=np.random.default_rng(0),
            epochs=5,
            batch_size=1000,
            sample_weight=ws,
            progress=False,
        )
        runs.append((model.predict_logits(x), history.column("train_loss")))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-10)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-12)


def test_l2_penalises_weights_not_biases_divided_by_the_batch_weight():
    x, y = blobs(n=40)
    w = np.linspace(0.5, 2.0, len(y))
    model = float64_mlp()
    before = [{k: v.copy() for k, v in layer.params.items()} for layer in model.layers]
    lr, l2 = 0.1, 0.3
    history = fit(
        model,
        x,
        y,
        optimizer=optim.SGD(lr),
        rng=np.random.default_rng(0),
        epochs=1,
        batch_size=1000,
        sample_weight=w,
        l2=l2,
        progress=False,
    )
    plain = float64_mlp()
    fit(
        plain,
        x,
        y,
        optimizer=optim.SGD(lr),
        rng=np.random.default_rng(0),
        epochs=1,
        batch_size=1000,
        sample_weight=w,
        progress=False,
    )
    for old, with_l2, without in zip(before, model.layers, plain.layers):
        for key, value in old.items():
            shift = with_l2.params[key] - without.params[key]  # the penalty's part of the step
            expected = -lr * l2 / w.sum() * value if key == "weight" else np.zeros_like(value)
            np.testing.assert_allclose(shift, expected, atol=1e-12)
    penalty = 0.5 * l2 / w.sum() * sum(float(np.sum(o["weight"] ** 2)) for o in before if "weight" in o)
    unpenalised = fit(
        float64_mlp(),
        x,
        y,
        optimizer=optim.SGD(0.0),
        rng=np.random.default_rng(0),
        epochs=1,
        batch_size=1000,
        sample_weight=w,
        progress=False,
    )
    assert history.epochs[0]["train_loss"] == pytest.approx(unpenalised.epochs[0]["train_loss"] + penalty, rel=1e-12)


def test_a_batch_of_zero_weight_takes_no_step():
    x, y = blobs(n=8)
    model = float64_mlp()
    before = model.predict_logits(x)
    history = fit(
        model,
        x,
        y,
        optimizer=optim.Adam(1e-2),
        rng=np.random.default_rng(0),
        epochs=2,
        batch_size=4,
        sample_weight=np.where(np.arange(8) < 4, 1.0, 0.0),
        progress=False,
    )
    assert len(history.epochs) == 2
    assert not np.array_equal(model.predict_logits(x), before)
    with pytest.raises(ValueError, match="fit: sample_weight sums to zero; there is nothing to learn from"):
        fit(float64_mlp(), x, y, optimizer=optim.Adam(1e-2), rng=np.random.default_rng(0), sample_weight=np.zeros(8))


def test_monitoring_the_training_loss_stops_on_tol_and_keeps_the_latest_weights():
    x, y = blobs()
    model = small_mlp()
    history = fit(
        model,
        x,
        y,
        optimizer=optim.Adam(1e-2),
        rng=np.random.default_rng(0),
        epochs=50,
        batch_size=32,
        monitor="train_loss",
        tol=10.0,
        patience=3,
        progress=False,
    )
    assert history.stopped_early and len(history.epochs) == 4  # the first epoch improves on inf, then 3 do not
    assert history.best_epoch == 4


def test_monitoring_validation_accuracy_keeps_the_most_accurate_epoch():
    x, y = blobs(n=200)
    rng = np.random.default_rng(0)
    xt, yt, xv, yv = train_val_split(x, y, val_fraction=0.5, rng=rng)
    model = small_mlp()
    history = fit(
        model,
        xt,
        rng.permutation(yt),
        optimizer=optim.Adam(3e-2),
        rng=rng,
        epochs=30,
        batch_size=16,
        x_val=xv,
        y_val=yv,
        patience=4,
        monitor="val_accuracy",
        progress=False,
    )
    accuracy = history.column("val_accuracy")
    assert history.best_epoch == int(np.argmax(accuracy)) + 1
    assert np.mean(model.predict(xv) == yv) == pytest.approx(accuracy.max())


def test_weighted_validation_scores():
    x, y = blobs(n=100)
    model = small_mlp()
    w = np.where(y == 0, 3.0, 1.0)
    history = fit(
        model,
        x,
        y,
        optimizer=optim.Adam(1e-2),
        rng=np.random.default_rng(0),
        epochs=1,
        x_val=x,
        y_val=y,
        val_sample_weight=w,
        progress=False,
    )
    hits = model.predict(x) == y
    assert history.epochs[0]["val_accuracy"] == pytest.approx(np.average(hits, weights=w))


def test_a_float64_model_trains_on_float64_inputs():
    x, y = blobs(n=30)
    x64 = x.astype(np.float64) + 1e-9  # below float32 resolution: rounding to float32 would erase it
    a, b = float64_mlp(), float64_mlp()
    for model, xs in ((a, x64), (b, x.astype(np.float64))):
        fit(
            model,
            xs,
            y,
            optimizer=optim.SGD(0.1),
            rng=np.random.default_rng(0),
            epochs=1,
            batch_size=1000,
            progress=False,
        )
    assert not np.array_equal(a.layers[1].params["weight"], b.layers[1].params["weight"])


def test_new_options_are_checked():
    from softmaxkit.multilabel import MultiLabelLoss

    x, y = blobs(n=20)
    kw = dict(optimizer=optim.SGD(0.1), rng=np.random.default_rng(0), progress=False)
    with pytest.raises(
        ValueError, match=re.escape("fit: monitor must be one of 'val_loss' | 'val_accuracy' | 'train_loss'")
    ):
        fit(small_mlp(), x, y, monitor="loss", **kw)
    with pytest.raises(ValueError, match="fit: l2 must be a finite number >= 0"):
        fit(small_mlp(), x, y, l2=-1.0, **kw)
    with pytest.raises(ValueError, match=r"fit: sample_weight must have shape \(20,\)"):
        fit(small_mlp(), x, y, sample_weight=np.ones(3), **kw)
    with pytest.raises(ValueError, match="fit: sample_weight must be non-negative"):
        fit(small_mlp(), x, y, sample_weight=-np.ones(20), **kw)
    with pytest.raises(TypeError, match="fit: sample weights need a loss that accepts sample_weight="):
        fit(small_mlp(), x, np.eye(3)[y], loss=MultiLabelLoss("sigmoid"), sample_weight=np.ones(20), **kw)
