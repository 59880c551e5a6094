"""Export a fitted network to ONNX, its calibration folded in: :func:`export_onnx`.

The graph computes what softmaxkit computes, in float32, for a batch of any size:

======================  ==========================  =============================================
tensor                  shape                       value
======================  ==========================  =============================================
``input``               ``(N, *input_shape)``       float32 samples, as ``predict_proba`` takes them
``probabilities``       ``(N, n_classes)``          ``softmax(logits)``
``logits``              ``(N, n_classes)``          the calibrated logits (the network's own when
                                                    there is no calibrator)
======================  ==========================  =============================================

Each layer kind has one small converter, found in a registry keyed by the exact class (a subclass
may compute something else, so it is refused rather than guessed), and so has each calibrator.
``onnx`` is imported on the first call only; it comes with the ``onnx`` extra
(``pip install 'softmaxkit[onnx]'``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import __version__, nn
from ._atomic import atomic_write
from ._validation import Integer, validate
from .calibration import CalibratedModel, MatrixScaling, TemperatureScaling, VectorScaling
from .exceptions import NotFittedError

__all__ = ["export_onnx", "DEFAULT_OPSET", "MIN_OPSET", "INPUT", "PROBABILITIES", "LOGITS"]

#: The opset written by default: every operator used has had its current meaning since opset 13, and
#: onnxruntime has run opset 17 since 1.13, so the file loads in every runtime the extra allows.
DEFAULT_OPSET = 17
#: The oldest opset accepted: opset 13 gave Softmax its per-axis meaning (older ones flatten first).
MIN_OPSET = 13
#: Names of the graph's input and outputs.
INPUT, PROBABILITIES, LOGITS = "input", "probabilities", "logits"
#: The symbolic batch dimension.
_BATCH = "N"
_FNAME = "export_onnx"
_INSTALL_HINT = "pip install 'softmaxkit[onnx]'"


def export_onnx(model, path, *, opset=None, input_shape=None):
    r"""Write a fitted network, with its calibration, as an ONNX file, atomically.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential, softmaxkit.calibration.CalibratedModel or fitted estimator
        The network; a calibrated model (its calibrator is folded into the graph); or an estimator
        such as :class:`softmaxkit.SoftmaxClassifier`, recognised by its fitted attributes ``model_``
        (a Sequential), ``calibrator_`` (a calibrator or None) and, if present, ``classes_``.
    path : str or os.PathLike
        The ``.onnx`` file to write (its directory must exist). It is replaced only once the whole
        graph has been built and validated with ``onnx.checker.check_model``.
    opset : int, optional
        The ONNX opset, from :data:`MIN_OPSET` (13) to the newest the installed ``onnx`` knows;
        default :data:`DEFAULT_OPSET` (17).
    input_shape : tuple of int, optional
        Shape of one sample, e.g. ``(1, 28, 28)``, for a network that does not record one; when it
        does, the two must agree.

    Returns
    -------
    onnx.ModelProto
        The model written.

    Raises
    ------
    ImportError
        ``onnx`` is not installed (``pip install 'softmaxkit[onnx]'``); its ``name`` is ``"onnx"``.
    TypeError
        ``model`` is none of the above, or holds a layer or calibrator without an ONNX conversion
        (the message names it).
    ValueError
        No input shape, an output that is not one row of scores per sample, parameters that are not
        finite in float32, or a calibrator whose classes do not match the output.

    Notes
    -----
    - **Layers**: Dense is a ``Gemm``; Conv2D a ``Conv`` (with ``pads``, ``strides``); MaxPool2D a
      ``MaxPool`` (no padding, floor mode); Flatten a ``Flatten(axis=1)`` (NCHW order, as NumPy's
      reshape); ReLU, Sigmoid, Tanh, Softmax the operators of those names; Standardize a ``Sub``
      of the mean and a ``Div`` by the scale (float32 constants, as the layer computes for float32
      input); Dropout (the identity at inference) nothing. Only these exact classes are exported: subclasses are refused.
    - **Calibration** is applied to the network's logits as explicit nodes: temperature scaling
      ``Div`` by :math:`T` (not folded into the last layer: folding changes the float32 rounding
      unless :math:`T` is a power of two), vector scaling ``Mul`` + ``Add``, matrix scaling
      ``MatMul`` by :math:`W^\top` + ``Add``.
    - **float32**: the graph is float32 throughout, as softmaxkit's networks are. A network switched
      to float64 (:meth:`~softmaxkit.nn.Sequential.astype`) is exported with its parameters rounded
      to float32, so its outputs agree with float64 ``predict_proba`` to float32 precision; values
      beyond float32's range are refused. Calibrators (fitted in float64) are rounded the same way.
    - **A network ending in Softmax** (ignoring trailing Dropout) already outputs probabilities, so
      that last Softmax is the graph's probability head: ``logits`` is the Softmax's input, as
      :meth:`~softmaxkit.nn.Sequential.predict_logits` defines it for such a network, and
      ``probabilities`` its output (calibrated first when there is a calibrator, which was fitted on
      those logits).
    - **Metadata** (``metadata_props``, each value JSON): ``class_names``, ``classes`` (an
      estimator's ``classes_`` in order; labels JSON cannot hold are written as their ``str``),
      ``calibration`` (``"none"``, ``"temperature"``, ``"vector"`` or ``"matrix"``) and
      ``input_shape``; the producer is ``softmaxkit`` and its version.

    Examples
    --------
    >>> import pytest; onnx = pytest.importorskip("onnx")   # needs softmaxkit[onnx]
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from softmaxkit import nn
    >>> from softmaxkit.export import export_onnx
    >>> net = nn.architectures.mlp((1, 4, 4), 3, hidden=(8,), rng=np.random.default_rng(0))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mlp.onnx"
    >>> proto = export_onnx(net, path)
    >>> [node.op_type for node in proto.graph.node]
    ['Flatten', 'Gemm', 'Relu', 'Gemm', 'Softmax']
    >>> [output.name for output in onnx.load(path).graph.output]
    ['probabilities', 'logits']
    """
    onnx = _import_onnx()
    opset = DEFAULT_OPSET if opset is None else opset
    (opset,) = validate(_FNAME, {"opset": Integer(MIN_OPSET, onnx.defs.onnx_opset_version())}, opset=opset)
    network, calibrator, classes = _unpack(model)
    shape = _input_shape(network, input_shape)
    body = _logit_layers(network.layers)
    _check_layers(body)
    n_classes = _n_classes(network, shape)
    _check_calibrator(calibrator, n_classes)
    class_names = _class_names(network, classes, n_classes)

    graph = _GraphBuilder(onnx)
    logits = _convert_layers(graph, body, INPUT)
    if calibrator is not None:
        logits = _CALIBRATOR_CONVERTERS[type(calibrator)][1](graph, calibrator, logits)
    graph.rename_output(logits, LOGITS)
    graph.node("Softmax", [LOGITS], PROBABILITIES, axis=-1)

    proto = _model_proto(onnx, graph, shape, n_classes, opset)
    onnx.helper.set_model_props(proto, _metadata(calibrator, shape, class_names, classes))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ValueError(f"{_FNAME}: the graph failed ONNX validation: {exc}") from exc
    with atomic_write(os.fspath(path)) as handle:
        handle.write(proto.SerializeToString())
    return proto


# ---------------------------------------------------------------------------- what was given


def _import_onnx():
    """The ``onnx`` module, or an ImportError that says how to install it."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
        import onnx.shape_inference
    except ImportError as exc:
        raise ImportError(
            f"{_FNAME}: exporting to ONNX needs the onnx package, which cannot be imported ({exc}): {_INSTALL_HINT}",
            name="onnx",
        ) from exc
    return onnx


def _unpack(model):
    """``(network, calibrator or None, classes or None)`` of a network, calibrated model or estimator."""
    if isinstance(model, nn.Sequential):
        return model, None, None
    if isinstance(model, CalibratedModel):
        return model.model, model.calibrator, None
    if hasattr(model, "model_") and hasattr(model, "calibrator_"):
        network = model.model_
        if not isinstance(network, nn.Sequential):
            raise TypeError(
                f"{_FNAME}: {type(model).__name__}.model_ must be a softmaxkit.nn.Sequential, got {type(network).__name__}"
            )
        classes = getattr(model, "classes_", None)
        return network, model.calibrator_, None if classes is None else list(classes)
    if hasattr(model, "fit"):
        raise NotFittedError(
            f"{_FNAME}: this {type(model).__name__} has no model_ and calibrator_: fit it before exporting"
        )
    raise TypeError(
        f"{_FNAME}: model must be a softmaxkit.nn.Sequential, a CalibratedModel or a fitted estimator "
        f"(with model_ and calibrator_), got {type(model).__name__}"
    )


def _input_shape(network, input_shape) -> tuple:
    """The shape of one sample: the network's, or ``input_shape`` (which must agree with it)."""
    if input_shape is not None:
        try:
            given = tuple(input_shape)
        except TypeError:
            given = ()
        if not given or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in given):
            raise ValueError(
                f"{_FNAME}: input_shape must be positive integers such as (1, 28, 28), got {input_shape!r}"
            )
        given = tuple(int(d) for d in given)
        if network.input_shape is not None and network.input_shape != given:
            raise ValueError(
                f"{_FNAME}: input_shape {given} differs from the network's own input shape {network.input_shape}"
            )
        return given
    if network.input_shape is None:
        raise ValueError(
            f"{_FNAME}: the network does not record its input shape; pass input_shape= (e.g. (1, 28, 28)) "
            "or build it with Sequential(..., input_shape=...)"
        )
    return network.input_shape


