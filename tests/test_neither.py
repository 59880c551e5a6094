"""The "neither" experiment: a dog/human network with and without a third class, on images of neither."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from softmaxkit import datasets
from softmaxkit.exceptions import DatasetNotFoundError
from softmaxkit.neither import MODELS, format_neither, neither_experiment
from softmaxkit.plot import new_axes, plot_neither

#: Small and quick on the 8x8 digits (about 0.3 s a run); the defaults train properly.
QUICK = dict(hidden=(32,), epochs=30)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """The models here are tiny: on a busy machine BLAS threads only fight each other."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


@pytest.fixture(scope="module")
def noise():
    """Uniform noise images: an extra set of neither dogs nor humans."""
    return np.random.default_rng(1).random((60, 1, 8, 8), dtype=np.float32)


@pytest.fixture(scope="module")
def result(digits, noise):
    return neither_experiment(digits, extra_unseen={"noise": noise}, rng=np.random.default_rng(0), **QUICK)


def without_timing(d):
    return {**d, "settings": {k: v for k, v in d["settings"].items() if k != "seconds"}}


def test_result_structure(result, digits, noise):
    assert set(result.test) == set(MODELS)
    assert (result.dog, result.human, result.neither, result.unseen) == (3, 7, (0, 1, 2, 4, 5), (6, 8, 9))
    assert [s.name for s in result.sets] == ["neither digits 0,1,2,4,5", "unseen digits 6,8,9", "noise"]
    assert [s.seen_by_three_class for s in result.sets] == [True, False, False]
    y = digits.y_test
    assert result.test["two-class"].n == np.count_nonzero((y == 3) | (y == 7))
    assert [s.n for s in result.sets] == [
        np.count_nonzero(np.isin(y, (0, 1, 2, 4, 5))),
        np.count_nonzero(np.isin(y, (6, 8, 9))),
        len(noise),
    ]
    assert result.model_two.output_shape() == (2,) and result.model_three.output_shape() == (3,)
    s = result.settings
    assert s["n_train"]["two-class"] + s["n_val"]["two-class"] == np.count_nonzero(np.isin(digits.y_train, (3, 7)))
    # balanced: the neither class is about as large as the dog and human classes
    n_neither = (
        s["n_train"]["three-class"] + s["n_val"]["three-class"] - np.count_nonzero(np.isin(digits.y_train, (3, 7)))
    )
    assert n_neither == round(np.count_nonzero(np.isin(digits.y_train, (3, 7))) / 2)
    out = json.loads(json.dumps(result.to_dict()))
    assert out["models"] == list(MODELS) and len(out["sets"]) == 3
    assert set(out["test"]["reject"]) == {"accuracy", "coverage", "accuracy_answered", "n"}
    assert result.notes == ()  # extra_unseen given: no Fashion-MNIST to look for


def test_numbers_in_range(result):
    for m in MODELS:
        scores = result.test[m]
        assert 0.7 < scores.accuracy <= scores.accuracy_answered <= 1.0  # a rejection counts as an error
        assert 0.7 < scores.coverage <= 1.0  # (seeds 0-9: 0.84-1.00; 26 validation images choose the threshold)
        assert scores.accuracy_answered > 0.9
        assert math.isclose(scores.accuracy, scores.accuracy_answered * scores.coverage)
        for s in result.sets:
            assert 0.0 <= s.confidently_forced[m] <= s.forced[m] <= 1.0
    assert result.test["two-class"].coverage == 1.0
    assert 0.0 < result.reject_below < 1.0 and result.confident == 0.9
    for s in result.sets:
        assert s.forced["two-class"] == 1.0  # a two-class softmax answers every image
        assert s.forced["reject"] <= 1.0
        assert s.confidently_forced["reject"] <= s.confidently_forced["two-class"]  # the same network, fewer answers


def test_three_class_model_forces_fewer_unseen_digits(result):
    seen, unseen, _ = result.sets
    assert seen.forced["three-class"] < 0.25  # it learnt its neither class ...
    assert unseen.forced["three-class"] < 0.6  # ... which catches some unseen digits too
    # with these settings, seeds 0-9 give 0.00-0.07 against 0.22-0.38 for the two-class network
    assert unseen.confidently_forced["three-class"] < unseen.confidently_forced["two-class"] - 0.1


def test_rejecting_nothing_is_the_two_class_model(digits):
    r = neither_experiment(digits, reject_below=0.0, extra_unseen=None, rng=np.random.default_rng(0), **QUICK)
    assert r.reject_below == 0.0 and r.settings["reject_below_fixed"] and r.settings["coverage"] is None
    assert r.test["reject"] == r.test["two-class"]
    for s in r.sets:
        assert s.forced["reject"] == s.forced["two-class"] == 1.0
        assert s.confidently_forced["reject"] == s.confidently_forced["two-class"]
    assert "(fixed)" in format_neither(r)


def test_reproducible_from_the_seed(digits, result, noise):
    again = neither_experiment(digits, extra_unseen={"noise": noise}, rng=np.random.default_rng(0), **QUICK)
    assert without_timing(again.to_dict()) == without_timing(result.to_dict())
    assert format_neither(again) == format_neither(result)
    other = neither_experiment(digits, extra_unseen={"noise": noise}, rng=np.random.default_rng(1), **QUICK)
    assert without_timing(other.to_dict()) != without_timing(result.to_dict())


