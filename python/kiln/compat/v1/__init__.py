"""``tf.compat.v1`` on kiln: ``import kiln.compat.v1 as tf`` and write TF1.

Graphs, placeholders, variables under variable scopes, the ops under their TF names,
``tf.nn``, ``tf.train`` (optimizers, ``Saver``), ``tf.errors`` and ``Session`` behave as
in TF1; graphs are compiled into native kernels the first time a fetch set runs.
"""
from . import contrib, errors, initializers, nn, train
from ._dtypes import DType, as_dtype, bool, double, float32, float64, int32, int64  # noqa: A004
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
from ._ops import (
    abs,
    add,
    all_variables,
    argmax,
    assign,
    broadcast_to,
    cast,
    clip_by_global_norm,
    clip_by_value,
    concat,
    constant,
    div,
    divide,
    equal,
    exp,
    gather,
    get_collection,
    get_variable,
    global_norm,
    global_variables,
    global_variables_initializer,
    gradients,
    greater,
    greater_equal,
    group,
    identity,
    initialize_all_variables,
    less,
    less_equal,
    log,
    matmul,
    maximum,
    minimum,
    mul,
    multiply,
    neg,
    negative,
    not_equal,
    one_hot,
    ones,
    ones_like,
    placeholder,
    pow,
    realdiv,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_sum,
    reshape,
    rsqrt,
    set_random_seed,
    sigmoid,
    sign,
    slice,
    sqrt,
    square,
    stop_gradient,
    sub,
    subtract,
    tanh,
    to_float,
    trainable_variables,
    transpose,
    truediv,
    variables_initializer,
    where,
    where_v2,
    zeros,
    zeros_like,
)
from ._session import InteractiveSession, Session, get_default_session
from ._shape import Dimension, TensorShape
from .initializers import (
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
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
