"""``tf.losses`` (the v1 losses the course uses): mean over the elements for the
default weights and reduction, as TF1's ``SUM_BY_NONZERO_WEIGHTS`` gives. As in TF1,
labels and predictions are cast to float32 first (``to_float``), whatever their dtype."""
from ... import _kiln
from . import _ops


def _loss(op, labels, predictions, weights, delta=1.0):
    p = _ops._t(predictions)
    lab = _ops._t(labels)
    return p._graph._wrap(_kiln.loss(op, lab._t, p._t, float(weights), float(delta)))


def mean_squared_error(labels, predictions, weights=1.0, scope=None, **kwargs):
    """``mean((predictions - labels)^2)``."""
    return _loss("mean_squared_error", labels, predictions, weights)


def absolute_difference(labels, predictions, weights=1.0, scope=None, **kwargs):
    """``mean(|predictions - labels|)``."""
    return _loss("absolute_difference", labels, predictions, weights)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None, **kwargs):
    """TF1's Huber loss: ``0.5 e^2`` within ``delta``, ``delta (|e| - 0.5 delta)`` beyond."""
    return _loss("huber_loss", labels, predictions, weights, delta)


def get_regularization_losses(scope=None):
    """The penalties ``get_variable``'s regularizers added (``tf.layers``' included)."""
    from ._graph import GraphKeys, get_default_graph

    return get_default_graph().get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """Their sum, or 0.0 when there are none."""
    from ._graph import get_default_graph

    g = get_default_graph()
    objects = g._objects.get("regularization_losses", [])
    if objects:
        raise TypeError("regularization_losses holds non-tensors: %r" % objects)
    return g._wrap(_kiln.get_regularization_loss(g._g, scope))
