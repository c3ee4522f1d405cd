"""The ops under their TF names and keyword arguments."""
import numpy as np

from ... import _kiln
from . import _dtypes
from . import errors as _errors
from ._graph import GraphKeys, Tensor, _binary, convert_to_tensor, get_default_graph


def _t(x, dtype=None):
    return convert_to_tensor(x, dtype=dtype)


def _w(t):
    return get_default_graph()._wrap(t) if not hasattr(t, "_wrap") else t


def _wrap(like, t):
    return like._graph._wrap(t)


def _axes(axis):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return [int(a) for a in axis]
    return [int(axis)]


def placeholder(dtype, shape=None, name=None):
    """``tf.placeholder``: fed at each run; ``None`` dims take any size."""
    if shape is None:
        raise ValueError("kiln's placeholders need a shape (its rank); use None for unknown dims")
    g = get_default_graph()
    dims = [None if d is None or d == -1 else int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape)]
    return g._wrap(g._g.placeholder(_dtypes.as_dtype(dtype).name, dims, name or ""))


def constant(value, dtype=None, shape=None, name="Const", verify_shape=False):
    """``tf.constant``: Python floats become float32 and ints int32, as in TF."""
    g = get_default_graph()
    if shape is not None:
        value = np.broadcast_to(np.asarray(value), tuple(shape)).copy()
    dt = None if dtype is None else _dtypes.as_dtype(dtype).name
    return g._wrap(g._g.constant(value, dt, name or "Const"))


def _shape_list(shape):
    return [int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else ([shape] if isinstance(shape, (int, np.integer)) else shape))]


def zeros(shape, dtype=_dtypes.float32, name=None):
    g = get_default_graph()
    return g._wrap(_kiln.filled(g._g, _shape_list(shape), _dtypes.as_dtype(dtype).name, False))


def ones(shape, dtype=_dtypes.float32, name=None):
    g = get_default_graph()
    return g._wrap(_kiln.filled(g._g, _shape_list(shape), _dtypes.as_dtype(dtype).name, True))


def _fill_like(x, one, dtype):
    x = _t(x)
    dt = None if dtype is None else _dtypes.as_dtype(dtype).name
    return _wrap(x, _kiln.filled_like(x._t, one, dt))



def zeros_like(tensor, dtype=None, name=None):
    return _fill_like(tensor, False, dtype)


def ones_like(tensor, dtype=None, name=None):
    return _fill_like(tensor, True, dtype)


def _init_spec(initializer):
    """An initializer as kiln's (kind, numbers, data): an Initializer, a Tensor (the
    variable starts as what it computes) or a value."""
    from . import initializers

    if isinstance(initializer, initializers.Initializer):
        return initializer._spec()
    if isinstance(initializer, Tensor):
        return ("tensor", [], initializer._t)
    return initializers.constant_initializer(np.asarray(initializer))._spec()


def _reg_spec(regularizer, where):
    """kiln's (kind, scale) of a ``tf.contrib.layers`` regularizer; other callables
    are applied by ``get_variable`` itself."""
    spec = getattr(regularizer, "_spec", None)
    if spec is None:
        raise TypeError("%s: kiln takes tf.contrib.layers' l1/l2 regularizers here, got %r" % (where, regularizer))
    return spec


def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=True, **kwargs):
    """``tf.get_variable``: created under the variable scope, or reused as its reuse
    mode says (``True``, ``AUTO_REUSE``)."""
    g = get_default_graph()
    init = None if initializer is None else _init_spec(initializer)
    if shape is None and isinstance(initializer, Tensor):
        shape = initializer.shape.as_list()
        dtype = dtype or initializer.dtype
    elif shape is None and init is not None and init[0] == "constant":
        shape = np.shape(init[2])
    if shape is None:
        raise ValueError("Shape of a new variable (%s) must be fully defined" % name)
    if dtype is None:
        dtype = _dtypes.float32
    shape = [int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape)]
    reg = getattr(regularizer, "_spec", None)
    t, created = _kiln.get_variable_with(
        g._g, name, shape, _dtypes.as_dtype(dtype).name, init, reg, bool(trainable)
    )
    v = g._wrap(t)
    if regularizer is not None and reg is None and created:
        # a Python callable: TF1 keeps its penalty in the same collection
        penalty = regularizer(v)
        if penalty is not None:
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, penalty)
    return v


