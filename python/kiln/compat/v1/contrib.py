"""The parts of ``tf.contrib`` the course uses: ``tf.contrib.layers``' initializers,
regularizers, ``fully_connected`` and ``flatten``."""
import types as _types

from . import layers as _layers
from . import nn as _nn
from ._graph import variable_scope as _variable_scope
from .initializers import xavier_initializer as _xavier_initializer
from .initializers import zeros_initializer as _zeros_initializer


def _l2_regularizer(scale, scope=None):
    """``scale * sum(w ** 2) / 2``, for ``get_variable``'s ``regularizer``."""
    scale = float(scale)
    if scale < 0.0:
        raise ValueError("Setting a scale less than 0 on a regularizer: %g" % scale)
    if scale == 0.0:
        return lambda w: None
    return lambda w: _nn.l2_loss(w) * scale


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
    """``tf.contrib.layers.fully_connected``: a dense layer whose variables are
    ``<scope>/weights`` and ``<scope>/biases`` (``fully_connected``, ``fully_connected_1``,
    ... unnamed), ReLU unless ``activation_fn`` says otherwise, no biases when
    ``biases_initializer`` is None."""
    if normalizer_fn is not None:
        raise NotImplementedError("kiln's fully_connected has no normalizer_fn")
    name = scope if scope is not None else _layers._unique_layer_name("fully_connected")
    x = _layers._convert_to_tensor(inputs)
    dims = x.get_shape().as_list() if x.get_shape().ndims is not None else None
    if not dims or dims[-1] is None:
        raise ValueError("fully_connected needs the last dimension of its inputs known, got %s" % (x.get_shape(),))
    w_init = weights_initializer if weights_initializer is not None else _xavier_initializer()
    bias = biases_initializer is not None and ("biases", biases_initializer, biases_regularizer)
    with _variable_scope(name, reuse=reuse):
        y = _layers._affine(x, dims, num_outputs, ("weights", w_init, weights_regularizer), bias, trainable)
    return activation_fn(y) if activation_fn is not None else y


layers = _types.SimpleNamespace(
    xavier_initializer=_xavier_initializer,
    xavier_initializer_conv2d=_xavier_initializer,
    l2_regularizer=_l2_regularizer,
    fully_connected=_fully_connected,
    flatten=_layers.flatten,
)


def _is_tensor(x):
    """``tf.contrib.framework.is_tensor``: a kiln tensor (variables included)."""
    from ._graph import Tensor

    return isinstance(x, Tensor)


framework = _types.SimpleNamespace(is_tensor=_is_tensor)