def _logit_layers(layers) -> list:
    """The layers to convert: a network's last Softmax (ignoring trailing Dropout) is left out, since
    the graph's probability head computes it (as ``Sequential.predict_logits`` leaves it out)."""
    end = len(layers)
    while end and type(layers[end - 1]) is nn.Dropout:
        end -= 1
    if end and type(layers[end - 1]) is nn.Softmax:
        return list(layers[: end - 1])
    return list(layers)


def _n_classes(network, shape) -> int:
    """The width of the network's output, which must be one row of scores per sample."""
    try:
        out = network.output_shape(shape)
    except ValueError as exc:
        raise ValueError(f"{_FNAME}: {exc}") from None
    if len(out) != 1:
        raise ValueError(
            f"{_FNAME}: the network outputs samples of shape {out} for inputs of shape {shape}; "
            "a classifier outputs one row of class scores per sample (end with Flatten and Dense)"
        )
    return out[0]


def _check_calibrator(calibrator, n_classes: int) -> None:
    """A calibrator (or None) that can be exported after this network: known kind, fitted, of its width."""
    if calibrator is None:
        return
    if type(calibrator) not in _CALIBRATOR_CONVERTERS:
        names = ", ".join(cls.__name__ for cls in _CALIBRATOR_CONVERTERS)
        raise TypeError(f"{_FNAME}: no ONNX conversion for the calibrator {calibrator!r}; supported: {names}")
    if not hasattr(calibrator, "n_classes_"):
        raise NotFittedError(f"{_FNAME}: the calibrator {calibrator!r} is not fitted")
    if calibrator.n_classes_ != n_classes:
        raise ValueError(
            f"{_FNAME}: the calibrator was fitted on {calibrator.n_classes_} classes, but the network outputs {n_classes}"
        )
    for attribute in _CALIBRATOR_CONVERTERS[type(calibrator)][0]:
        _check_float32(getattr(calibrator, attribute), f"{type(calibrator).__name__}.{attribute}")