def global_variables(scope=None):
    return get_default_graph().get_collection("variables", scope)


all_variables = global_variables


def trainable_variables(scope=None):
    return get_default_graph().get_collection("trainable_variables", scope)


def get_collection(key, scope=None):
    return get_default_graph().get_collection(key, scope)


def add_to_collection(name, value):
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):
    for n in [names] if isinstance(names, str) else names:
        get_default_graph().add_to_collection(n, value)


def global_variables_initializer():
    g = get_default_graph()
    return g._wrap(g._g.global_variables_initializer())


initialize_all_variables = global_variables_initializer


def initialize_variables(var_list, name="init"):
    """TF1's deprecated name of ``variables_initializer``."""
    return variables_initializer(var_list, name)


def variables_initializer(var_list, name="init"):
    g = get_default_graph()
    return g._wrap(g._g.variables_initializer([v._t for v in var_list]))


def _unary(op):
    def f(x, name=None):
        x = _t(x)
        return _wrap(x, _kiln.unary(op, x._t))

    f.__name__ = op
    f.__doc__ = "``tf.%s``, elementwise." % op
    return f


# one function per entry of kiln's unary op table (ir/src/op_table.rs)
for _name in _kiln.UNARY_FUNCTIONS:
    globals()[_name] = _unary(_name)
neg = negative  # noqa: F821 (defined by the table)
stop_gradient = _unary("stop_gradient")


def identity(x, name=None):
    """A new op with ``x``'s value: built in a ``control_dependencies`` block, fetching
    it runs the block's deps (``x`` itself, built before, does not)."""
    x = _t(x)
    return x._graph._wrap(_kiln.identity(x._t))


def _bin(op):
    def f(x, y, name=None):
        return _binary(op, x, y)

    f.__name__ = op
    f.__doc__ = "``tf.%s`` with NumPy broadcasting." % op
    return f


# one function per binary op and comparison of the tables, but the four whose Python
# scalars TF converts to the tensor's dtype (below)
for _name in _kiln.BINARY_FUNCTIONS:
    if _name not in ("add", "subtract", "multiply", "divide"):
        globals()[_name] = _bin(_name)


def add(x, y, name=None):
    return _t(x) + y if isinstance(x, Tensor) else _t(y).__radd__(x)


def subtract(x, y, name=None):
    return _t(x) - y if isinstance(x, Tensor) else _t(y).__rsub__(x)


def multiply(x, y, name=None):
    return _t(x) * y if isinstance(x, Tensor) else _t(y).__rmul__(x)


def divide(x, y, name=None):
    return _t(x) / y if isinstance(x, Tensor) else _t(y).__rtruediv__(x)


sub = subtract
mul = multiply
div = truediv = realdiv = divide


