"""Variable initializers (TF ``*_initializer`` and ``tf.initializers``)."""
import numpy as np


class Initializer:
    """An initializer: kiln computes the initial value in the graph's init op."""

    def __init__(self, kind, args=(), data=None):
        self._kind, self._args, self._data = kind, [float(a) for a in args], data

    def _spec(self):
        return self._kind, self._args, self._data

    def __call__(self, shape, dtype=None, partition_info=None):
        raise NotImplementedError("kiln applies initializers through get_variable")


def constant_initializer(value=0, dtype=None, verify_shape=False):
    from ._graph import Tensor

    if isinstance(value, Tensor):
        raise TypeError("constant_initializer takes a Python or NumPy value, not a Tensor")
    return Initializer("constant", data=np.asarray(value))


def zeros_initializer(dtype=None):
    return Initializer("zeros")


def ones_initializer(dtype=None):
    return Initializer("ones")


def random_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=None):
    return Initializer("random_normal", (mean, stddev))


def truncated_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=None):
    return Initializer("truncated_normal", (mean, stddev))


def random_uniform_initializer(minval=0.0, maxval=None, seed=None, dtype=None):
    return Initializer("random_uniform", (minval, 1.0 if maxval is None else maxval))


def glorot_uniform_initializer(seed=None, dtype=None):
    return Initializer("glorot_uniform")


def glorot_normal_initializer(seed=None, dtype=None):
    return Initializer("glorot_normal")


def xavier_initializer(uniform=True, seed=None, dtype=None):
    """``tf.contrib.layers.xavier_initializer``."""
    return Initializer("glorot_uniform" if uniform else "glorot_normal")


# tf.initializers.*
zeros = zeros_initializer
ones = ones_initializer
constant = constant_initializer
random_normal = random_normal_initializer
truncated_normal = truncated_normal_initializer
random_uniform = random_uniform_initializer
glorot_uniform = glorot_uniform_initializer
glorot_normal = glorot_normal_initializer


def orthogonal_initializer(gain=1.0, seed=None, dtype=None):
    """A random orthogonal matrix times ``gain``, over the variable's rows (every dim
    but the last) and columns (the last)."""
    return Initializer("orthogonal", [gain])


orthogonal = orthogonal_initializer