def _check_layers(layers) -> None:
    """Every layer has a converter, and every parameter is finite once rounded to float32."""
    for i, layer in enumerate(layers):
        where = f"layer {i} ({layer.name})"
        if type(layer) not in _LAYER_CONVERTERS:
            names = ", ".join(cls.__name__ for cls in _LAYER_CONVERTERS)
            raise TypeError(f"{_FNAME}: {where} has no ONNX conversion; supported layers: {names} (not subclasses)")
        for key, value in layer.params.items():
            _check_float32(value, f"{where}: {key}")


def _check_float32(value, what: str) -> None:
    value = np.asarray(value)
    if not np.isfinite(value).all():
        raise ValueError(f"{_FNAME}: {what} has values that are not finite")
    with np.errstate(over="ignore"):
        if not np.isfinite(value.astype(np.float32)).all():
            raise ValueError(f"{_FNAME}: {what} has values beyond float32's range (the exported graph is float32)")


def _class_names(network, classes, n_classes: int):
    """The class names to record (the network's, else an estimator's labels as text), checked against the output."""
    if classes is not None and len(classes) != n_classes:
        raise ValueError(f"{_FNAME}: {len(classes)} classes_ for a network with {n_classes} outputs")
    names = network.class_names
    if names is None and classes is not None:
        names = [str(_plain(c)) for c in classes]
    if names is not None and len(names) != n_classes:
        raise ValueError(f"{_FNAME}: {len(names)} class names for a network with {n_classes} outputs")
    return names


def _metadata(calibrator, shape, class_names, classes) -> dict:
    """The model's ``metadata_props``: each value JSON text (or a calibrator kind)."""
    props = {"calibration": "none" if calibrator is None else calibrator.kind, "input_shape": json.dumps(list(shape))}
    if class_names is not None:
        props["class_names"] = json.dumps(class_names)
    if classes is not None:
        props["classes"] = json.dumps([_plain(c) for c in classes], default=str)
    return props


def _plain(label):
    """A label as a plain Python value (NumPy scalars unwrapped), for JSON."""
    return label.item() if isinstance(label, np.generic) else label


# ---------------------------------------------------------------------------- building the graph


