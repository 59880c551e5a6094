"""The scikit-learn estimator: :class:`SoftmaxClassifier`, softmaxkit's network behind ``fit``/``predict_proba``."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import nn, train
from ..kernels import log_softmax, softmax
from ._file import SECTION, load_estimator, state_section
from ._network import build_network, build_optimizer, check_same_network, optimizer_kind
from ._params import check_params, draw_seed, show_label
from ._training import epoch_printer, fit_temperature, held_out_rows, record_history, warn_after
from ._weights import row_weights

__all__ = ["SoftmaxClassifier"]

#: Input dtypes kept as they are (scikit-learn's MLP convention); anything else becomes float64.
_DTYPES = (np.float64, np.float32)


class SoftmaxClassifier(ClassifierMixin, BaseEstimator):
    r"""A softmax classifier (a multilayer perceptron, or logistic regression) as a scikit-learn estimator.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` with ``solver="adam"`` or ``"sgd"``:
    the same parameters where they mean the same, the same objective, trained by softmaxkit's network
    (:mod:`softmaxkit.nn`), fused softmax + cross-entropy kernels and its one training loop
    (:func:`softmaxkit.train.fit`); plus dropout, class weights and optional temperature scaling, so
    that ``predict_proba`` is calibrated.

    Each minibatch :math:`B` of a shuffled epoch takes one optimizer step on

    .. math::

        J_B = \frac{\sum_{i \in B} s_i \big(-\log \operatorname{softmax}(z_i)_{y_i}\big)
              + \frac{\alpha}{2} \sum_l \lVert W_l \rVert_F^2}{\sum_{i \in B} s_i},

    with logits :math:`z_i`, the weight matrices :math:`W_l` (not the biases) and row weights
    :math:`s_i = w_i\, c_{y_i}` (``sample_weight`` times ``class_weight``; 1 by default, and then the
    denominator is the batch size). That is ``MLPClassifier``'s loss, ``alpha`` included.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Width of each hidden layer; ``()`` is multinomial logistic regression.
    activation : {"relu", "logistic", "tanh", "identity"}, default "relu"
        Activation of the hidden layers.
    alpha : float, default 1e-4
        L2 penalty :math:`\alpha` above (scikit-learn's definition: divided by the batch's weight).
    batch_size : int or "auto", default "auto"
        Rows per minibatch; ``"auto"`` is ``min(200, n_samples)``. Larger values are clipped.
    learning_rate_init : float, default 1e-3
        Step size of the optimizer (constant).
    max_iter : int, default 200
        Maximum number of epochs (passes over the training rows).
    tol : float, default 1e-4
        An epoch improves when it lowers the training loss (or, with ``early_stopping``, raises the
        validation accuracy) by more than ``tol``.
    n_iter_no_change : int, default 10
        Training stops after more than ``n_iter_no_change`` epochs in a row without improvement.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (stratified), stop when their accuracy stops
        improving and keep the weights of the best epoch.
    validation_fraction : float in (0, 1), default 0.1
        Share of the rows held out for early stopping and temperature scaling.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, default None
        Seeds the held-out split, the initial weights, the shuffling and the dropout masks. An int
        gives the same model on every fit, bit for bit.
    verbose : bool or int, default False
        Print the loss (and validation score) of every epoch, as MLPClassifier does.
    warm_start : bool, default False
        ``fit`` continues from the fitted network (with a fresh optimizer, as MLPClassifier) instead
        of starting over. The labels must be among ``classes_``.
    dropout : float in [0, 1), default 0.0
        Dropout probability after each hidden activation (inverted dropout; none at prediction).
    optimizer : {"adam", "sgd"}, default "adam"
        Adam (:math:`\beta = (0.9, 0.999)`, :math:`\epsilon = 10^{-8}`) or SGD with Nesterov momentum.
    momentum : float in [0, 1], default 0.9
        Momentum of ``optimizer="sgd"`` (plain SGD at 0); unused by Adam.
    class_weight : None, "balanced" or dict, default None
        Weights of the classes, as in ``LogisticRegression``: ``{label: weight}`` (1 for labels not
        listed), or ``"balanced"``: :math:`c_k = \sum_i w_i / (K \sum_{i: y_i = k} w_i)`, i.e.
        ``n_samples / (n_classes * np.bincount(y))`` without sample weights.
    temperature_scaling : bool, default False
        After training, fit a :class:`softmaxkit.calibration.TemperatureScaling` on the held-out
        rows, so that ``predict_proba`` is calibrated (the predicted classes do not change). The
        held-out rows are ``validation_fraction`` of the data, stratified; with ``early_stopping``
        they are the same rows (which also chose the epoch), without it they are held out for
        calibration alone and the network trains on the rest.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted, of the dtype ``y`` had.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names of ``X`` when it was a data frame with string column names.
    model_ : softmaxkit.nn.Sequential
        The network: inputs of shape ``(n_features_in_,)``, one logit per class, ``class_names`` the
        labels as strings. It computes in the float dtype of the first ``X`` it was fitted on.
    calibrator_ : softmaxkit.calibration.TemperatureScaling or None
        The fitted temperature scaling of the logits, or None without ``temperature_scaling``.
    loss_curve_ : list of float
        Training loss :math:`\sum_B (\sum_{i \in B} s_i) J_B / \sum_i s_i` of each epoch.
    loss_ : float
        The last entry of ``loss_curve_``.
    best_loss_ : float or None
        Lowest training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        Accuracy on the held-out rows after each epoch (with ``early_stopping``, else None).
    best_validation_score_ : float or None
        The best of ``validation_scores_`` (None without ``early_stopping``).
    n_iter_ : int
        Epochs run by the last ``fit`` (with ``partial_fit``: calls so far).
    t_ : int
        Training rows seen by the optimizer.
    coefs_, intercepts_ : list of ndarray
        The weight matrices and bias vectors of the Dense layers (views into ``model_``).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : the estimator this one replaces.
    softmaxkit.calibration.TemperatureScaling : the calibrator of ``temperature_scaling``.

    Notes
    -----
    **Weights.** A row of weight 2 counts as that row twice, and a row of weight 0 as no row: when
    every epoch is one batch, for the weighted rows and for the repeated ones alike (``batch_size``
    at least the number of repeated rows; ``"auto"`` is up to 200), fitting with integer weights
    takes the same steps as fitting on repeated rows, up to rounding. With smaller batches the
    batches themselves differ, and the equivalence holds only on average; dropout masks depend on
    the batch shape too.

    **Precision.** float32 ``X`` trains a float32 network (the fast path of softmaxkit's kernels);
    float64 ``X`` (and integers) a float64 one, as MLPClassifier does. Pass ``X.astype(np.float32)``
    for speed; float64 keeps results that must agree to 1e-7 or better (scikit-learn's own checks
    compare weighted and repeated fits so) within reach of rounding.

    **Outputs.** ``decision_function`` returns the logits (calibrated ones with
    ``temperature_scaling``), so ``predict_proba`` is their softmax and ``predict_log_proba`` their
    log-softmax, computed in float64 without overflow; for two classes it is the log-odds
    :math:`z_1 - z_0` of ``classes_[1]``. Sparse ``X`` is refused (scikit-learn's message says to
    call ``.toarray()``).

    **Not offered** from MLPClassifier: ``solver="lbfgs"`` (see ``optimizer``), ``learning_rate``
    schedules, ``power_t``, ``shuffle=False``, ``beta_1``/``beta_2``/``epsilon``, multi-label ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from softmaxkit import SoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxClassifier((16,), learning_rate_init=0.01, max_iter=300, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]), clf.predict_proba(X[:3]).sum(axis=1).round(6)
    (array([0, 0, 0]), array([1., 1., 1.]))
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        alpha=1e-4,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        random_state=None,
        verbose=False,
        warm_start=False,
        dropout=0.0,
        optimizer="adam",
        momentum=0.9,
        class_weight=None,
        temperature_scaling=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.dropout = dropout
        self.optimizer = optimizer
        self.momentum = momentum
        self.class_weight = class_weight
        self.temperature_scaling = temperature_scaling

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # refused with scikit-learn's message (call .toarray())
        tags.input_tags.allow_nan = False
        tags.classifier_tags.multi_label = False
        tags.non_deterministic = False  # an int random_state gives the same model, bit for bit
        return tags

    # ------------------------------------------------------------------------------------ training

    def fit(self, X, y, sample_weight=None):
        """Train on ``(X, y)`` for up to ``max_iter`` epochs (from scratch unless ``warm_start``).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Numeric, finite; a data frame's column names become ``feature_names_in_``.
        y : array_like of shape (n_samples,)
            Labels of any type scikit-learn accepts (at least two distinct ones).
        sample_weight : array_like of shape (n_samples,), optional
            Non-negative weight of each row (see Notes).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, classes=None, incremental=False)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``(X, y)``, continuing the network and optimizer (for data that come in batches).

        Parameters
        ----------
        X, y, sample_weight
            As for :meth:`fit`; ``y`` may hold any subset of ``classes``.
        classes : array_like, optional
            Every label the stream may hold; required on the first call, optional afterwards (it must
            then be the same).

        Returns
        -------
        self

        Notes
        -----
        A first call from an unfitted estimator is exactly ``fit`` with ``max_iter=1`` (same seed,
        same result). ``early_stopping``, ``temperature_scaling`` and ``class_weight="balanced"``
        need the whole data set and are refused here.
        """
        return self._fit(X, y, sample_weight, classes=classes, incremental=True)

    def _fit(self, X, y, sample_weight, *, classes, incremental):
        fname = f"{type(self).__name__}.{'partial_fit' if incremental else 'fit'}"
        s = check_params(self, fname)
        if incremental:
            for name, refused in (
                ("early_stopping=True", s.early_stopping),
                ("temperature_scaling=True", s.temperature_scaling),
                ("class_weight='balanced'", isinstance(s.class_weight, str)),
            ):
                if refused:
                    raise ValueError(f"{fname}: {name} needs the whole data set at once; use fit")
        first = not hasattr(self, "model_") or not (incremental or s.warm_start)
        X, y = validate_data(self, X, y, reset=first, dtype=_DTYPES)
        labels, y_idx = self._encode(y, classes, first=first, incremental=incremental, fname=fname)
        weights = row_weights(
            y,
            y_idx,
            labels,
            class_weight=s.class_weight,
            sample_weight=sample_weight,
            fname=fname,
            need_two_classes=not incremental,
        )
        seed = draw_seed(self.random_state) if first else self._seed
        rng = np.random.default_rng(seed) if first else self._rng
        held_out = not incremental and (s.early_stopping or s.temperature_scaling)
        train_rows = val_rows = None
        if held_out:  # a first fit splits with its own generator first, as `softmaxkit train` does
            split_rng = rng if first else np.random.default_rng(seed)
            train_rows, val_rows = held_out_rows(y_idx, s.validation_fraction, rng=split_rng, fname=fname)
        if first:
            model = build_network(
                X.shape[1],
                len(labels),
                hidden=s.hidden_layer_sizes,
                activation=s.activation,
                dropout=s.dropout,
                dtype=X.dtype,
                rng=rng,
            )
            model.class_names = [str(c) for c in labels]
        else:
            model = self.model_
            check_same_network(model, s, fname)
        optimizer = getattr(self, "_optimizer", None) if incremental and not first else None
        if optimizer is None or optimizer_kind(optimizer) != s.optimizer:  # fit: a fresh one, as MLPClassifier
            optimizer = build_optimizer(s.optimizer, s.learning_rate_init, s.momentum)
        optimizer.lr = s.learning_rate_init

        if train_rows is None:
            x_train, y_train, w_train = X, y_idx, weights
        else:
            x_train, y_train = X[train_rows], y_idx[train_rows]
            w_train = None if weights is None else weights[train_rows]
        n_train = len(y_train)
        batch_size = min(200 if s.batch_size is None else s.batch_size, n_train)
        previous = 0 if first or not incremental else self.n_iter_
        history = train.fit(
            model,
            x_train,
            y_train,
            optimizer=optimizer,
            rng=rng,
            epochs=1 if incremental else s.max_iter,
            batch_size=batch_size,
            x_val=X[val_rows] if s.early_stopping else None,
            y_val=y_idx[val_rows] if s.early_stopping else None,
            val_sample_weight=weights[val_rows] if s.early_stopping and weights is not None else None,
            patience=s.n_iter_no_change + 1,  # MLPClassifier stops at the (n_iter_no_change + 1)-th such epoch
            progress=False,
            on_epoch_end=epoch_printer(previous) if s.verbose else None,
            sample_weight=w_train,
            l2=s.alpha,
            monitor="val_accuracy" if s.early_stopping else "train_loss",
            tol=s.tol,
        )
        calibrator = None
        if s.temperature_scaling:
            logits = model.predict_logits(X[val_rows]).astype(np.float64)
            calibrator = fit_temperature(logits, y_idx[val_rows], None if weights is None else weights[val_rows], fname)
        model.predict_logits(X[:1])  # a forward pass outside training lets the layers drop the last batch's activations
        self._record(history, s, first=first, incremental=incremental, n_train=n_train)
        model.metadata["train_args"] = {
            "seed": seed,
            "val_fraction": s.validation_fraction if held_out else 0.0,
            "optimizer": s.optimizer,
            "lr": s.learning_rate_init,
            "batch_size": batch_size,
            "epochs": self.n_iter_,
            "alpha": s.alpha,
        }
        record_history(model, history, continued=not first and (incremental or s.warm_start))
        self.classes_, self.model_, self.calibrator_ = labels, model, calibrator
        self._seed, self._rng, self._optimizer = seed, rng, optimizer
        warn_after(history, s, fname=fname, incremental=incremental)
        return self

    def _encode(self, y, classes, *, first, incremental, fname):
        """``(classes_, positions of y in classes_)``: the labels are sorted, and y refers to them by index."""
        try:
            check_classification_targets(y)
            labels = self._classes(y, classes, first=first, incremental=incremental, fname=fname)
        except TypeError as exc:  # labels that cannot be sorted together, e.g. strings and numbers
            kinds = ", ".join(sorted({type(v).__name__ for v in np.asarray(y, dtype=object).tolist()}))
            raise TypeError(
                f"{fname}: y must hold labels of one kind (strings or numbers), got {kinds} ({exc})"
            ) from None
        encoder = LabelEncoder()
        encoder.classes_ = labels
        try:
            return labels, encoder.transform(y)
        except ValueError as exc:
            known = ", ".join(map(show_label, labels))
            raise ValueError(f"{fname}: y holds labels that are not in classes_ ({known}): {exc}") from None

    def _classes(self, y, classes, *, first, incremental, fname):
        if not first:
            if incremental and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"{fname}: classes {', '.join(map(show_label, np.unique(classes)))} differ from the classes_ of the "
                    f"first call, {', '.join(map(show_label, self.classes_))}"
                )
            return self.classes_
        if incremental and classes is None:
            raise ValueError(f"{fname}: classes must be given on the first call: every label the stream may hold")
        source = np.asarray(classes) if incremental else y
        labels = LabelEncoder().fit(source).classes_
        if len(labels) < 2:
            what = "classes" if incremental else "y"
            raise ValueError(
                f"{fname}: {what} holds one class, {show_label(labels[0])}; a classifier needs at least two classes"
            )
        return labels

    def _record(self, history, s, *, first, incremental, n_train):
        """The fitted attributes MLPClassifier has: loss curve, iterations, validation scores."""
        continued = not first and (incremental or s.warm_start)
        losses = [row["train_loss"] for row in history.epochs]
        self.loss_curve_ = (list(self.loss_curve_) if continued else []) + losses
        self.n_iter_ = (self.n_iter_ if continued and incremental else 0) + len(losses)
        self.t_ = (self.t_ if continued else 0) + n_train * len(losses)
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else math.nan
        if s.early_stopping:
            before = self.validation_scores_ if continued and self.validation_scores_ is not None else []
            self.validation_scores_ = list(before) + [row["val_accuracy"] for row in history.epochs]
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_, default=None)

    # ------------------------------------------------------------------------------------ prediction

    def _logits(self, X) -> np.ndarray:
        """Float64 logits of the network (calibrated with ``temperature_scaling``), shape (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_DTYPES)
        shape = self.model_.input_shape
        if shape is not None and shape != (X.shape[1],):  # a network of image inputs (softmaxkit train)
            X = X.reshape(len(X), *shape)
        z = self.model_.predict_logits(X).astype(np.float64)
        return z if self.calibrator_ is None else self.calibrator_.transform(z)

    def decision_function(self, X):
        """The logits: ndarray of shape (n_samples, n_classes), or (n_samples,) log-odds of ``classes_[1]`` for two classes."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X):
        """Class probabilities ``softmax(logits)``, float64 ndarray of shape (n_samples, n_classes), columns as ``classes_``."""
        return softmax(self._logits(X), axis=-1)

    def predict_log_proba(self, X):
        """``log_softmax(logits)``, exact where ``log(predict_proba(X))`` would underflow to -inf."""
        return log_softmax(self._logits(X), axis=-1)

    def predict(self, X):
        """The most probable label of each row, ndarray of shape (n_samples,) with the dtype of ``classes_``."""
        best = np.argmax(self._logits(X), axis=1)
        return self.classes_[best]

    @property
    def coefs_(self) -> list:
        """Weight matrices of the Dense layers, input to output (views into ``model_``)."""
        return [layer.params["weight"] for layer in self.model_.layers if isinstance(layer, nn.Dense)]

    @property
    def intercepts_(self) -> list:
        """Bias vectors of the Dense layers, input to output (views into ``model_``)."""
        return [layer.params["bias"] for layer in self.model_.layers if isinstance(layer, nn.Dense)]

    # ------------------------------------------------------------------------------------ model files

    def save(self, path) -> None:
        """Write the fitted estimator to a softmaxkit model file (``.skm``), atomically.

        The file holds the network (``class_names`` the labels as strings, ``input_shape``
        ``(n_features_in_,)``, ``metadata["train_args"]`` the seed and held-out fraction), the
        estimator's section (parameters, labels with their dtype, feature names, training record)
        and, when temperature-scaled, the calibrator, as :meth:`CalibratedModel.save` writes it. So
        :func:`softmaxkit.calibration.load_model` and ``softmaxkit evaluate/predict/calibrate/report``
        read it too; for the command line, a data file's labels are positions in ``classes_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        TypeError
            Labels that a JSON header cannot hold (not strings, numbers or booleans).
        """
        check_is_fitted(self)
        extras = {SECTION: state_section(self)}
        if self.calibrator_ is not None:
            extras["calibration"] = self.calibrator_.to_dict()
        nn.save(self.model_, path, extras=extras)

    @classmethod
    def load(cls, path) -> SoftmaxClassifier:
        """Read an estimator written by :meth:`save`; it predicts exactly as the saved one.

        A model file of ``softmaxkit train --model logistic|mlp`` loads too: its labels are its class
        names (strings), and 2-D ``X`` is reshaped to the network's input shape. Training may
        continue (``warm_start``, ``partial_fit``) with a fresh optimizer.

        Raises
        ------
        softmaxkit.exceptions.ModelFileError
            The file is unreadable, malformed, or holds a network this estimator cannot represent
            (a CNN); the message names the file.
        """
        return load_estimator(cls, path)
