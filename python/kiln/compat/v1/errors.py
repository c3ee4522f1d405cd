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


def _at_user(cls, op, message):
    """``cls`` with ``file:line: op: message``, at the innermost frame outside kiln (the
    user's call), found as the errors raised from Rust find it."""
    return cls("%s: %s: %s" % (_kiln._user_location(), op, message))