def _reduce(op):
    def f(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
        x = _t(input_tensor)
        if axis is None:
            axis = reduction_indices
        kd = bool(keepdims if keepdims is not None else keep_dims)
        if op in ("logsumexp", "any", "all"):
            return _wrap(x, _kiln.reduce_special("reduce_" + op, x._t, _axes(axis), kd))
        return _wrap(x, _kiln.reduce(op, x._t, _axes(axis), kd))

    f.__name__ = "reduce_" + op
    f.__doc__ = "``tf.reduce_%s`` over ``axis`` (all when None)." % op
    return f


for _name in _kiln.REDUCE_FUNCTIONS + ["reduce_logsumexp", "reduce_any", "reduce_all"]:
    globals()[_name] = _reduce(_name[len("reduce_") :])


def matmul(a, b, transpose_a=False, transpose_b=False, name=None, **kwargs):
    a, b = _t(a), _t(b)
    return _wrap(a, _kiln.matmul_with(a._t, b._t, bool(transpose_a), bool(transpose_b)))



def reshape(tensor, shape, name=None):
    x = _t(tensor)
    return _wrap(x, _kiln.reshape(x._t, [int(d) for d in shape]))


def transpose(a, perm=None, name="transpose", conjugate=False):
    x = _t(a)
    return _wrap(x, _kiln.transpose(x._t, None if perm is None else [int(p) for p in perm]))


def slice(input_, begin, size, name=None):  # noqa: A001
    x = _t(input_)
    return _wrap(x, _kiln.slice(x._t, [int(b) for b in begin], [int(s) for s in size]))


def concat(values, axis, name="concat"):
    ts = [_t(v) for v in values]
    return _wrap(ts[0], _kiln.concat([t._t for t in ts], int(axis)))


def cast(x, dtype, name=None):
    x = _t(x)
    return _wrap(x, _kiln.cast(x._t, _dtypes.as_dtype(dtype).name))


def to_float(x, name="ToFloat"):
    return cast(x, _dtypes.float32)  # TF1's to_float is this cast


def broadcast_to(input, shape, name=None):  # noqa: A002
    x = _t(input)
    return _wrap(x, _kiln.broadcast_to(x._t, [int(d) for d in shape]))


def where_v2(condition, x=None, y=None, name=None):
    """``tf.where_v2``: elementwise select, all three broadcast NumPy-style."""
    if x is None or y is None:
        raise NotImplementedError("kiln's where needs x and y")
    c = _t(condition)
    x = _t(x)
    y = _t(y, dtype=x.dtype)
    return _wrap(c, _kiln.where_(c._t, x._t, y._t))


def where(condition, x=None, y=None, name=None):
    """``tf.compat.v1.where``: x and y of one shape; a rank-1 condition picks whole
    rows, else the condition has x's shape (``where_v2`` broadcasts)."""
    if x is None or y is None:
        raise NotImplementedError("kiln's where needs x and y")
    c, x = _t(condition), _t(x)
    y = _t(y, dtype=x.dtype)
    return _wrap(c, _kiln.where_v1(c._t, x._t, y._t))


def tf_range(start, limit=None, delta=1, dtype=None, name="range"):
    """``tf.range`` of Python numbers: int32 for ints, float32 for floats."""
    if limit is None:
        start, limit = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, limit, delta))
        dtype = _dtypes.int32 if ints else _dtypes.float32
    g = get_default_graph()
    return g._wrap(_kiln.range(g._g, float(start), float(limit), float(delta), _dtypes.as_dtype(dtype).name))







def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    return ref.assign(value)


def assign_add(ref, value, use_locking=None, name=None):
    return ref.assign_add(value)


def assign_sub(ref, value, use_locking=None, name=None):
    return ref.assign_sub(value)


def group(*inputs, **kwargs):
    from ._graph import Assign

    ops = [i for x in inputs for i in (x if isinstance(x, (list, tuple)) else [x])]
    ops = [o._op if isinstance(o, Assign) else o for o in ops]
    if not ops:
        return no_op()  # TF: a group of nothing is a no-op
    return _wrap(ops[0], _kiln.group([o._t for o in ops]))


def no_op(name=None):
    """An op that does nothing; in a ``control_dependencies`` block, it runs the deps."""
    g = get_default_graph()
    return g._wrap(g._g.no_op())


def control_dependencies(control_inputs):
    """``with tf.control_dependencies(ops):`` ops built inside run after ``ops`` and see
    their assignments; ``None`` clears the enclosing blocks' deps."""
    return get_default_graph().control_dependencies(control_inputs)


def gradients(ys, xs, grad_ys=None, name="gradients", **kwargs):
    """``tf.gradients``: one gradient per x (``None`` where a y does not depend on it)."""
    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    single = not isinstance(xs, (list, tuple))
    xs = [xs] if single else list(xs)
    gy = None
    if grad_ys is not None:
        gy = list(grad_ys) if isinstance(grad_ys, (list, tuple)) else [grad_ys]
        gy = [_t(g)._t for g in gy]
    gs = _kiln.gradients([_t(y)._t for y in ys], [x._t for x in xs], gy)
    return [None if g is None else xs[0]._graph._wrap(g) for g in gs]


