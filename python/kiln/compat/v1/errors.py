"""TF's error classes (``tf.errors``): what a failed run raises."""
import os as _os
import sys as _sys

from ... import _kiln

_PACKAGE = _os.path.dirname(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))

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
    user's call), as the errors raised from Rust read."""
    f = _sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE):
        f = f.f_back
    where = "%s:%d: " % (f.f_code.co_filename, f.f_lineno) if f is not None else ""
    return cls("%s%s: %s" % (where, op, message))
