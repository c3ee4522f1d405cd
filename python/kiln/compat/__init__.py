"""TensorFlow's compatibility namespace: ``kiln.compat.v1`` is ``tf.compat.v1``."""
from . import v1

__all__ = ["v1"]
