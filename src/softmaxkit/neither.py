r"""A "neither" class, measured: what a two-class network says about images of neither class.

A network that tells dogs from humans must call every image one or the other: its softmax spreads one
unit of probability over two classes, so a picture of a car is a "dog" or a "human", often with high
confidence. Two remedies are usual: reject inputs whose top probability is low ("none of the above",
:mod:`softmaxkit.selective`), or train a third, generic "neither" output on examples of other things.
:func:`neither_experiment` reproduces the argument with digits (a 3 is the "dog", a 7 the "human", a
few other digits are the "neither" examples) and measures all three models on the dog/human test images
and on images none of them was trained on (the remaining digits, and Fashion-MNIST's clothes). Also
``softmaxkit neither`` on the command line; :func:`format_neither` prints the table and
:func:`softmaxkit.plot.plot_neither` draws it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import FRACTION, OPEN_FRACTION, POSITIVE, Boolean, Integer, OrNone, Real, check_rng, validate
from .datasets.splits import train_val_split
from .exceptions import DatasetNotFoundError, Terminated
from .nn import architectures, optim
from .selective import REJECT, accuracy_coverage_curve, predict_with_reject
from .train import History, fit

__all__ = ["MODELS", "DogHumanScores", "SetScores", "NeitherResult", "neither_experiment", "format_neither"]

#: The three models, in the order every table and figure shows them.
MODELS = ("two-class", "reject", "three-class")

#: Short column titles of the models.
MODEL_TITLES = {"two-class": "2-class", "reject": "2-class+reject", "three-class": "3-class"}

#: The shape of a Fashion-MNIST image (one channel, 28 x 28 pixels).
_FASHION_SHAPE = (1, 28, 28)

_CONSTRAINTS = {
    "dog": Integer(0),
    "human": Integer(0),
    "epochs": Integer(1),
    "batch_size": Integer(1),
    "patience": OrNone(Integer(1)),
    "lr": POSITIVE,
    "val_fraction": OPEN_FRACTION,
    "coverage": Real(0, 1, closed="right"),
    "reject_below": OrNone(FRACTION),
    "confident": Real(0, 1, closed="right"),
    "balance": Boolean(),
    "progress": Boolean(),
}


@dataclass(frozen=True)
class DogHumanScores:
    """One model on the dog/human test images.

    Attributes
    ----------
    accuracy : float
        Share called by their true class; a rejected image, or one called "neither", is an error.
    coverage : float
        Share called dog or human at all (1 for the plain two-class model).
    accuracy_answered : float
        Accuracy on the images called dog or human (NaN if there are none).
    n : int
        Number of test images.
    """

    accuracy: float
    coverage: float
    accuracy_answered: float
    n: int


@dataclass(frozen=True)
class SetScores:
    """All three models on one set of images that are neither dog nor human.

    Attributes
    ----------
    name : str
        E.g. ``"unseen digits 6,8,9"`` or ``"fashion-mnist"``.
    n : int
        Number of images.
    seen_by_three_class : bool
        The three-class model was trained on other images of this kind (its "neither" digits); such a
        set shows that it learnt its third class, not that the class generalises.
    forced : dict of str to float
        Per model (:data:`MODELS`), the share called dog or human.
    confidently_forced : dict of str to float
        Per model, the share called dog or human with probability at least ``confident``.
    """

    name: str
    n: int
    seen_by_three_class: bool
    forced: dict
    confidently_forced: dict

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "n": self.n,
            "seen_by_three_class": self.seen_by_three_class,
            "forced": dict(self.forced),
            "confidently_forced": dict(self.confidently_forced),
        }


@dataclass
class NeitherResult:
    """What :func:`neither_experiment` measured.

    Attributes
    ----------
    test : dict of str to DogHumanScores
        Each model (:data:`MODELS`) on the dog/human test images.
    sets : tuple of SetScores
        The images of neither class: the three-class model's "neither" digits (test split), the
        unseen digits, and Fashion-MNIST when it was used.
    reject_below : float
        The rejection threshold of the ``"reject"`` model (top probability below it: no answer).
    confident : float
        The probability from which a dog/human answer counts as confident.
    data : str
        The data set's name.
    dog, human : int
        The labels playing the dog and the human.
    neither, unseen : tuple of int
        The labels the three-class model learnt as "neither", and the labels no model saw.
    notes : tuple of str
        What was left out and why (e.g. Fashion-MNIST not found).
    settings : dict
        ``epochs``, ``hidden``, ``lr``, ``batch_size``, ``patience``, ``val_fraction``, ``coverage``,
        ``balance``, ``n_train`` and ``n_val`` per trained model, ``seconds``.
    history_two, history_three : softmaxkit.train.History
    model_two, model_three : softmaxkit.nn.Sequential
        The trained networks (outputs: dog, human, and for ``model_three`` neither).
    """

    test: dict
    sets: tuple
    reject_below: float
    confident: float
    data: str
    dog: int
    human: int
    neither: tuple
    unseen: tuple
    notes: tuple
    settings: dict
    history_two: History = field(repr=False, default_factory=History)
    history_three: History = field(repr=False, default_factory=History)
    model_two: object = field(repr=False, default=None)
    model_three: object = field(repr=False, default=None)

    def to_dict(self) -> dict:
        """The scores and settings as plain JSON-ready values (no arrays; NaN becomes None)."""

        def clean(v):
            return None if isinstance(v, float) and math.isnan(v) else v

        return {
            "data": self.data,
            "dog": self.dog,
            "human": self.human,
            "neither": list(self.neither),
            "unseen": list(self.unseen),
            "models": list(MODELS),
            "reject_below": self.reject_below,
            "confident": self.confident,
            "test": {m: {k: clean(v) for k, v in vars(s).items()} for m, s in self.test.items()},
            "sets": [s.to_dict() for s in self.sets],
            "notes": list(self.notes),
            "settings": dict(self.settings),
            "best_epoch": {"two-class": self.history_two.best_epoch, "three-class": self.history_three.best_epoch},
        }


def _resolve_data(data, root, fname):
    """The data set, and a note when MNIST was wanted (``data=None``) but is not on disk."""
    from . import datasets

    if data is None:
        try:
            return datasets.load("mnist", root=root), ()
        except DatasetNotFoundError:
            return datasets.load("digits"), ("MNIST not found on disk; used scikit-learn's digits",)
    if isinstance(data, str):
        return datasets.load(data, root=root), ()
    missing = [a for a in ("x_train", "y_train", "x_test", "y_test") if not hasattr(data, a)]
    if missing:
        raise TypeError(
            f"{fname}: data must be None, a data set name or an object with x_train, y_train, x_test, "
            f"y_test (e.g. softmaxkit.datasets.load('digits')); it lacks {', '.join(missing)}"
        )
    return data, ()


def _check_labels(dog, human, neither, n_classes, fname):
    """The three label groups as ints, checked to exist and not to overlap; the unseen labels."""
    try:
        neither = tuple(neither)
    except TypeError:
        raise TypeError(f"{fname}: neither must be a sequence of class labels, got {neither!r}") from None
    if not neither:
        raise ValueError(f"{fname}: neither must name at least one class label, got an empty sequence")
    neither = tuple(Integer(0).check(k, "neither", fname) for k in neither)
    for name, k in (("dog", dog), ("human", human), *(("neither", k) for k in neither)):
        if k >= n_classes:
            raise ValueError(f"{fname}: {name} must be a class label in [0, {n_classes - 1}], got {k}")
    if dog == human:
        raise ValueError(f"{fname}: dog and human must be different labels, both are {dog}")
    if len(set(neither)) != len(neither):
        raise ValueError(f"{fname}: neither must not repeat a label, got {list(neither)}")
    taken = sorted({dog, human} & set(neither))
    if taken:
        raise ValueError(f"{fname}: neither must not contain the dog or human label, got {taken} in both")
    unseen = tuple(k for k in range(n_classes) if k not in {dog, human, *neither})
    return neither, unseen


def _extra_sets(extra_unseen, shape, root, data_name, fname):
    """Further images of neither class: Fashion-MNIST for ``"auto"`` (when found and the shape fits)."""
    if extra_unseen is None:
        return {}, ()
    if isinstance(extra_unseen, str):
        if extra_unseen != "auto":
            raise ValueError(
                f"{fname}: extra_unseen must be 'auto', None or a dict of name to images, got {extra_unseen!r}"
            )
        if str(data_name) == "fashion-mnist":
            return {}, ("Fashion-MNIST not added: it is the data set itself",)
        if tuple(shape) != _FASHION_SHAPE:  # known without loading it
            return {}, (f"Fashion-MNIST left out: its images are {_FASHION_SHAPE}, the data's are {tuple(shape)}",)
        from . import datasets

        try:
            fashion = datasets.load("fashion-mnist", root=root)
        except DatasetNotFoundError:
            return {}, ("Fashion-MNIST not found on disk; left out (softmaxkit data fetch fashion-mnist)",)
        return {"fashion-mnist": fashion.x_test}, ()
    if not isinstance(extra_unseen, dict):
        raise TypeError(f"{fname}: extra_unseen must be 'auto', None or a dict of name to images, got {extra_unseen!r}")
    sets = {}
    for name, x in extra_unseen.items():
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[1:] != tuple(shape) or len(x) == 0:
            raise ValueError(
                f"{fname}: extra_unseen[{name!r}] must hold images of shape (n, {', '.join(map(str, shape))}) "
                f"with n >= 1, got {x.shape}"
            )
        sets[str(name)] = x
    return sets, ()


def _answers(model, x, kind: str, reject_below: float):
    """Per image: 0 (dog), 1 (human) or REJECT (no dog/human answer), and the answer's probability."""
    p = model.predict_proba(x)
    if kind == "reject":
        label = predict_with_reject(p, reject_below=reject_below)
    else:
        label = np.argmax(p, axis=1)
        label = np.where(label < 2, label, REJECT)  # the three-class model's "neither" is no answer
    confidence = np.max(p[:, :2], axis=1)
    return label, confidence