def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """``tf.gather``: slices of `params` along `axis`; with ``batch_dims=1``, one element
    per batch row (``params[b, indices[b]]``, the DQN pattern)."""
    p, i = _t(params), _t(indices)
    return _wrap(p, _kiln.gather_v2(p._t, i._t, None if axis is None else int(axis), int(batch_dims)))


def gather_nd(params, indices, name=None, batch_dims=0):
    """``tf.gather_nd``: the slices ``params[b.., i0, i1, ...]`` for each index vector."""
    p, i = _t(params), _t(indices)
    return _wrap(p, _kiln.gather_nd(p._t, i._t, int(batch_dims)))


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """``tf.one_hot`` with ``on_value``/``off_value`` (default 1 and 0), ``dtype``
    (default float32, or on_value's) and ``axis`` (default last)."""
    i = _t(indices)
    if dtype is None:
        # TF converts Python values to tensors first: an int on_value gives int32
        on_value = None if on_value is None else _t(on_value)
        off_value = None if off_value is None else _t(off_value)
    on = getattr(on_value, "_t", on_value)
    off = getattr(off_value, "_t", off_value)
    dt = None if dtype is None else _dtypes.as_dtype(dtype).name
    return _wrap(i, _kiln.one_hot_with(i._t, int(depth), on, off, None if axis is None else int(axis), dt))


def argmax(input, axis=None, name=None, dimension=None, output_type=_dtypes.int64):  # noqa: A002
    x = _t(input)
    a = axis if axis is not None else (dimension if dimension is not None else 0)
    return _wrap(x, _kiln.arg_extreme(False, x._t, int(a), _dtypes.as_dtype(output_type).name))


