"""Graphs, the default-graph stack, tensors, variables and scopes, as in TF1.

A kiln tensor has one Python wrapper per graph (interned by its key), so a tensor is
the same object however it is reached (``global_variables()``, ``get_tensor_by_name``):
sessions key compiled fetch sets on those objects.
"""
import contextlib
import threading

import numpy as np

from ... import _kiln
from . import _dtypes
from ._shape import TensorShape

AUTO_REUSE = "AUTO_REUSE"


class Graph:
    """A TF1 graph: ops are added to the default one (``Graph().as_default()``)."""

    def __init__(self):
        self._g = _kiln.Graph()
        self._tensors = {}
        # collection entries that are not tensors (kiln's graph keeps the tensors)
        self._objects = {}
        self.seed = None

    def _wrap(self, t, cls=None):
        key = t.key
        w = self._tensors.get(key)
        if w is None:
            if cls is None:
                cls = Variable if t.var_name is not None else (Tensor if t.dtype is not None else Operation)
            w = object.__new__(cls)
            w._t = t
            w._graph = self
            self._tensors[key] = w
        return w

    @contextlib.contextmanager
    def as_default(self):
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        """TF ``Graph.control_dependencies``: ops built inside run after
        ``control_inputs`` (tensors, assignments, groups) and read the variables they
        assign as assigned; ``None`` clears the enclosing blocks' deps, an empty list
        adds none."""
        if control_inputs is not None and len(control_inputs) == 0:
            yield
            return
        deps = []
        for c in control_inputs or []:
            if isinstance(c, Assign):
                c = c._op
            elif isinstance(c, _OpInfo):
                c = self._wrap(self._g.get_tensor_by_name(c.name))
            if not isinstance(c, (Tensor, Operation)) or c._graph is not self:
                raise TypeError("Control input must be an Operation or Tensor of this graph: %r" % (c,))
            deps.append(c._t)
        scope = self._g.control_dependencies(deps)
        try:
            yield
        finally:
            scope.close()

    def get_tensor_by_name(self, name):
        return self._wrap(self._g.get_tensor_by_name(name))

    def get_operation_by_name(self, name):
        return self.get_tensor_by_name(name).op

    def get_collection(self, key, scope=None):
        items = [self._wrap(t) for t in _kiln.get_collection(self._g, key, scope)]
        objects = self._objects.get(key, [])
        if scope is not None:
            objects = [x for x in objects if getattr(x, "name", "").startswith(scope)]
        return items + list(objects)

    def _var_scope_prefix(self):
        """The open variable scopes as a name prefix: ``"outer/inner/"``."""
        return _kiln.scope_state(self._g)[0]

    def add_to_collection(self, key, value):
        if isinstance(value, Assign):
            value = value._op
        if isinstance(value, (Tensor, Operation)):
            _kiln.add_to_collection(self._g, key, value._t)
        else:
            self._objects.setdefault(key, []).append(value)

    def finalize(self):
        pass

    def __eq__(self, other):
        return isinstance(other, Graph) and self._g == other._g

    def __hash__(self):
        return hash(self._g.id)


class GraphKeys:
    """Collection names (TF ``GraphKeys``)."""

    GLOBAL_VARIABLES = "variables"
    VARIABLES = "variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    REGULARIZATION_LOSSES = "regularization_losses"


_local = threading.local()
_default = [Graph()]


def _stack():
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


def get_default_graph():
    """The innermost ``as_default()`` graph of this thread, else the global default."""
    s = _stack()
    return s[-1] if s else _default[0]


def reset_default_graph():
    """A fresh global default graph (not inside a ``with graph.as_default()``)."""
    if _stack():
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs.")
    _default[0] = Graph()


class Operation:
    """An op without a value (a train op, an initializer, a group)."""

    __slots__ = ("_t", "_graph", "__weakref__")

    @property
    def name(self):
        return self._t.name

    @property
    def graph(self):
        return self._graph

    @property
    def type(self):
        return "NoOp"

    @property
    def op(self):
        return self

    def run(self, feed_dict=None, session=None):
        from ._session import _default_session

        (session or _default_session()).run(self, feed_dict)

    def __repr__(self):
        return repr(self._t)


class _OpInfo:
    """A tensor's op (TF ``Tensor.op``): its name, graph and ``inputs``."""

    __slots__ = ("name", "graph", "type", "_of")

    def __init__(self, name, graph, of=None):
        self.name = name
        self.graph = graph
        self.type = None
        self._of = of

    @property
    def inputs(self):
        """The tensors the op reads: none for a placeholder, constant or variable."""
        if self._of is None:
            return []
        return [self.graph._wrap(t) for t in self._of._t.inputs]