def _split(x, y, dog, human, neither, *, balance, val_fraction, rng, fname):
    """Training and validation images (and digits) of the dog, human and neither labels.

    The dog and human rows are split on their own (stratified by digit), so the two-class model sees
    the same rows whatever ``neither`` and ``balance`` are; the neither rows, subsampled to the mean
    size of the dog and human classes when ``balance``, are split apart and appended.
    """
    for name, k in (("dog", dog), ("human", human)):
        if np.count_nonzero(y == k) < 2:
            raise ValueError(f"{fname}: the training split needs at least 2 images of the {name} label {k}")
    known = np.flatnonzero((y == dog) | (y == human))
    other = np.flatnonzero(np.isin(y, neither))
    if len(other) < 2:
        raise ValueError(f"{fname}: the training split has fewer than 2 images of the neither labels {list(neither)}")
    pick_rng, known_rng, other_rng = rng.spawn(3)
    if balance:
        other = np.sort(pick_rng.choice(other, size=min(len(other), round(len(known) / 2)), replace=False))
    parts = [
        train_val_split(x[rows], y[rows], val_fraction=val_fraction, rng=part_rng)
        for rows, part_rng in ((known, known_rng), (other, other_rng))
    ]
    return tuple(np.concatenate([a, b]) for a, b in zip(*parts))