def argmin(input, axis=None, name=None, dimension=None, output_type=_dtypes.int64):  # noqa: A002
    x = _t(input)
    a = axis if axis is not None else (dimension if dimension is not None else 0)
    return _wrap(x, _kiln.arg_extreme(True, x._t, int(a), _dtypes.as_dtype(output_type).name))


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """``tf.cumsum``: running sums along ``axis``; ``reverse=True`` gives reward-to-go."""
    x = _t(x)
    return _wrap(x, _kiln.cumsum(x._t, int(axis), bool(exclusive), bool(reverse)))


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    x = _t(t)
    lo, hi = (getattr(v, "_t", v) for v in (clip_value_min, clip_value_max))
    return _wrap(x, _kiln.clip_by_value(x._t, lo, hi))


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t`` scaled so its L2 norm over ``axes`` is at most ``clip_norm``."""
    x = _t(t)
    return _wrap(x, _kiln.clip_by_norm(x._t, getattr(clip_norm, "_t", clip_norm), _axes(axes)))


def global_norm(t_list, name=None):
    ts = [_t(t) for t in t_list]
    return _wrap(ts[0], _kiln.global_norm([t._t for t in ts]))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    ts = [_t(t) for t in t_list]
    clipped, norm = _kiln.clip_by_global_norm([t._t for t in ts], float(clip_norm))
    g = ts[0]._graph
    return [g._wrap(c) for c in clipped], g._wrap(norm)


def expand_dims(input, axis=None, name=None, dim=None):  # noqa: A002
    x = _t(input)
    return _wrap(x, _kiln.expand_dims(x._t, int(axis if axis is not None else dim)))


def squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002
    x = _t(input)
    axis = axis if axis is not None else squeeze_dims
    return _wrap(x, _kiln.squeeze(x._t, _axes(axis) or []))


def stack(values, axis=0, name="stack"):
    ts = [_t(v) for v in values]
    return _wrap(ts[0], _kiln.stack([t._t for t in ts], int(axis)))


def unstack(value, num=None, axis=0, name="unstack"):
    """``tf.unstack``: the slices along `axis`, each without that dim."""
    x = _t(value)
    return [x._graph._wrap(p) for p in _kiln.unstack(x._t, int(axis), None if num is None else int(num))]


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """``tf.split``: ``num_or_size_splits`` equal parts, or parts of the listed sizes."""
    x = _t(value)
    if isinstance(num_or_size_splits, (int, np.integer)):
        parts = _kiln.split(x._t, int(axis), num=int(num_or_size_splits))
    else:
        parts = _kiln.split(x._t, int(axis), sizes=[int(s) for s in num_or_size_splits])
    return [x._graph._wrap(p) for p in parts]


def tile(input, multiples, name=None):  # noqa: A002
    """``tf.tile`` with Python-number multiples."""
    x = _t(input)
    if any(int(m) < 0 for m in multiples):
        raise ValueError("multiples must be non-negative, got %s" % list(multiples))
    return _wrap(x, _kiln.tile(x._t, [int(m) for m in multiples]))


def shape(input, name=None, out_type=None):  # noqa: A002
    """``tf.shape``: the run-time shape as an int32 (or ``out_type``) vector. Given to
    the random ops, it shapes them as the input, a batch of any size included."""
    x = _t(input)
    out = _wrap(x, _kiln.shape(x._t, _dtypes.as_dtype(out_type or _dtypes.int32).name))
    out._like = x
    return out


def _random(dist, shape, a, b, dtype, seed):
    g = get_default_graph()
    like = getattr(shape, "_like", None)
    if like is not None:
        return g._wrap(g._g.random_like(dist, like._t, float(a), float(b), _dtypes.as_dtype(dtype).name, seed))
    dims = [int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape)]
    return g._wrap(g._g.random(dist, dims, float(a), float(b), _dtypes.as_dtype(dtype).name, seed))


def random_uniform(shape, minval=0, maxval=None, dtype=_dtypes.float32, seed=None, name=None):
    """Uniform on ``[minval, maxval)``, drawn afresh at every run."""
    return _random("uniform", shape, minval, 1.0 if maxval is None else maxval, dtype, seed)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=_dtypes.float32, seed=None, name=None):
    """Normal(mean, stddev), drawn afresh at every run."""
    return _random("normal", shape, mean, stddev, dtype, seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_dtypes.float32, seed=None, name=None):
    """Normal(mean, stddev) redrawn beyond two standard deviations, afresh at every run."""
    return _random("truncated_normal", shape, mean, stddev, dtype, seed)


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=_dtypes.int64):
    """Class indices drawn per row with probabilities ``softmax(logits)``: int64
    ``[batch, num_samples]``."""
    x = _t(logits)
    return _wrap(x, _kiln.categorical(x._t, int(num_samples), seed, _dtypes.as_dtype(output_dtype).name))


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape and dtype."""
    xs = [_t(x) for x in inputs]
    if not xs:
        raise _errors._at_user(ValueError, "add_n", "inputs must be a non-empty list of tensors")
    return _wrap(xs[0], _kiln.add_n([x._t for x in xs]))


class _Template:
    """What ``make_template`` returns: ``func`` called in one variable scope, its
    variables made in the first call and shared by the later ones."""

    def __init__(self, name, func, kwargs):
        g = get_default_graph()
        self._t = _kiln.Template(g._g, name)
        self._func, self._kwargs = func, kwargs
        self.name = self.variable_scope_name = self._t.name

    def __call__(self, *args, **kwargs):
        scope = self._t.scope()
        try:
            return self._func(*args, **dict(self._kwargs, **kwargs))
        finally:
            scope.close()


def make_template(name_, func_, create_scope_now_=False, unique_name_=None, custom_getter_=None, **kwargs):
    """``tf.make_template``: ``func_`` with its variables shared across calls."""
    if custom_getter_ is not None:
        raise NotImplementedError("kiln's make_template takes no custom_getter_")
    return _Template(unique_name_ or name_, func_, kwargs)


def set_random_seed(seed):
    g = get_default_graph()
    g.seed = seed
    g._g.set_random_seed(int(seed))


__all__ = sorted(
    n
    for n, v in list(globals().items())
    if callable(v) and not n.startswith("_") and getattr(v, "__module__", "") == __name__ and n != "tf_range"
)