def test_two_class_model_ignores_the_neither_choices(digits, result, noise):
    other = neither_experiment(
        digits, neither=(0, 9), balance=False, extra_unseen={"noise": noise}, rng=np.random.default_rng(0), **QUICK
    )
    assert other.test["two-class"] == result.test["two-class"] and other.test["reject"] == result.test["reject"]
    assert other.reject_below == result.reject_below
    assert other.sets[-1].forced["reject"] == result.sets[-1].forced["reject"]  # the noise, seen the same way
    assert other.test["three-class"] != result.test["three-class"] or other.sets[-1] != result.sets[-1]


def test_options_change_the_groups(digits):
    r = neither_experiment(
        digits,
        dog=0,
        human=1,
        neither=(2, 3, 4, 5, 6, 7, 8, 9),
        balance=False,
        epochs=3,
        hidden=(16,),
        extra_unseen=None,
        rng=np.random.default_rng(0),
    )
    assert r.unseen == () and [s.name for s in r.sets] == ["neither digits 2,3,4,5,6,7,8,9"]
    assert "no unseen digits" in " ".join(r.notes)
    n_used = r.settings["n_train"]["three-class"] + r.settings["n_val"]["three-class"]
    assert n_used == len(digits.y_train)  # balance=False: every training image


def test_format_table(result):
    table = format_neither(result)
    lines = table.splitlines()
    assert lines[0] == "dog = 3, human = 7, neither = 0,1,2,4,5 (digits)"
    assert "2-class" in lines[1] and "2-class+reject" in lines[1] and "3-class" in lines[1]
    assert any(line.startswith("unseen digits 6,8,9 (") for line in lines)
    assert sum("... with p >= 0.9" in line for line in lines) == 3
    assert "top probability is below" in table and "validation images" in table
    assert " s)" not in table  # no timings: the same seed prints the same text


def test_plot(result):
    ax = plot_neither(result)
    assert len(ax.patches) == len(MODELS) * (1 + len(result.sets))
    heights = [p.get_height() for p in ax.patches]
    assert heights[0] == pytest.approx(result.test["two-class"].accuracy)
    given = new_axes()
    assert plot_neither(result, ax=given) is given


def test_mnist_missing_falls_back_to_digits(monkeypatch):
    load = datasets.load

    def no_mnist(name, **kwargs):
        if name in ("mnist", "fashion-mnist"):
            raise DatasetNotFoundError(f"{name}: not here")
        return load(name, **kwargs)

    monkeypatch.setattr(datasets, "load", no_mnist)
    r = neither_experiment(None, epochs=2, hidden=(8,), rng=np.random.default_rng(0))
    assert r.data == "digits" and "MNIST not found" in r.notes[0]
    assert "Fashion-MNIST left out" in r.notes[1]  # digits are 8x8, Fashion-MNIST 28x28


def test_fashion_mnist_missing_is_a_note(monkeypatch):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 6)
    fake = SimpleNamespace(
        x_train=rng.random((60, 1, 28, 28), dtype=np.float32),
        y_train=y,
        x_test=rng.random((60, 1, 28, 28), dtype=np.float32),
        y_test=y,
        name="fake-mnist",
    )

    def no_fashion(name, **kwargs):
        raise DatasetNotFoundError(f"{name}: not here")

    monkeypatch.setattr(datasets, "load", no_fashion)
    r = neither_experiment(fake, epochs=1, hidden=(4,), rng=rng)
    assert r.notes == ("Fashion-MNIST not found on disk; left out (softmaxkit data fetch fashion-mnist)",)
    assert [s.name for s in r.sets] == ["neither digits 0,1,2,4,5", "unseen digits 6,8,9"]
    fake.name = "fashion-mnist"
    r = neither_experiment(fake, epochs=1, hidden=(4,), rng=rng)
    assert "it is the data set itself" in r.notes[0]


@pytest.mark.parametrize(
    "change, error, words",
    [
        ({"rng": None}, TypeError, "neither_experiment: rng"),
        ({"data": object()}, TypeError, "neither_experiment: data must be"),
        ({"dog": 3, "human": 3}, ValueError, "dog and human must be different labels, both are 3"),
        ({"dog": 10}, ValueError, r"dog must be a class label in \[0, 9\], got 10"),
        ({"neither": (0, 3)}, ValueError, r"neither must not contain the dog or human label, got \[3\]"),
        ({"neither": (0, 0)}, ValueError, "neither must not repeat a label"),
        ({"neither": ()}, ValueError, "neither must name at least one class label"),
        ({"neither": 5}, TypeError, "neither must be a sequence of class labels"),
        ({"neither": (0, -1)}, ValueError, "neither must be an integer >= 0"),
        ({"coverage": 0.0}, ValueError, r"coverage must be a number in \(0, 1\]"),
        ({"reject_below": 1.5}, ValueError, "reject_below must be"),
        ({"confident": 0.0}, ValueError, "confident must be"),
        ({"val_fraction": 0.0}, ValueError, "val_fraction must be"),
        ({"hidden": ()}, ValueError, "hidden must name at least one layer width"),
        ({"hidden": (8, 0)}, ValueError, "hidden must be a positive integer"),
        ({"balance": "yes"}, TypeError, "balance must be True or False"),
        ({"extra_unseen": "fashion"}, ValueError, "extra_unseen must be 'auto', None or a dict"),
        (
            {"extra_unseen": {"x": np.zeros((3, 1, 28, 28))}},
            ValueError,
            r"extra_unseen\['x'\] must hold images of shape \(n, 1, 8, 8\)",
        ),
    ],
)
def test_bad_arguments(digits, change, error, words):
    kwargs = {"data": digits, "rng": np.random.default_rng(0), "extra_unseen": None, **QUICK, **change}
    with pytest.raises(error, match=words):
        neither_experiment(**kwargs)
