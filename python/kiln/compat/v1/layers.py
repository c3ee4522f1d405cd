"""``tf.layers`` (v1): ``dense`` and ``flatten``, the layers the course's ``build_mlp``
is written with. Variables are named as TF1 names them: ``<scope>/dense/kernel`` and
``<scope>/dense/bias``, then ``dense_1``, ``dense_2``, ... for unnamed layers, counted
afresh each time the enclosing variable scope is entered, so that re-entering a scope
with ``reuse=True`` and calling the same layers again shares their variables."""
from . import _ops
from ._graph import convert_to_tensor as _convert_to_tensor
from ._graph import get_default_graph as _get_default_graph
from ._graph import variable_scope as _variable_scope
from .errors import _at_user
from .initializers import zeros_initializer as _zeros_initializer


def _unique_layer_name(base):
    g = _get_default_graph()
    counts = g._layer_counts.setdefault(g._var_scope_prefix(), {})
    n = counts.get(base, 0)
    counts[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


def dense(
    inputs,
    units,
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """``activation(inputs @ kernel + bias)`` over the last axis of ``inputs``. The
    kernel starts Glorot-uniform (``get_variable``'s default) and the bias at zero."""
    if activity_regularizer is not None or kernel_constraint is not None or bias_constraint is not None:
        raise _at_user(NotImplementedError, "dense", "kiln's dense has no activity regularizer or constraints")
    x = _convert_to_tensor(inputs)
    dims = x.get_shape().as_list() if x.get_shape().ndims is not None else None
    if not dims or dims[-1] is None:
        raise _at_user(
            ValueError,
            "dense",
            "The last dimension of the inputs to a Dense layer should be defined. Found None. "
            "Full input shape received: %s" % (x.get_shape(),),
        )
    if not x.dtype.is_floating:
        raise _at_user(
            TypeError,
            "dense",
            "A Dense layer can only be built with a floating-point dtype. Received: dtype=<dtype: '%s'>"
            % x.dtype.name,
        )
    name = name if name is not None else _unique_layer_name("dense")
    init = bias_initializer if bias_initializer is not None else _zeros_initializer()
    with _variable_scope(name, reuse=reuse):
        weight = ("kernel", kernel_initializer, kernel_regularizer)
        y = _affine(x, dims, units, weight, use_bias and ("bias", init, bias_regularizer), trainable)
    return activation(y) if activation is not None else y


def _affine(x, dims, units, weight, bias, trainable):
    """``x @ w + b`` over the last axis, in the open variable scope: ``weight`` and
    ``bias`` are (name, initializer, regularizer), ``bias`` falsy for none. Shared by
    ``dense`` and ``tf.contrib.layers.fully_connected``, which differ in names and
    defaults only."""
    kernel = _ops.get_variable(weight[0], [dims[-1], int(units)], x.dtype, weight[1], weight[2], trainable)
    if len(dims) == 2:
        y = _ops.matmul(x, kernel)
    else:
        # kiln's symbolic dims have no products, so [?, 2, 3] cannot be reshaped
        # to [?*2, 3]: contract the last axis by broadcasting instead
        y = _ops.reduce_sum(_ops.expand_dims(x, -1) * kernel, axis=-2)
    if bias:
        y = y + _ops.get_variable(bias[0], [int(units)], x.dtype, bias[1], bias[2], trainable)
    return y


def flatten(inputs, name=None, data_format="channels_last"):
    """``[batch, d1, d2, ...]`` to ``[batch, d1 * d2 * ...]``."""
    x = _convert_to_tensor(inputs)
    dims = x.get_shape().as_list() if x.get_shape().ndims is not None else None
    if dims is None or any(d is None for d in dims[1:]):
        raise _at_user(
            ValueError, "flatten", "flatten needs every dim after the first known, got %s" % (x.get_shape(),)
        )
    size = 1
    for d in dims[1:]:
        size *= d
    return _ops.reshape(x, [-1 if dims[0] is None else dims[0], size])

