"""Multi-label heads: pair images, the sigmoid/softmax losses and gradients, training, metrics, the CLI."""

import argparse
import json
import math

import numpy as np
import pytest

from softmaxkit import multilabel as ml
from softmaxkit.multilabel.pairs import is_half_blank
from softmaxkit.nn import architectures, optim
from softmaxkit.plot import plot_multilabel_examples
from softmaxkit.testing import numerical_gradient as numerical_grad
from softmaxkit.train import fit


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """The models here are tiny: on a busy machine BLAS threads only fight each other (10x slower)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def coded_images(n_classes=4, per_class=3):
    """Constant images whose pixel value encodes the label (label k -> value k + 1), so halves decode."""
    y = np.repeat(np.arange(n_classes), per_class)
    x = np.broadcast_to((y + 1.0)[:, None, None, None], (len(y), 1, 2, 3)).astype(np.float32)
    return x, y


def decode(x_pairs, n_classes):
    """The label set of each pair image, read back from the pixel values."""
    w = x_pairs.shape[-1] // 2
    Y = np.zeros((len(x_pairs), n_classes), np.float32)
    for i, img in enumerate(x_pairs):
        for half in (img[..., :w], img[..., w:]):
            assert np.all(half == half.flat[0])  # a half is one whole source image (or blank)
            if half.flat[0]:
                Y[i, int(half.flat[0]) - 1] = 1
    return Y


# --------------------------------------------------------------------------- pair_images
def test_pair_images_shapes_and_labels_match_the_halves(rng):
    x, y = coded_images()
    xp, Y = ml.pair_images(x, y, n=400, rng=rng, n_classes=4)
    assert xp.shape == (400, 1, 2, 6) and xp.dtype == np.float32
    assert Y.shape == (400, 4) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y, decode(xp, 4))
    sizes = Y.sum(axis=1)
    assert set(np.unique(sizes)) == {1.0, 2.0}  # one digit (blank half or a same-class pair) or two
    blank = np.array([is_half_blank(img) for img in xp])
    assert 0.1 < blank.mean() < 0.3  # p_single = 0.2
    assert np.all(sizes[blank] == 1)
    left_blank = (xp[..., :3] == 0).all(axis=(1, 2, 3))
    assert np.any(blank & left_blank) and np.any(blank & ~left_blank)  # either side may be blank


def test_pair_images_options(rng):
    x, y = coded_images()
    xp, Y = ml.pair_images(x, y, n=300, rng=rng, n_classes=4, p_single=0.0, allow_same=False)
    assert np.all(Y.sum(axis=1) == 2)  # no blank halves, never the same class twice
    np.testing.assert_array_equal(Y, decode(xp, 4))
    xp, Y = ml.pair_images(x, y, n=50, rng=rng, n_classes=4, p_single=1.0)
    assert np.all(Y.sum(axis=1) == 1) and all(is_half_blank(img) for img in xp)
    xp, Y = ml.pair_images(x, y, n=0, rng=rng, n_classes=4)
    assert xp.shape == (0, 1, 2, 6) and Y.shape == (0, 4)


def test_pair_images_is_reproducible():
    x, y = coded_images()
    a = ml.pair_images(x, y, n=100, rng=np.random.default_rng(5), n_classes=4)
    b = ml.pair_images(x, y, n=100, rng=np.random.default_rng(5), n_classes=4)
    c = ml.pair_images(x, y, n=100, rng=np.random.default_rng(6), n_classes=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "change, error, words",
    [
        (dict(rng=None), TypeError, "rng must be a numpy.random.Generator"),
        (dict(rng=0), TypeError, "rng"),
        (dict(n=-1), ValueError, "n must be an integer >= 0"),
        (dict(n=2.5), TypeError, "n must be an integer"),
        (dict(n_classes=3), ValueError, "label 3"),
        (dict(p_single=1.5), ValueError, "p_single must be a number in [0, 1]"),
        (dict(allow_same="no"), TypeError, "allow_same"),
        (dict(x=np.zeros((12, 2, 3))), ValueError, "x must have shape (n_images, channels, height, width)"),
        (dict(x=np.array([["a"]] * 12)), TypeError, "x must be a numeric"),
        (dict(y=np.zeros(12)), TypeError, "y must hold integer class labels"),
        (dict(y=np.zeros(5, int)), ValueError, "y must have shape (12,)"),
        (dict(y=np.full(12, -1)), ValueError, "label -1"),
        (dict(y=np.zeros(12, int), allow_same=False), ValueError, "at least 2 classes"),
        (dict(x=np.zeros((1, 1, 2, 2)), y=np.zeros(1, int)), ValueError, "at least 2 images"),
    ],
)
def test_pair_images_rejects_bad_arguments(change, error, words):
    x, y = coded_images()
    kwargs = dict(x=x, y=y, n=5, rng=np.random.default_rng(0), n_classes=4) | change
    with pytest.raises(error, match="pair_images") as info:
        ml.pair_images(kwargs.pop("x"), kwargs.pop("y"), **kwargs)
    assert words in str(info.value)


# --------------------------------------------------------------------------- losses and gradients
@pytest.mark.parametrize("head", ml.HEADS)
def test_loss_gradient_matches_finite_differences(head, rng):
    z = rng.normal(scale=3.0, size=(5, 4))
    Y = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]], float)
    loss, grad = ml.multilabel_loss_and_grad(z, Y, head=head)
    assert grad.shape == z.shape and grad.dtype == np.float64 and math.isfinite(loss)
    num = numerical_grad(lambda: ml.multilabel_loss_and_grad(z, Y, head=head)[0], z)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_softmax_loss_uses_the_label_set_as_a_uniform_target():
    z = np.array([[0.3, -1.0, 2.0]])
    Y = np.array([[1.0, 0.0, 1.0]])
    logp = z - np.log(np.exp(z).sum())
    loss, _ = ml.multilabel_loss_and_grad(z, Y, head="softmax")
    assert loss == pytest.approx(-0.5 * (logp[0, 0] + logp[0, 2]))


@pytest.mark.parametrize("head", ml.HEADS)
def test_training_gradient_through_a_tiny_model(head):
    """Central differences of the full multi-label training loss with respect to every weight."""
    rng = np.random.default_rng(1)
    model = architectures.mlp((1, 2, 4), 3, hidden=(5,), rng=rng).astype(np.float64)
    x = rng.normal(size=(6, 1, 2, 4))
    Y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]], float)

    def loss():
        return ml.multilabel_loss_and_grad(model.forward(x), Y, head=head)[0]

    _, grad = ml.multilabel_loss_and_grad(model.forward(x, training=True), Y, head=head)
    model.backward(grad)
    for param, analytic, name in model.parameters():
        np.testing.assert_allclose(analytic, numerical_grad(loss, param), rtol=1e-5, atol=1e-8, err_msg=name)


def test_loss_rejects_bad_input():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="multilabel_loss_and_grad: head must be one of"):
        ml.multilabel_loss_and_grad(z, np.ones((2, 3)), head="relu")
    with pytest.raises(ValueError, match=r"Y must have shape \(2, 3\)"):
        ml.multilabel_loss_and_grad(z, np.ones((2, 4)))
    with pytest.raises(ValueError, match="multi-hot"):
        ml.multilabel_loss_and_grad(z, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="at least one label"):
        ml.multilabel_loss_and_grad(z, np.array([[1, 0, 0], [0, 0, 0]]), head="softmax")
    ml.multilabel_loss_and_grad(z, np.array([[1, 0, 0], [0, 0, 0]]), head="sigmoid")  # "nothing" is fine


# --------------------------------------------------------------------------- training and metrics
@pytest.mark.parametrize("head", ml.HEADS)
def test_training_through_fit_is_deterministic_and_checks_targets(head):
    x, y = coded_images()
    xp, Y = ml.pair_images(x / 4, y, n=64, rng=np.random.default_rng(0), n_classes=4)
    runs = []
    for _ in range(2):
        model = architectures.mlp((1, 2, 6), 4, hidden=(8,), rng=np.random.default_rng(2))
        history = fit(
            model,
            xp,
            Y,
            loss=ml.MultiLabelLoss(head),
            optimizer=optim.Adam(1e-2),
            rng=np.random.default_rng(3),
            epochs=3,
            batch_size=16,
            progress=False,
        )
        runs.append(model.predict_logits(xp))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert [row["epoch"] for row in history.epochs] == [1, 2, 3]
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    assert all(math.isnan(row["train_accuracy"]) for row in history.epochs)  # no single-class accuracy
    with pytest.raises(ValueError, match=r"fit: y must have shape \(64, 4\)"):
        fit(model, xp, Y[:, :3], loss=ml.MultiLabelLoss(head), optimizer=optim.Adam(), rng=np.random.default_rng())
    with pytest.raises(ValueError, match="fit: y must be multi-hot"):
        fit(model, xp, Y / 2, loss=ml.MultiLabelLoss(head), optimizer=optim.Adam(), rng=np.random.default_rng())
    with pytest.raises(ValueError, match="MultiLabelLoss: head must be one of"):
        ml.MultiLabelLoss("tanh")


def test_metrics_by_hand():
    Y = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    p = np.array([[0.6, 0.7, 0.1], [0.2, 0.4, 0.9], [0.5, 0.3, 0.2]])
    m = ml.multilabel_metrics(Y, p)
    assert m.exact_set_accuracy == pytest.approx(1 / 3)
    assert (m.exact_set_accuracy_one, m.exact_set_accuracy_two) == (0.0, 0.5)
    assert m.exact_set_accuracy_top_k == pytest.approx(1 / 3)  # image 1 ranks 2 first, image 2 ranks 1 second
    assert m.micro_f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 3))  # TP 2, FP 1, FN 3
    assert m.mean_prob_true_high == pytest.approx((0.7 + 0.5) / 2)
    assert m.mean_prob_true_low == pytest.approx((0.6 + 0.2) / 2)
    assert m.both_yes_rate == 0.5 and m.mean_prob_true_one == pytest.approx(0.4)
    assert (m.n_images, m.n_two) == (3, 2)


def test_metrics_on_empty_subsets_are_nan_without_warnings():
    m = ml.multilabel_metrics(np.array([[1, 0]]), np.array([[0.9, 0.1]]))
    assert m.exact_set_accuracy == 1.0
    assert math.isnan(m.both_yes_rate) and math.isnan(m.mean_prob_true_high) and math.isnan(m.exact_set_accuracy_two)
    m = ml.multilabel_metrics(np.ones((2, 1)), np.array([[0.9], [0.2]]))
    assert m.exact_set_accuracy == 0.5 and math.isnan(m.both_yes_rate)
    with pytest.raises(ValueError, match=r"multilabel_metrics: threshold must be a number in \(0, 1\)"):
        ml.multilabel_metrics(np.ones((1, 2)), np.ones((1, 2)), threshold=1.0)


@pytest.fixture(scope="module")
def comparison():
    from softmaxkit import datasets

    return ml.compare_heads(
        datasets.load("digits"), n_train=5000, n_test=800, epochs=8, hidden=(64,), lr=1e-2, rng=np.random.default_rng(0)
    )


def test_sigmoid_head_learns_and_says_yes_to_both(comparison):
    sig, soft = comparison.sigmoid, comparison.softmax
    # chance of guessing an exact set among ~55 possible ones is about 2%
    assert sig.exact_set_accuracy > 0.4 and sig.micro_f1 > 0.75
    assert sig.both_yes_rate > 0.4 and sig.exact_set_accuracy_two > 0.3
    assert sig.exact_set_accuracy_one > 0.5  # it can also say "just one"
    assert soft.exact_set_accuracy_top_k > 0.5  # the softmax head ranks well ...
    assert soft.both_yes_rate == 0.0 and soft.exact_set_accuracy_two == 0.0  # ... but never says yes twice
    assert soft.mean_prob_true_high + soft.mean_prob_true_low <= 1.0
    assert np.max((comparison.p_softmax > 0.5).sum(axis=1)) <= 1  # impossible: the mass sums to 1
    np.testing.assert_allclose(comparison.p_softmax.sum(axis=1), 1.0, rtol=1e-9)
    assert np.count_nonzero((comparison.p_sigmoid > 0.5).sum(axis=1) == 2) > 0.3 * len(comparison.Y_test)


def test_comparison_reports(comparison):
    out = comparison.to_dict()
    json.dumps(out)
    assert set(out["sigmoid"]) == set(out["softmax"]) and out["settings"]["n_test"] == 800
    table = ml.format_comparison(comparison)
    assert "exact-set accuracy" in table and "sigmoid" in table and "softmax" in table
    lines = ml.format_examples(comparison, n=3).splitlines()
    assert len(lines) == 3 and all(" | softmax " in line for line in lines)
    assert any("and a blank" in line for line in lines)
    assert ml.format_examples(comparison, n=0) == ""


def test_plot_examples(comparison):
    c = comparison
    axes = plot_multilabel_examples(c.x_test, c.Y_test, c.p_sigmoid, c.p_softmax, c.class_names, n=3)
    assert axes.shape == (2, 3)
    assert len(axes[1, 0].patches) == 2 * len(c.class_names)


def test_compare_heads_checks_arguments():
    with pytest.raises(TypeError, match="compare_heads: rng"):
        ml.compare_heads(object(), rng=None)
    with pytest.raises(TypeError, match="compare_heads: data must be"):
        ml.compare_heads(object(), rng=np.random.default_rng())
    with pytest.raises(ValueError, match="compare_heads: lr"):
        ml.compare_heads(object(), rng=np.random.default_rng(), lr=-1.0)


# --------------------------------------------------------------------------- the CLI command
def run_cli(argv):
    from softmaxkit.cli.multilabel import register

    parser = argparse.ArgumentParser(prog="softmaxkit")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["multilabel", *argv])
    return args.func(args)


SMALL = ["--n-train", "600", "--n-test", "120", "--epochs", "1", "--hidden", "16"]


def test_cli_prints_table_and_examples(capsys, tmp_path):
    assert run_cli([*SMALL, "--seed", "3", "--plot", str(tmp_path / "ex.png")]) == 0
    out = capsys.readouterr().out
    assert "exact-set accuracy" in out and "both p > 0.5" in out
    assert "image " in out and " | softmax " in out
    assert (tmp_path / "ex.png").stat().st_size > 0


def test_cli_json(capsys):
    assert run_cli([*SMALL, "--json", "--examples", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["softmax"]["both_yes_rate"] == 0.0 and len(out["examples"]) == 2


def test_cli_user_errors():
    from softmaxkit.cli import CLIError

    with pytest.raises(SystemExit):  # argparse rejects it with a usage message
        run_cli([*SMALL[:-2], "--hidden", "a,b"])
    with pytest.raises(SystemExit):
        run_cli([*SMALL, "--p-single", "2"])
    with pytest.raises(CLIError, match="cannot load data 'imagenet'"):
        run_cli([*SMALL, "--data", "imagenet"])
    with pytest.raises(SystemExit):
        run_cli(["--threshold", "1.5"])
