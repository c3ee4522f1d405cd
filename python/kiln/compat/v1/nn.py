"""``tf.nn``: activations, softmax and the cross-entropy losses."""
from ... import _kiln
from ._ops import _t, _unary, reduce_sum, square
from .errors import _at_user

relu = _unary("relu")
sigmoid = _unary("sigmoid")
tanh = _unary("tanh")
softplus = _unary("softplus")
elu = _unary("elu")


def leaky_relu(features, alpha=0.2, name=None):
    """``max(x, alpha * x)`` (TF's formula for ``alpha <= 1``)."""
    from ._ops import maximum

    x = _t(features)
    return maximum(x, x * float(alpha))


def _last_axis(axis, dim):
    if axis not in (None, -1):
        raise NotImplementedError("kiln's %s is over the last axis" % dim)


def softmax(logits, axis=None, name=None, dim=None):
    _last_axis(axis if axis is not None else dim, "softmax")
    x = _t(logits)
    return x._graph._wrap(_kiln.unary("softmax", x._t))


def log_softmax(logits, axis=None, name=None, dim=None):
    _last_axis(axis if axis is not None else dim, "log_softmax")
    x = _t(logits)
    return x._graph._wrap(_kiln.unary("log_softmax", x._t))


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """Per-row cross entropy of `labels` (distributions) and `logits`."""
    if _sentinel is not None:
        raise ValueError("Only call `softmax_cross_entropy_with_logits` with named arguments (labels=..., logits=...)")
    _last_axis(axis if axis is not None else dim, "softmax_cross_entropy_with_logits")
    lab, lo = _t(labels), _t(logits)
    return lo._graph._wrap(_kiln.softmax_cross_entropy(lab._t, lo._t, False))


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Per-row cross entropy of integer class `labels` and `logits`."""
    if _sentinel is not None:
        raise ValueError("Only call `sparse_softmax_cross_entropy_with_logits` with named arguments")
    lab, lo = _t(labels), _t(logits)
    return lo._graph._wrap(_kiln.softmax_cross_entropy(lab._t, lo._t, True))


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Elementwise ``-z log(sigmoid(x)) - (1 - z) log(1 - sigmoid(x))``, in TF's stable
    form ``max(x, 0) - x z + log(1 + exp(-|x|))``."""
    from ._ops import exp, greater_equal, log1p, where_v2, zeros_like

    if _sentinel is not None:
        raise ValueError("Only call `sigmoid_cross_entropy_with_logits` with named arguments (labels=..., logits=...)")
    x = _t(logits)
    z = _t(labels, dtype=x.dtype)
    if not x.get_shape().is_compatible_with(z.get_shape()):
        raise _at_user(
            ValueError,
            "sigmoid_cross_entropy_with_logits",
            "logits and labels must have the same shape (%s vs %s)" % (x.get_shape(), z.get_shape()),
        )
    # TF's selects, so the gradient at 0 is TF's too
    zeros = zeros_like(x)
    pos = greater_equal(x, zeros)
    return where_v2(pos, x, zeros) - x * z + log1p(exp(where_v2(pos, -x, x)))


def bias_add(value, bias, data_format=None, name=None):
    """``value + bias`` over the last axis, with TF's check that ``bias`` is a vector
    of that axis' size."""
    x, b = _t(value), _t(bias)
    xs, bs = x.get_shape().as_list(), b.get_shape().as_list()
    if len(bs) != 1 or not xs or (xs[-1] is not None and bs[0] is not None and xs[-1] != bs[0]):
        raise _at_user(
            ValueError,
            "bias_add",
            "Dimensions must be equal, but are %s and %s for 'BiasAdd' with input shapes: %s, %s."
            % (xs[-1] if xs else "?", bs[0] if bs else "?", x.get_shape(), b.get_shape()),
        )
    return x + b


def l2_loss(t, name=None):
    """``sum(t ** 2) / 2``."""
    return reduce_sum(square(t)) * 0.5