class _GraphBuilder:
    """The nodes and initializers of the graph being built; a node's name is its output's name."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, value) -> str:
        """A float32 initializer named ``name`` (parameters are checked finite in float32 beforehand)."""
        array = np.ascontiguousarray(value, dtype=np.float32)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs, output: str, **attributes) -> str:
        """Append a node computing ``output`` from ``inputs``; returns ``output``."""
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output], name=output, **attributes))
        return output

    def rename_output(self, tensor: str, name: str) -> None:
        """Give ``tensor`` (the last one computed, or the graph's input) the graph output's ``name``."""
        if self.nodes and self.nodes[-1].output[0] == tensor:
            self.nodes[-1].output[0] = name
        else:  # no node computed it (a network of no layers, or only Dropout)
            self.node("Identity", [tensor], name)


def _convert_layers(graph: _GraphBuilder, layers, x: str) -> str:
    """Append every layer's nodes; returns the name of the last tensor."""
    for i, layer in enumerate(layers):
        x = _LAYER_CONVERTERS[type(layer)](graph, layer, x, f"layers.{i}")
    return x


def _dense(graph, layer, x, name):
    weight = graph.constant(f"{name}.weight", layer.params["weight"])
    bias = graph.constant(f"{name}.bias", layer.params["bias"])
    return graph.node("Gemm", [x, weight, bias], name)


def _conv2d(graph, layer, x, name):
    weight = graph.constant(f"{name}.weight", layer.params["weight"])
    bias = graph.constant(f"{name}.bias", layer.params["bias"])
    (ph, pw), (kh, kw), (sh, sw) = layer.padding, layer.kernel_size, layer.stride
    return graph.node("Conv", [x, weight, bias], name, kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])


def _max_pool2d(graph, layer, x, name):
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    return graph.node("MaxPool", [x], name, kernel_shape=[kh, kw], strides=[sh, sw], pads=[0, 0, 0, 0], ceil_mode=0)


def _flatten(graph, layer, x, name):
    return graph.node("Flatten", [x], name, axis=1)


def _softmax(graph, layer, x, name):
    return graph.node("Softmax", [x], name, axis=-1)


def _standardize(graph, layer, x, name):
    # Sub then Div, in float32, as the layer computes for float32 input (one Mul + Add would round differently)
    centred = graph.node("Sub", [x, graph.constant(f"{name}.mean", layer.mean)], f"{name}.centred")
    return graph.node("Div", [centred, graph.constant(f"{name}.scale", layer.scale)], name)


def _dropout(graph, layer, x, name):
    return x  # the identity at inference


def _elementwise(op: str):
    def convert(graph, layer, x, name):
        return graph.node(op, [x], name)

    convert.__name__ = f"_{op.lower()}"
    return convert


#: One converter per layer class: ``convert(graph, layer, input_name, node_name) -> output_name``.
_LAYER_CONVERTERS = {
    nn.Dense: _dense,
    nn.Conv2D: _conv2d,
    nn.MaxPool2D: _max_pool2d,
    nn.Flatten: _flatten,
    nn.ReLU: _elementwise("Relu"),
    nn.Sigmoid: _elementwise("Sigmoid"),
    nn.Tanh: _elementwise("Tanh"),
    nn.Dropout: _dropout,
    nn.Softmax: _softmax,
    nn.Standardize: _standardize,
}


def _temperature(graph, calibrator, z):
    temperature = graph.constant("calibration.temperature", np.float32(calibrator.temperature_))
    return graph.node("Div", [z, temperature], "calibration.divided")


def _vector(graph, calibrator, z):
    scaled = graph.node("Mul", [z, graph.constant("calibration.scale", calibrator.scale_)], "calibration.scaled")
    return graph.node("Add", [scaled, graph.constant("calibration.bias", calibrator.bias_)], "calibration.shifted")


def _matrix(graph, calibrator, z):
    weight_t = graph.constant("calibration.weight_transposed", calibrator.weight_.T)
    mixed = graph.node("MatMul", [z, weight_t], "calibration.mixed")
    return graph.node("Add", [mixed, graph.constant("calibration.bias", calibrator.bias_)], "calibration.shifted")


#: Per calibrator class, its fitted parameters and its converter:
#: ``convert(graph, calibrator, logits_name) -> calibrated_name``.
_CALIBRATOR_CONVERTERS = {
    TemperatureScaling: (("temperature_",), _temperature),
    VectorScaling: (("scale_", "bias_"), _vector),
    MatrixScaling: (("weight_", "bias_"), _matrix),
}


def _model_proto(onnx, graph: _GraphBuilder, shape: tuple, n_classes: int, opset: int):
    """The ModelProto: typed input and outputs with a symbolic batch, the opset and the oldest IR version it needs."""
    helper, float32 = onnx.helper, onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(INPUT, float32, [_BATCH, *shape])]
    outputs = [helper.make_tensor_value_info(name, float32, [_BATCH, n_classes]) for name in (PROBABILITIES, LOGITS)]
    onnx_graph = helper.make_graph(
        graph.nodes,
        "softmaxkit",
        inputs,
        outputs,
        initializer=graph.initializers,
        doc_string=f"{LOGITS}: calibrated logits; {PROBABILITIES}: softmax({LOGITS})",
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        onnx_graph, opset_imports=opsets, producer_name="softmaxkit", producer_version=__version__
    )
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    return proto