def _test_scores(label, y) -> DogHumanScores:
    answered = label != REJECT
    correct = label == y
    return DogHumanScores(
        accuracy=float(np.mean(correct)),
        coverage=float(np.mean(answered)),
        accuracy_answered=float(np.mean(correct[answered])) if answered.any() else math.nan,
        n=len(label),
    )


def _train(model, x, y, x_val, y_val, progress, *, order_seed, lr, epochs, batch_size, patience):
    history = fit(
        model,
        x,
        y,
        optimizer=optim.Adam(lr),
        rng=np.random.default_rng(order_seed),
        epochs=epochs,
        batch_size=batch_size,
        x_val=x_val,
        y_val=y_val,
        patience=patience,
        progress=progress,
    )
    if history.interrupted:  # fit keeps the best weights on Ctrl-C; the experiment stops altogether
        raise Terminated if history.stop_signal == "SIGTERM" else KeyboardInterrupt
    return history


def neither_experiment(
    data=None,
    *,
    rng: np.random.Generator,
    dog: int = 3,
    human: int = 7,
    neither=(0, 1, 2, 4, 5),
    extra_unseen="auto",
    root=None,
    epochs: int = 10,
    hidden=(256, 128),
    lr: float = 1e-3,
    batch_size: int = 64,
    patience: int | None = 2,
    val_fraction: float = 0.1,
    coverage: float = 0.99,
    reject_below: float | None = None,
    confident: float = 0.9,
    balance: bool = True,
    progress: bool = False,
) -> NeitherResult:
    r"""Train a dog/human network with and without a "neither" class and see what each says about other images.

    Three models are compared, two of them trained, both the same MLP
    (:func:`softmaxkit.nn.architectures.mlp`, same initial hidden weights, Adam, early stopping on the
    validation loss, :func:`softmaxkit.train.fit`):

    (a) ``"two-class"``: dog against human;
    (b) ``"reject"``: the same network answering only when its top probability is at least
        :math:`\tau` (:func:`softmaxkit.selective.predict_with_reject`). :math:`\tau` is
        ``reject_below`` if given, else the largest threshold that still answers ``coverage`` of the
        dog/human validation images (:meth:`~softmaxkit.selective.AccuracyCoverage.threshold_at`);
    (c) ``"three-class"``: dog, human and neither, the neither images being the training images of
        the labels ``neither`` (as many as there are dog or human images when ``balance``).

    Training images come from the training split; ``val_fraction`` of them (stratified by digit, the
    same dog and human rows for both models, whatever ``neither`` and ``balance``) are held out for
    early stopping and for :math:`\tau`, so (a) and (b) do not depend on the neither choices. Each
    model is then judged on the dog/human test images (a rejected image, or one called neither, is
    an error) and on sets of images that are neither: the ``neither`` digits of the test split, the
    digits no model saw, and any ``extra_unseen`` images. On those it reports the share *forced*
    into dog or human,

    .. math::

        \text{forced} = \frac{1}{n} \sum_i [\hat y_i \in \{\text{dog}, \text{human}\}], \qquad
        \text{confidently forced} = \frac{1}{n} \sum_i [\hat y_i \in \{\text{dog}, \text{human}\}]
        \, [p_{\hat y_i}(x_i) \ge \text{confident}].

    Parameters
    ----------
    data : Dataset, str or None
        A data set with ``x_train, y_train, x_test, y_test`` (integer labels), a name for
        :func:`softmaxkit.datasets.load`, or None for ``"mnist"`` when it is on disk, else ``"digits"``.
    rng : numpy.random.Generator
        Source of the "neither" subsample, the validation split, the initial weights and the batch order.
    dog, human : int, default 3 and 7
        The labels of the two classes.
    neither : sequence of int, default (0, 1, 2, 4, 5)
        The labels the three-class model learns as "neither"; the labels in none of the three groups
        are the unseen digits.
    extra_unseen : "auto", None or dict of str to ndarray, default "auto"
        More images of neither class. ``"auto"`` adds Fashion-MNIST's test images when the data set
        is found on disk and its images have the data's shape (else a note says why not); a dict gives
        named image arrays of the data's image shape.
    root : str or path, optional
        Data root for data sets loaded by name (``data``, Fashion-MNIST).
    epochs : int, default 10
        Most epochs per model (early stopping may end sooner).
    hidden : tuple of int, default (256, 128)
        Hidden layer widths of the MLP.
    lr : float, default 1e-3
        Adam learning rate.
    batch_size : int, default 64
    patience : int or None, default 2
        Epochs without a better validation loss before stopping; None trains all ``epochs``.
    val_fraction : float in (0, 1), default 0.1
    coverage : float in (0, 1], default 0.99
        Share of the dog/human validation images the ``"reject"`` model answers (when ``reject_below``
        is None).
    reject_below : float in [0, 1], optional
        A fixed rejection threshold :math:`\tau` instead.
    confident : float in (0, 1], default 0.9
        The probability from which a dog/human answer counts as confident.
    balance : bool, default True
        Give the three-class model as many "neither" training images as the dog and human classes have
        on average (a random subsample); False uses them all.
    progress : bool, default False
        Show :func:`softmaxkit.train.fit`'s progress bars.

    Returns
    -------
    NeitherResult

    See Also
    --------
    softmaxkit.selective.predict_with_reject, format_neither, softmaxkit.plot.plot_neither

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.datasets import load
    >>> r = neither_experiment(load("digits"), hidden=(32,), epochs=20, extra_unseen=None,
    ...                        rng=np.random.default_rng(0))
    >>> r.unseen, [s.name for s in r.sets]
    ((6, 8, 9), ['neither digits 0,1,2,4,5', 'unseen digits 6,8,9'])
    >>> r.test["two-class"].coverage, r.test["reject"].coverage <= 1.0
    (1.0, True)
    >>> unseen = r.sets[1]
    >>> unseen.forced["two-class"]  # a two-class softmax calls every image a 3 or a 7
    1.0
    """
    fname = "neither_experiment"
    rng = check_rng(rng, fname)
    dog, human, epochs, batch_size, patience, lr = validate(
        fname, _CONSTRAINTS, dog=dog, human=human, epochs=epochs, batch_size=batch_size, patience=patience, lr=lr
    )
    val_fraction, coverage, reject_below, confident, balance, progress = validate(
        fname,
        _CONSTRAINTS,
        val_fraction=val_fraction,
        coverage=coverage,
        reject_below=reject_below,
        confident=confident,
        balance=balance,
        progress=progress,
    )
    try:
        hidden = tuple(Integer(1).check(h, "hidden", fname) for h in hidden)
    except TypeError:
        raise TypeError(f"{fname}: hidden must be a sequence of positive integers, got {hidden!r}") from None
    if not hidden:
        raise ValueError(f"{fname}: hidden must name at least one layer width, got an empty sequence")
    data, notes = _resolve_data(data, root, fname)
    y_train, y_test = np.asarray(data.y_train), np.asarray(data.y_test)
    n_classes = max(int(max(np.max(y_train), np.max(y_test))) + 1, len(getattr(data, "class_names", ())))
    neither, unseen = _check_labels(dog, human, neither, n_classes, fname)
    test_rows = np.isin(y_test, (dog, human))
    if not test_rows.any():
        raise ValueError(f"{fname}: the test split has no images of the dog label {dog} or the human label {human}")
    shape = tuple(data.x_train.shape[1:])
    data_name = str(getattr(data, "name", "data"))
    extra, extra_notes = _extra_sets(extra_unseen, shape, root, data_name, fname)
    notes = (*notes, *extra_notes)
    if not unseen:
        notes = (*notes, "every label is dog, human or neither: no unseen digits")
    start = time.perf_counter()
    split_rng, init_rng, order_rng = rng.spawn(3)

    def relabel(digits):  # dog -> 0, human -> 1, any neither digit -> 2
        return np.where(digits == dog, 0, np.where(digits == human, 1, 2))

    x_tr, d_tr, x_va, d_va = _split(
        data.x_train,
        y_train,
        dog,
        human,
        neither,
        balance=balance,
        val_fraction=val_fraction,
        rng=split_rng,
        fname=fname,
    )  # both models train and validate on the same dog and human rows
    y3_tr, y3_va = relabel(d_tr), relabel(d_va)
    two_tr, two_va = y3_tr < 2, y3_va < 2
    init_seed, order_seed = int(init_rng.integers(2**63)), int(order_rng.integers(2**63))
    recipe = dict(order_seed=order_seed, lr=lr, epochs=epochs, batch_size=batch_size, patience=patience)
    model_two = architectures.mlp(shape, 2, hidden=hidden, rng=np.random.default_rng(init_seed))
    history_two = _train(model_two, x_tr[two_tr], y3_tr[two_tr], x_va[two_va], y3_va[two_va], progress, **recipe)
    model_three = architectures.mlp(shape, 3, hidden=hidden, rng=np.random.default_rng(init_seed))
    history_three = _train(model_three, x_tr, y3_tr, x_va, y3_va, progress, **recipe)

    fixed = reject_below is not None
    if not fixed:
        curve = accuracy_coverage_curve(y3_va[two_va], model_two.predict_proba(x_va[two_va]))
        reject_below = curve.threshold_at(coverage)
    models = {"two-class": (model_two, "plain"), "reject": (model_two, "reject"), "three-class": (model_three, "plain")}

    def answers(x):
        return {m: _answers(model, x, kind, reject_below) for m, (model, kind) in models.items()}

    y_dh = relabel(y_test[test_rows])
    test = {m: _test_scores(label, y_dh) for m, (label, _) in answers(data.x_test[test_rows]).items()}
    groups = [(f"neither digits {','.join(map(str, neither))}", data.x_test[np.isin(y_test, neither)], True)]
    if unseen:
        groups.append((f"unseen digits {','.join(map(str, unseen))}", data.x_test[np.isin(y_test, unseen)], False))
    groups += [(name, x, False) for name, x in extra.items()]
    sets = []
    for name, x, seen in groups:
        if len(x) == 0:
            notes = (*notes, f"{name}: no test images; left out")
            continue
        forced, confidently = {}, {}
        for m, (label, conf) in answers(x).items():
            answered = label != REJECT
            forced[m] = float(np.mean(answered))
            confidently[m] = float(np.mean(answered & (conf >= confident)))
        sets.append(SetScores(name, len(x), seen, forced, confidently))
    settings = {
        "epochs": epochs,
        "hidden": [int(h) for h in hidden],
        "lr": float(lr),
        "batch_size": batch_size,
        "patience": patience,
        "val_fraction": float(val_fraction),
        "coverage": None if fixed else float(coverage),
        "reject_below_fixed": fixed,
        "balance": balance,
        "n_train": {"two-class": int(np.count_nonzero(two_tr)), "three-class": len(y3_tr)},
        "n_val": {"two-class": int(np.count_nonzero(two_va)), "three-class": len(y3_va)},
        "seconds": time.perf_counter() - start,
    }
    return NeitherResult(
        test=test,
        sets=tuple(sets),
        reject_below=float(reject_below),
        confident=float(confident),
        data=data_name,
        dog=dog,
        human=human,
        neither=neither,
        unseen=unseen,
        notes=notes,
        settings=settings,
        history_two=history_two,
        history_three=history_three,
        model_two=model_two,
        model_three=model_three,
    )


