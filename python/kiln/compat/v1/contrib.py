"""The parts of ``tf.contrib`` the course uses: ``tf.contrib.layers``' initializers,
regularizers, ``fully_connected`` and ``flatten``."""
import types as _types

from ... import _kiln

from . import layers as _layers
from . import nn as _nn
from .initializers import xavier_initializer as _xavier_initializer  # noqa: F401
from .initializers import zeros_initializer as _zeros_initializer


class _Regularizer:
    """``tf.contrib.layers.l2_regularizer(scale)`` (or l1): a callable giving the
    penalty of a weight, which kiln's ``get_variable`` and layers also take as is."""

    def __init__(self, kind, scale):
        scale = float(scale)
        if scale < 0.0:
            raise ValueError("Setting a scale less than 0 on a regularizer: %g" % scale)
        self._spec = (kind, scale)

    def __call__(self, w):
        t = _kiln.regularize(self._spec[0], self._spec[1], w._t)
        return None if t is None else w.graph._wrap(t)


def _l2_regularizer(scale, scope=None):
    """``scale * sum(w ** 2) / 2``, for ``get_variable``'s ``regularizer``."""
    return _Regularizer("l2", scale)


def _l1_regularizer(scale, scope=None):
    """``scale * sum(|w|)``."""
    return _Regularizer("l1", scale)


# TF's default bias initializer; passing ``biases_initializer=None`` means no biases
_ZEROS = _zeros_initializer()


def _fully_connected(
    inputs,
    num_outputs,
    activation_fn=_nn.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=None,
    weights_regularizer=None,
    biases_initializer=_ZEROS,
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
):
    """``tf.contrib.layers.fully_connected``: variables ``<scope>/weights`` and
    ``<scope>/biases``, ReLU unless ``activation_fn`` says otherwise, no biases when
    ``biases_initializer`` is None."""
    if normalizer_fn is not None:
        raise NotImplementedError("kiln's fully_connected has no normalizer_fn")
    use_bias = biases_initializer is not None
    y = _layers._layer(
        inputs, num_outputs, True, use_bias, weights_initializer, biases_initializer if use_bias else None,
        weights_regularizer, biases_regularizer, trainable, scope, reuse,
    )
    return activation_fn(y) if activation_fn is not None else y


layers = _types.SimpleNamespace(
    xavier_initializer=_xavier_initializer,
    xavier_initializer_conv2d=_xavier_initializer,
    l2_regularizer=_l2_regularizer,
    l1_regularizer=_l1_regularizer,
    fully_connected=_fully_connected,
    flatten=_layers.flatten,
)


def _is_tensor(x):
    """``tf.contrib.framework.is_tensor``: a kiln tensor (variables included)."""
    from ._graph import Tensor

    return isinstance(x, Tensor)


framework = _types.SimpleNamespace(is_tensor=_is_tensor)
