"""``tf.losses`` (the v1 losses the course uses): mean over the elements for the
default weights and reduction, as TF1's ``SUM_BY_NONZERO_WEIGHTS`` gives. As in TF1,
labels and predictions are cast to float32 first (``to_float``), whatever their dtype."""
from . import _dtypes, _ops
from .errors import _at_user


def _f32(labels, predictions):
    labels, predictions = _ops._t(labels), _ops._t(predictions)
    # TF1 checks this before building anything, so the error names no internal op
    if not predictions.get_shape().is_compatible_with(labels.get_shape()):
        raise _at_user(
            ValueError, "losses", "Shapes %s and %s are incompatible" % (predictions.get_shape(), labels.get_shape())
        )
    return _ops.cast(labels, _dtypes.float32), _ops.cast(predictions, _dtypes.float32)


def _reduce(losses, weights):
    if weights != 1.0:
        losses = losses * weights
    return _ops.reduce_mean(losses)


def mean_squared_error(labels, predictions, weights=1.0, scope=None, **kwargs):
    """``mean((predictions - labels)^2)``."""
    labels, predictions = _f32(labels, predictions)
    return _reduce(_ops.square(predictions - labels), weights)


def absolute_difference(labels, predictions, weights=1.0, scope=None, **kwargs):
    """``mean(|predictions - labels|)``."""
    labels, predictions = _f32(labels, predictions)
    return _reduce(_ops.abs(predictions - labels), weights)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None, **kwargs):
    """TF1's Huber loss: ``0.5 e^2`` within ``delta``, ``delta (|e| - 0.5 delta)``
    beyond, in TF1's form (``0.5 q^2 + delta l`` with ``q = min(|e|, delta)``)."""
    labels, predictions = _f32(labels, predictions)
    error = predictions - labels
    abs_error = _ops.abs(error)
    quadratic = _ops.minimum(abs_error, _ops._t(float(delta), dtype=abs_error.dtype))
    linear = abs_error - quadratic
    return _reduce(0.5 * quadratic * quadratic + float(delta) * linear, weights)


def get_regularization_losses(scope=None):
    """The penalties ``get_variable``'s regularizers added (``tf.layers``' included)."""
    from ._graph import GraphKeys, get_default_graph

    return get_default_graph().get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """Their sum, or 0.0 when there are none."""
    losses = get_regularization_losses(scope)
    return _ops.add_n(losses) if losses else _ops.constant(0.0)
