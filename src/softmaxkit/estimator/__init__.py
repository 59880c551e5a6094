"""softmaxkit as a scikit-learn estimator: :class:`SoftmaxClassifier` (also ``softmaxkit.SoftmaxClassifier``).

- :mod:`~softmaxkit.estimator.classifier`: the estimator, a drop-in for scikit-learn's
  ``MLPClassifier`` trained by :func:`softmaxkit.train.fit`, with class weights, dropout and optional
  temperature scaling; it saves to and loads from softmaxkit model files.

Private helpers, one concept each: ``_params`` (the parameters' constraints), ``_weights`` (sample
and class weights), ``_network`` (the network and optimizer built from the parameters),
``_training`` (the steps around the training loop: held-out rows, temperature, record, warnings) and
``_file`` (the estimator's section of a model file).

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from softmaxkit.estimator import SoftmaxClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = SoftmaxClassifier((), learning_rate_init=0.05, max_iter=1000, random_state=0).fit(X, y)
>>> clf.n_iter_ < 1000   # stopped when the loss no longer fell by tol
True
>>> clf.predict_proba(X[:2]).shape, clf.coefs_[0].shape
((2, 3), (4, 3))
"""

from .classifier import SoftmaxClassifier

__all__ = ["SoftmaxClassifier"]