class Tensor:
    """A value of a graph (TF ``Tensor``); arithmetic builds ops with NumPy broadcasting."""

    # _like: for a tf.shape result, the tensor whose shape it is
    __slots__ = ("_t", "_graph", "_like", "__weakref__")

    @property
    def name(self):
        return self._t.name

    @property
    def op(self):
        return _OpInfo(self._t.op_name, self._graph, self)

    @property
    def graph(self):
        return self._graph

    @property
    def dtype(self):
        return _dtypes.as_dtype(self._t.dtype)

    @property
    def shape(self):
        return TensorShape(self._t.shape)

    def get_shape(self):
        return TensorShape(self._t.shape)

    def eval(self, feed_dict=None, session=None):
        from ._session import _default_session

        return (session or _default_session()).run(self, feed_dict)

    def __repr__(self):
        return repr(self._t)

    def __hash__(self):
        return id(self)

    def __bool__(self):
        raise TypeError("Using a `tf.Tensor` as a Python `bool` is not allowed.")

    def __iter__(self):
        raise TypeError("Tensor objects are only iterable when eager execution is enabled.")

    def __len__(self):
        raise TypeError("len is not well defined for symbolic Tensors.")

    # arithmetic: kiln converts Python numbers to the tensor's dtype, as TF does
    def _arith(self, op, other, reverse=False):
        if not isinstance(other, (Tensor, int, float)) or isinstance(other, bool):
            other = convert_to_tensor(other, dtype=self.dtype)
        elif isinstance(other, Tensor) and other._graph is not self._graph:
            raise ValueError("Tensor %s must be from the same graph as %s." % (other.name, self.name))
        t = _kiln.arith(op, self._t, other._t if isinstance(other, Tensor) else other, reverse)
        return self._graph._wrap(t)

    def __add__(self, o):
        return self._arith("add", o)

    def __radd__(self, o):
        return self._arith("add", o, True)

    def __sub__(self, o):
        return self._arith("sub", o)

    def __rsub__(self, o):
        return self._arith("sub", o, True)

    def __mul__(self, o):
        return self._arith("mul", o)

    def __rmul__(self, o):
        return self._arith("mul", o, True)

    def __truediv__(self, o):
        return self._arith("div", o)

    def __rtruediv__(self, o):
        return self._arith("div", o, True)

    __div__ = __truediv__
    __rdiv__ = __rtruediv__

    def __neg__(self):
        return self._graph._wrap(_kiln.unary("negative", self._t))

    def __abs__(self):
        return self._graph._wrap(_kiln.unary("abs", self._t))

    def __pow__(self, o):
        return _binary("pow", self, o)

    def __rpow__(self, o):
        return _binary("pow", o, self)

    def __matmul__(self, o):
        return self._graph._wrap(_kiln.matmul(self._t, convert_to_tensor(o, dtype=self.dtype)._t))

    def __rmatmul__(self, o):
        return self._graph._wrap(_kiln.matmul(convert_to_tensor(o, dtype=self.dtype)._t, self._t))

    def __lt__(self, o):
        return _binary("less", self, o)

    def __le__(self, o):
        return _binary("less_equal", self, o)

    def __gt__(self, o):
        return _binary("greater", self, o)

    def __ge__(self, o):
        return _binary("greater_equal", self, o)

    def __getitem__(self, idx):
        return _getitem(self, idx)


def _unique_var_name(g, base):
    """``base``, or ``base_1``, ... : the first no variable under the open scopes has."""
    taken = {v.op.name for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES)}
    prefix = g._var_scope_prefix()
    uniq, i = base, 0
    while prefix + uniq in taken:
        i += 1
        uniq = "%s_%d" % (base, i)
    return uniq


