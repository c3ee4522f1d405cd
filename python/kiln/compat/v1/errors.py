"""TF's error classes (``tf.errors``): what a failed run raises."""
from ... import _kiln

OpError = _kiln.OpError
InvalidArgumentError = _kiln.InvalidArgumentError
FailedPreconditionError = _kiln.FailedPreconditionError
NotFoundError = _kiln.NotFoundError
DataLossError = _kiln.DataLossError
InternalError = _kiln.InternalError

__all__ = [
    "OpError",
    "InvalidArgumentError",
    "FailedPreconditionError",
    "NotFoundError",
    "DataLossError",
    "InternalError",
]