def _pct(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.1%}"


def format_neither(result: NeitherResult) -> str:
    """The measurements as an aligned text table, one row per number, one column per model.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.datasets import load
    >>> r = neither_experiment(load("digits"), hidden=(16,), epochs=2, extra_unseen=None,
    ...                        rng=np.random.default_rng(0))
    >>> print(format_neither(r).splitlines()[0])
    dog = 3, human = 7, neither = 0,1,2,4,5 (digits)
    """
    rows = [
        (
            f"dog/human test images ({result.test['two-class'].n}): accuracy",
            {m: s.accuracy for m, s in result.test.items()},
        ),
        ("  answered (called dog or human)", {m: s.coverage for m, s in result.test.items()}),
        ("  accuracy on the answered", {m: s.accuracy_answered for m, s in result.test.items()}),
    ]
    for s in result.sets:
        star = " *" if s.seen_by_three_class else ""
        rows.append((f"{s.name} ({s.n}){star}: called dog or human", s.forced))
        rows.append((f"  ... with p >= {result.confident:g}", s.confidently_forced))
    width = max(len(label) for label, _ in rows)
    titles = [MODEL_TITLES[m] for m in MODELS]
    cols = [max(len(t), 6) for t in titles]
    neither = ",".join(map(str, result.neither))
    lines = [f"dog = {result.dog}, human = {result.human}, neither = {neither} ({result.data})"]
    lines.append(f"{'':<{width}}  " + "  ".join(f"{t:>{c}}" for t, c in zip(titles, cols)))
    for label, values in rows:
        lines.append(f"{label:<{width}}  " + "  ".join(f"{_pct(values[m]):>{c}}" for m, c in zip(MODELS, cols)))
    s = result.settings
    if s.get("reject_below_fixed"):
        why = "fixed"
    else:
        why = f"chosen to answer {s['coverage']:.0%} of the dog/human validation images"
    lines.append(f"2-class+reject: no answer when the top probability is below {result.reject_below:.4g} ({why})")
    if any(x.seen_by_three_class for x in result.sets):
        lines.append("* other images of these digits trained the 3-class model's 'neither' output")
    lines.extend(f"note: {note}" for note in result.notes)
    lines.append(
        f"(trained on {s['n_train']['two-class']} images (2-class) and {s['n_train']['three-class']} (3-class), "
        f"at most {s['epochs']} epochs, best epochs {result.history_two.best_epoch} and "
        f"{result.history_three.best_epoch})"
    )
    return "\n".join(lines)