class Variable(Tensor):
    """A variable (``get_variable`` or ``Variable``): reading it is a tensor."""

    __slots__ = ()

    def __new__(cls, initial_value=None, trainable=True, name=None, dtype=None, **kwargs):
        # tf.Variable(value): a variable initialized to a constant value
        from . import initializers

        g = get_default_graph()
        if isinstance(initial_value, Tensor):
            # the variable starts as what the tensor computes when its initializer runs
            shape = initial_value.shape.as_list()
            if None in shape:
                raise ValueError("initial_value must have a shape specified: %s" % initial_value)
            # TF converts the value to `dtype`: another tensor dtype is its ValueError
            initial_value = convert_to_tensor(initial_value, dtype=dtype)
            dt = initial_value.dtype
            uniq = _unique_var_name(g, name or "Variable")
            t = g._g.get_variable(uniq, shape, dt.name, "tensor", [], initial_value._t, trainable)
            return g._wrap(t, Variable)
        npd = None if dtype is None else _dtypes.as_dtype(dtype).as_numpy_dtype
        value = np.asarray(initial_value, dtype=npd)
        uniq = _unique_var_name(g, name or "Variable")
        dt = dtype or ("float32" if value.dtype == np.float64 else value.dtype.name)
        init = initializers.constant_initializer(value)
        t = g._g.get_variable(uniq, list(value.shape), _dtypes.as_dtype(dt).name, *init._spec(), trainable)
        return g._wrap(t, Variable)

    def __init__(self, *args, **kwargs):
        pass

    @property
    def initializer(self):
        return self._graph._wrap(self._graph._g.variables_initializer([self._t]))

    @property
    def initial_value(self):
        raise NotImplementedError("kiln does not expose a variable's initial value as a tensor")

    def read_value(self):
        return self

    def value(self):
        return self

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """The assignment; fetched, it runs and gives the new value, as TF's does."""
        value = convert_to_tensor(value, dtype=self.dtype)
        op = self._graph._wrap(_kiln.assign(self._t, value._t))
        a = object.__new__(Assign)
        a._t, a._graph, a._op = value._t, self._graph, op
        return a

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        return self._assign_delta(delta, False)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        return self._assign_delta(delta, True)

    def _assign_delta(self, delta, sub):
        delta = convert_to_tensor(delta, dtype=self.dtype)
        value, op = _kiln.assign_delta(self._t, delta._t, sub)
        a = object.__new__(Assign)
        a._t, a._graph, a._op = value, self._graph, self._graph._wrap(op)
        return a

    def load(self, value, session=None):
        from ._session import _default_session

        (session or _default_session()).run(self.assign(value))


class Assign(Tensor):
    """The result of ``Variable.assign``: a tensor holding the new value whose op (run
    when it is fetched or grouped) writes the variable."""

    __slots__ = ("_op",)

    @property
    def op(self):
        return self._op


def _binary(op, x, y):
    if not isinstance(x, Tensor):
        x = convert_to_tensor(x, dtype=y.dtype)
    if not isinstance(y, Tensor):
        y = convert_to_tensor(y, dtype=x.dtype)
    return x._graph._wrap(_kiln.binary(op, x._t, y._t))


def convert_to_tensor(value, dtype=None, name=None):
    """``tf.convert_to_tensor``: a tensor as is, anything array-like as a constant."""
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != dtype:
            raise ValueError(
                "Tensor conversion requested dtype %s for Tensor with dtype %s: %r"
                % (_dtypes.as_dtype(dtype).name, value.dtype.name, value)
            )
        return value
    g = get_default_graph()
    dt = None if dtype is None else _dtypes.as_dtype(dtype).name
    return g._wrap(g._g.constant(value, dt, name or ""))


def _getitem(x, idx):
    """Basic indexing: ints, slices with step 1, ``...`` and ``None`` (``newaxis``)."""
    return x._graph._wrap(_kiln.getitem(x._t, idx))


class variable_scope:
    """``with tf.variable_scope(name, reuse=..., initializer=..., regularizer=...)``:
    prefixes variables and ops; kiln's graph keeps the scope and its options."""

    def __init__(self, name_or_scope, default_name=None, values=None, reuse=None, initializer=None, regularizer=None, **kwargs):
        name = name_or_scope if name_or_scope is not None else default_name
        self._name = getattr(name, "name", name)
        self._reuse = reuse
        self._initializer = initializer
        self._regularizer = regularizer
        self._scope = None

    def __enter__(self):
        from ._ops import _init_spec, _reg_spec

        g = get_default_graph()
        mode = "auto" if self._reuse is AUTO_REUSE else ("yes" if self._reuse is True else "inherit")
        init = None if self._initializer is None else _init_spec(self._initializer)
        reg = None if self._regularizer is None else _reg_spec(self._regularizer, "variable_scope")
        self._graph = g
        self._scope = _kiln.variable_scope_with(g._g, self._name, mode, init, reg)
        reuse = {"auto": AUTO_REUSE, "yes": True, "inherit": None}[_kiln.scope_state(g._g)[1]]
        return _VarScope(self._name, reuse)

    def __exit__(self, *exc):
        self._scope.close()
        return False


class _VarScope:
    def __init__(self, name, reuse):
        self.name = name
        self.reuse = reuse

    def reuse_variables(self):
        raise NotImplementedError("open the scope with reuse=True instead")


class name_scope:
    """``with tf.name_scope(name)``: prefixes op names (not variables)."""

    def __init__(self, name, default_name=None, values=None):
        self._name = name if name is not None else default_name

    def __enter__(self):
        g = get_default_graph()
        self._scope = g._g.name_scope(self._name)
        return self._name + "/"

    def __exit__(self, *exc):
        self._scope.close()
        return False
