r"""Multi-label classification: a sigmoid head trained with binary cross-entropy, next to a softmax head.

When classes are not exclusive ("a 1 *and* a 7 in one picture") each class needs its own yes/no
probability :math:`\sigma(z_k)`; a softmax head's probabilities share one unit of mass, so at most one
class can ever exceed 0.5.

- :mod:`~softmaxkit.multilabel.pairs`: the task, :func:`pair_images` (two digits side by side, or one
  beside a blank half).
- :mod:`~softmaxkit.multilabel.heads`: :func:`multilabel_loss_and_grad`, :class:`MultiLabelLoss`
  (trained by :func:`softmaxkit.train.fit`), :func:`predict_multilabel_proba`.
- :mod:`~softmaxkit.multilabel.metrics`: :func:`multilabel_metrics` (:class:`HeadMetrics`).
- :mod:`~softmaxkit.multilabel.experiment`: :func:`compare_heads` (:class:`HeadComparison`), also
  ``softmaxkit multilabel``; :mod:`~softmaxkit.multilabel.text` formats it; the example figure is
  :func:`softmaxkit.plot.plot_multilabel_examples`.
"""

from .experiment import HeadComparison, compare_heads
from .heads import HEADS, MultiLabelLoss, multilabel_loss_and_grad, predict_multilabel_proba
from .metrics import HeadMetrics, multilabel_metrics
from .pairs import pair_images
from .text import format_comparison, format_examples

__all__ = [
    "pair_images",
    "multilabel_loss_and_grad",
    "MultiLabelLoss",
    "predict_multilabel_proba",
    "multilabel_metrics",
    "HeadMetrics",
    "HeadComparison",
    "compare_heads",
    "format_comparison",
    "format_examples",
    "HEADS",
]
