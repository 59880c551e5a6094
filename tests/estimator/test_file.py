"""Model files: the estimator round trip, the command line on a saved estimator, plain model files, hostile sections."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from softmaxkit import SoftmaxClassifier, nn
from softmaxkit.calibration import CalibratedModel, load_model
from softmaxkit.cli import main
from softmaxkit.exceptions import ModelFileError
from softmaxkit.train import fit

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:500] / 16).astype(np.float32), y[:500]


def small(**params):
    return SoftmaxClassifier((16,), learning_rate_init=0.01, max_iter=20, random_state=0, **params)


@pytest.mark.parametrize(
    "labels",
    [
        np.arange(10) * 3 - 7,
        np.arange(10).astype(np.uint8),
        np.array(list("abcdefghij")),
        np.array([f"digit {d}" for d in range(10)], dtype=object),
        np.arange(10) * 2.0,
    ],
    ids=["int", "uint8", "str", "object", "float"],
)
def test_round_trip_predicts_identically(tmp_path, digits, labels):
    X, y = digits
    first = labels[0].item() if isinstance(labels[0], np.generic) else labels[0]
    est = small(class_weight={first: 2.0}).fit(X, labels[y])
    path = tmp_path / "est.skm"
    est.save(path)
    back = SoftmaxClassifier.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.classes_.dtype == est.classes_.dtype and back.get_params() == est.get_params()
    for name in ("n_features_in_", "loss_curve_", "n_iter_", "t_", "best_loss_", "validation_scores_"):
        assert getattr(back, name) == getattr(est, name)
    assert back.calibrator_ is None


def test_bool_labels_and_feature_names_round_trip(tmp_path, digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"pixel {i}" for i in range(64)])
    est = small(early_stopping=True).fit(frame, y > 4)
    est.save(tmp_path / "est.skm")
    back = SoftmaxClassifier.load(tmp_path / "est.skm")
    np.testing.assert_array_equal(back.feature_names_in_, frame.columns)
    assert back.classes_.dtype == bool and back.validation_scores_ == est.validation_scores_
    np.testing.assert_array_equal(back.predict(frame), est.predict(frame))


def test_a_generator_random_state_is_saved_as_its_seed(tmp_path, digits):
    X, y = digits
    est = small().set_params(random_state=np.random.default_rng(5)).fit(X, y)
    est.save(tmp_path / "est.skm")
    back = SoftmaxClassifier.load(tmp_path / "est.skm")
    assert back.random_state is None
    assert back.model_.metadata["train_args"]["seed"] == est.model_.metadata["train_args"]["seed"]


def test_a_temperature_scaled_estimator_is_a_calibrated_model_file(tmp_path, digits):
    X, y = digits
    est = small(temperature_scaling=True, early_stopping=True).fit(X, y)
    path = tmp_path / "cal.skm"
    est.save(path)
    back = SoftmaxClassifier.load(path)
    assert back.calibrator_.temperature_ == est.calibrator_.temperature_
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    model = load_model(path)
    assert isinstance(model, CalibratedModel) and model.class_names == [str(c) for c in est.classes_]
    np.testing.assert_allclose(model.predict_proba(X), est.predict_proba(X), atol=1e-6)


def test_training_continues_after_loading(tmp_path, digits):
    X, y = digits
    small().fit(X, y).save(tmp_path / "est.skm")
    back = SoftmaxClassifier.load(tmp_path / "est.skm").set_params(warm_start=True)
    before = back.score(X, y)
    back.partial_fit(X, y)
    assert back.n_iter_ == 21 and back.score(X, y) >= before - 0.05


def test_save_before_fit_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        SoftmaxClassifier().save(tmp_path / "est.skm")


@pytest.fixture
def saved(tmp_path, digits):
    """An estimator fitted with a held-out part on digits, its file, and the data as a .npz of 2-D features."""
    X, y = digits
    est = small(early_stopping=True).fit(X, y)
    path = tmp_path / "est.skm"
    est.save(path)
    data = tmp_path / "digits.npz"
    # the command line reads labels as positions in classes_; here they are the digits themselves
    np.savez(data, x=X, y=y, x_test=X[:100], y_test=y[:100])
    return est, path, data


def test_the_command_line_evaluates_a_saved_estimator(saved, capsys):
    est, path, data = saved
    assert main(["evaluate", str(path), "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    X, y = np.load(data)["x_test"], np.load(data)["y_test"]
    assert report["accuracy"] == pytest.approx(est.score(X, y))
    assert report["class_names"] == [str(c) for c in est.classes_] and report["calibration"] == "none"


def test_the_command_line_predicts_with_a_saved_estimator(saved, tmp_path, capsys):
    est, path, data = saved
    batch = tmp_path / "rows.npy"
    np.save(batch, np.load(data)["x"][:3])
    assert main(["predict", str(path), str(batch), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    predicted = [row["prediction"] for row in result["predictions"]]
    assert predicted == [str(c) for c in est.predict(np.load(batch))]
    probabilities = [row["top"][0]["probability"] for row in result["predictions"]]
    np.testing.assert_allclose(probabilities, est.predict_proba(np.load(batch)).max(axis=1), rtol=1e-6)


def test_the_command_line_calibrates_on_the_rows_fit_held_out(saved, tmp_path, capsys):
    _, path, data = saved
    out = tmp_path / "calibrated.skm"
    assert main(["calibrate", str(path), "--data", str(data), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["validation_rows"] == 50  # the rows early stopping held out: 10% of 500, recreated from the seed
    assert isinstance(load_model(out), CalibratedModel)


def test_a_model_file_of_softmaxkit_train_loads_as_an_estimator(tmp_path, digits):
    X, y = digits
    rng = np.random.default_rng(0)
    model = nn.architectures.mlp((1, 8, 8), 10, hidden=(16,), dropout=0.1, rng=rng)
    model.class_names = [str(d) for d in range(10)]
    history = fit(model, X.reshape(-1, 1, 8, 8), y, optimizer=nn.Adam(1e-2), rng=rng, epochs=3, progress=False)
    model.metadata.update({"history": history.to_dict(), "train_args": {"seed": 0, "val_fraction": 0.1}})
    nn.save(model, tmp_path / "mlp.skm")
    est = SoftmaxClassifier.load(tmp_path / "mlp.skm")
    assert est.get_params()["hidden_layer_sizes"] == (16,) and est.dropout == 0.1 and est.n_features_in_ == 64
    np.testing.assert_array_equal(est.classes_, np.array(list("0123456789")))
    np.testing.assert_array_equal(est.predict(X), est.classes_[model.predict(X.reshape(-1, 1, 8, 8))])
    assert est.loss_curve_ == list(history.column("train_loss")) and est.n_iter_ == 3


def test_a_cnn_model_file_is_refused_with_a_clear_error(tmp_path):
    model = nn.architectures.cnn((1, 8, 8), 10, rng=np.random.default_rng(0))
    nn.save(model, tmp_path / "cnn.skm")
    with pytest.raises(
        ModelFileError, match=r"cnn.skm: this network \(Conv2D, .*\) is not one SoftmaxClassifier builds"
    ):
        SoftmaxClassifier.load(tmp_path / "cnn.skm")


def _section(est):
    from softmaxkit.estimator._file import state_section

    return state_section(est)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s.pop("n_iter"), "must hold exactly"),
        (lambda s: s.update(version=2), "has version 2"),
        (lambda s: s["classes"].update(dtype="<M8[ns]"), "not allowed"),
        (lambda s: s["classes"].update(dtype="<U100000"), "not allowed"),
        (lambda s: s["classes"].update(dtype="int64", values=["a"] * 10), "does not fit dtype int64"),
        (lambda s: s["classes"].update(values=list(range(9))), "number of classes disagrees"),
        (lambda s: s["classes"].update(values=list(range(1, 11))), "disagree with the network's class_names"),
        (lambda s: s["classes"].update(dtype="uint8", values=[300 + i for i in range(10)]), "does not fit dtype"),
        (lambda s: s.update(n_features_in=3), "n_features_in disagrees"),
        (lambda s: s.update(loss_curve=["x"]), "loss_curve must hold numbers"),
        (lambda s: s["params"].update(alpha=-1), "alpha must be a finite number >= 0"),
        (lambda s: s["params"].update(bogus=1), "parameters do not match"),
        (lambda s: s.update(feature_names_in=["a"]), "bad feature_names_in"),
    ],
)
def test_a_malformed_estimator_section_is_refused_naming_the_file(tmp_path, digits, change, match):
    X, y = digits
    est = small().fit(X, y)
    section = _section(est)
    change(section)
    path = tmp_path / "bad.skm"
    nn.save(est.model_, path, extras={"estimator": section})
    with pytest.raises(ModelFileError, match=f"bad.skm: .*{match}"):
        SoftmaxClassifier.load(path)
