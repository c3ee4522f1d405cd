"""The parts of ``tf.contrib`` the course uses: ``tf.contrib.layers``' initializers,
regularizers, ``fully_connected`` and ``flatten``."""
import types

from . import layers as _layers
from . import nn as _nn
from ._graph import variable_scope
from .initializers import xavier_initializer, zeros_initializer


def l2_regularizer(scale, scope=None):
    """``scale * sum(w ** 2) / 2``, for ``get_variable``'s ``regularizer``."""
    scale = float(scale)
    if scale < 0.0:
        raise ValueError("Setting a scale less than 0 on a regularizer: %g" % scale)
    if scale == 0.0:
        return lambda w: None
    return lambda w: _nn.l2_loss(w) * scale


def fully_connected(
    inputs,
    num_outputs,
    activation_fn=_nn.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=None,
    weights_regularizer=None,
    biases_initializer=None,
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
):
    """``tf.contrib.layers.fully_connected``: a dense layer whose variables are
    ``<scope>/weights`` and ``<scope>/biases`` (``fully_connected``, ``fully_connected_1``,
    ... unnamed), ReLU unless ``activation_fn`` says otherwise."""
    if normalizer_fn is not None:
        raise NotImplementedError("kiln's fully_connected has no normalizer_fn")
    name = scope if scope is not None else _layers._unique_layer_name("fully_connected")
    x = _layers.convert_to_tensor(inputs)
    n_in = x.get_shape().as_list()[-1]
    if n_in is None:
        raise ValueError("fully_connected needs the last dimension of its inputs known, got %s" % (x.get_shape(),))
    from ._ops import get_variable, matmul

    with variable_scope(name, reuse=reuse):
        w_init = weights_initializer if weights_initializer is not None else xavier_initializer()
        w = get_variable("weights", [n_in, int(num_outputs)], x.dtype, w_init, weights_regularizer, trainable)
        y = matmul(x, w)
        b_init = biases_initializer if biases_initializer is not None else zeros_initializer()
        b = get_variable("biases", [int(num_outputs)], x.dtype, b_init, biases_regularizer, trainable)
        y = y + b
    return activation_fn(y) if activation_fn is not None else y


layers = types.SimpleNamespace(
    xavier_initializer=xavier_initializer,
    xavier_initializer_conv2d=xavier_initializer,
    l2_regularizer=l2_regularizer,
    fully_connected=fully_connected,
    flatten=_layers.flatten,
)
