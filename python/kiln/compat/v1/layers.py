"""``tf.layers`` (v1): ``dense`` and ``flatten``, the layers the course's ``build_mlp``
is written with. Variables are named as TF1 names them: ``<scope>/dense/kernel`` and
``<scope>/dense/bias``, then ``dense_1``, ``dense_2``, ... for unnamed layers, counted
afresh each time the enclosing variable scope is entered, so that re-entering a scope
with ``reuse=True`` and calling the same layers again shares their variables."""
from ... import _kiln
from . import _ops
from ._graph import convert_to_tensor as _convert_to_tensor
from ._graph import get_default_graph as _get_default_graph
from .errors import _at_user


def _unique_layer_name(base):
    g = _get_default_graph()
    return _kiln.unique_layer_name(g._g, base)


def _spec(init):
    return None if init is None else _ops._init_spec(init)


def _reg(r):
    return None if r is None else getattr(r, "_spec", None)


def _layer(inputs, units, fully_connected, use_bias, w_init, b_init, w_reg, b_reg, trainable, name, reuse):
    """The Rust layer, then any Python-callable regularizers on its new variables."""
    from ._graph import AUTO_REUSE

    x = _convert_to_tensor(inputs)
    g = x.graph
    mode = "auto" if reuse is AUTO_REUSE else ("yes" if reuse is True else "inherit")
    before = len(g.get_collection("variables"))
    y = x.graph._wrap(
        _kiln.dense(x._t, int(units), fully_connected, bool(use_bias), _spec(w_init), _spec(b_init), _reg(w_reg), _reg(b_reg), bool(trainable), name, mode)
    )
    made = g.get_collection("variables")[before:]
    for r, suffix in ((w_reg, ("/kernel", "/weights")), (b_reg, ("/bias", "/biases"))):
        if r is not None and _reg(r) is None:
            for v in made:
                if v.op.name.endswith(suffix):
                    penalty = r(v)
                    if penalty is not None:
                        g.add_to_collection("regularization_losses", penalty)
    return y


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
    """``activation(inputs @ kernel + bias)`` over the last axis of ``inputs``."""
    if activity_regularizer is not None or kernel_constraint is not None or bias_constraint is not None:
        raise _at_user(NotImplementedError, "dense", "kiln's dense has no activity regularizer or constraints")
    y = _layer(inputs, units, False, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, trainable, name, reuse)
    return activation(y) if activation is not None else y


def flatten(inputs, name=None, data_format="channels_last"):
    """``[batch, d1, d2, ...]`` to ``[batch, d1 * d2 * ...]``."""
    x = _convert_to_tensor(inputs)
    return x.graph._wrap(_kiln.flatten(x._t))
