"""``tf.compat.v1`` on kiln: ``import kiln.compat.v1 as tf`` and write TF1.

Graphs, placeholders, variables under variable scopes, the ops under their TF names,
``tf.nn``, ``tf.train`` (optimizers, ``Saver``), ``tf.errors`` and ``Session`` behave as
in TF1; graphs are compiled into native kernels the first time a fetch set runs.
"""
import types as _types

from ... import _kiln

from . import contrib, errors, initializers, layers, losses, nn, train
from ._dtypes import (  # noqa: A004
    DType,
    as_dtype,
    bool,
    double,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
)
from ._graph import (
    AUTO_REUSE,
    Graph,
    GraphKeys,
    Operation,
    Tensor,
    Variable,
    convert_to_tensor,
    get_default_graph,
    name_scope,
    reset_default_graph,
    variable_scope,
)
from ._ops import *  # noqa: F401,F403 (every op, the tables' included: see _ops.__all__)
from ._ops import __all__ as _ops_all
from ._ops import tf_range as range  # noqa: A004 (TF's name)
from ._session import InteractiveSession, Session, get_default_session
from ._shape import Dimension, TensorShape
from .initializers import (
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    orthogonal_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    zeros_initializer,
)

newaxis = None


class GPUOptions:
    """Accepted and ignored: kiln compiles for the CPU."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class ConfigProto:
    """Accepted; kiln's session knobs are its environment variables (``KILN_THREADS``)."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


# tf.random: sampling ops
random = _types.SimpleNamespace(
    categorical=multinomial,  # noqa: F405
    uniform=random_uniform,  # noqa: F405
    normal=random_normal,  # noqa: F405
    truncated_normal=truncated_normal,  # noqa: F405
    set_random_seed=set_random_seed,  # noqa: F405
)

# tf.math: the elementwise ops and reductions under their TF names
_MATH = _kiln.UNARY_FUNCTIONS + _kiln.BINARY_FUNCTIONS + _kiln.REDUCE_FUNCTIONS
_MATH += ["add_n", "argmax", "argmin", "cumsum", "reduce_logsumexp", "reduce_any", "reduce_all", "truediv", "realdiv"]
math = _types.SimpleNamespace(**{n: globals()[n] for n in _MATH})
