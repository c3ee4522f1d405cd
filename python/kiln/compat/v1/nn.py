"""``tf.nn``: activations, softmax and the cross-entropy losses."""
from ... import _kiln
from ._ops import _t, _unary

relu = _unary("relu")
sigmoid = _unary("sigmoid")
tanh = _unary("tanh")
softplus = _unary("softplus")
elu = _unary("elu")


def leaky_relu(features, alpha=0.2, name=None):
    """``x`` where positive, ``alpha * x`` elsewhere."""
    x = _t(features)
    return x._graph._wrap(_kiln.nn_unary("leaky_relu", x._t, float(alpha)))


def _axis(axis, dim):
    a = axis if axis is not None else dim
    return -1 if a is None else int(a)


def softmax(logits, axis=None, name=None, dim=None):
    x = _t(logits)
    return x._graph._wrap(_kiln.nn_unary("softmax", x._t, _axis(axis, dim)))


def log_softmax(logits, axis=None, name=None, dim=None):
    x = _t(logits)
    return x._graph._wrap(_kiln.nn_unary("log_softmax", x._t, _axis(axis, dim)))


def _last_axis(axis, dim):
    if axis not in (None, -1):
        raise NotImplementedError("kiln's %s is over the last axis" % dim)


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
    """Elementwise logistic loss, in TF's stable form."""
    if _sentinel is not None:
        raise ValueError("Only call `sigmoid_cross_entropy_with_logits` with named arguments (labels=..., logits=...)")
    x = _t(logits)
    z = _t(labels, dtype=x.dtype)
    return x._graph._wrap(_kiln.nn_binary("sigmoid_cross_entropy_with_logits", z._t, x._t))


def bias_add(value, bias, data_format=None, name=None):
    """``value + bias`` over the last axis (``bias`` a vector of that size)."""
    x, b = _t(value), _t(bias)
    return x._graph._wrap(_kiln.nn_binary("bias_add", x._t, b._t))


def l2_loss(t, name=None):
    """``sum(t ** 2) / 2``."""
    x = _t(t)
    return x._graph._wrap(_kiln.nn_unary("l2_loss", x._t, 0.0))


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """TF1's ``nn.dropout``: ``keep_prob`` (or ``rate = 1 - keep_prob``)."""
    if noise_shape is not None:
        raise NotImplementedError("kiln's dropout draws one number per element (noise_shape=None)")
    if (keep_prob is None) == (rate is None):
        raise ValueError("Specify exactly one of keep_prob and rate")
    r = float(rate) if rate is not None else 1.0 - float(keep_prob)
    x = _t(x)
    return x._graph._wrap(_kiln.dropout(x._t, r, None if seed is None else int(seed)))
