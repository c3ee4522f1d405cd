"""``tf.Session``: ``run`` with fetches as nested lists, tuples and dicts and a
``feed_dict``, as TF allows, and ``make_callable``.

Each distinct fetch structure and feed list is compiled once into a kiln callable and
cached on the session; a run of a cached one converts nothing it need not (arrays of the
placeholder's dtype are read in place) and releases the GIL while kernels run.
"""
import threading

from ... import _kiln
from ._graph import Assign, Operation, Tensor, get_default_graph

_local = threading.local()


def _default_session():
    s = getattr(_local, "stack", None)
    if not s:
        raise ValueError(
            "Cannot evaluate tensor using `eval()`: No default session is registered. "
            "Use `with sess.as_default()` or pass an explicit session to `eval(session=sess)`"
        )
    return s[-1]


def get_default_session():
    s = getattr(_local, "stack", None)
    return s[-1] if s else None


class _DefaultSession:
    def __init__(self, sess):
        self._sess = sess

    def __enter__(self):
        if not hasattr(_local, "stack"):
            _local.stack = []
        _local.stack.append(self._sess)
        return self._sess

    def __exit__(self, *exc):
        _local.stack.pop()
        return False


def _flatten(fetches, out):
    """Appends the tensors of `fetches` to `out`; returns a function rebuilding the
    structure from the flat results."""
    if isinstance(fetches, Assign):
        # the write and the value written
        out.append(fetches._op)
        i = len(out)
        out.append(fetches)
        return lambda r: r[i]
    if isinstance(fetches, (Tensor, Operation)):
        i = len(out)
        out.append(fetches)
        return lambda r: r[i]
    if isinstance(fetches, (list, tuple)):
        parts = [_flatten(f, out) for f in fetches]
        kind = type(fetches)
        if kind is list:
            return lambda r: [p(r) for p in parts]
        if kind is tuple:
            return lambda r: tuple(p(r) for p in parts)
        return lambda r: kind(*[p(r) for p in parts])  # namedtuple
    if isinstance(fetches, dict):
        items = [(k, _flatten(v, out)) for k, v in fetches.items()]
        kind = type(fetches)
        return lambda r: kind((k, p(r)) for k, p in items)
    if isinstance(fetches, str):
        return _flatten(get_default_graph().get_tensor_by_name(fetches), out)
    raise TypeError(
        "Fetch argument %r has invalid type %r, must be a string or Tensor." % (fetches, type(fetches))
    )


class Session:
    """A session over a graph (the default graph unless given)."""

    def __init__(self, target="", graph=None, config=None):
        self._graph = graph if graph is not None else get_default_graph()
        self._s = _kiln.Session(self._graph._g)
        self._fast = {}
        self._callables = {}
        self._closed = False
        self._default = None

    @property
    def graph(self):
        return self._graph

    @property
    def sess_str(self):
        return ""

    def as_default(self):
        return _DefaultSession(self)

    def __enter__(self):
        self._default = _DefaultSession(self)
        self._default.__enter__()
        return self

    def __exit__(self, *exc):
        if self._default is not None:
            self._default.__exit__(*exc)
            self._default = None
        self.close()
        return False

    def close(self):
        self._closed = True
        self._fast.clear()
        self._callables.clear()

    def _check_open(self):
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs the ops `fetches` needs, feeding `feed_dict`; returns values in the
        structure of `fetches` (``None`` for ops without a value)."""
        feed_dict = feed_dict or {}
        kind = type(fetches)
        # fast path: a tensor, or a flat list or tuple of tensors, keyed by identity
        if kind is list or kind is tuple:
            key = (tuple(map(id, fetches)), kind, tuple(map(id, feed_dict)))
        else:
            key = (id(fetches), None, tuple(map(id, feed_dict)))
        entry = self._fast.get(key)
        if entry is None:
            entry = self._entry(fetches, feed_dict, key)
        return entry[1](entry[0](*feed_dict.values()))

    def _entry(self, fetches, feed_dict, key):
        """The compiled callable for these fetches and feeds, compiling it once per
        distinct (flat fetch list, feed list)."""
        self._check_open()
        flat = []
        rebuild = _flatten(fetches, flat)
        feeds = []
        for k in feed_dict:
            t = self._graph.get_tensor_by_name(k) if isinstance(k, str) else k
            if not isinstance(t, Tensor):
                raise TypeError("Cannot interpret feed_dict key as Tensor: %r" % (k,))
            feeds.append(t)
        for t in flat + feeds:
            if t._graph is not self._graph:
                raise ValueError("Tensor %s is not an element of this graph." % t.name)
        flat_key = (tuple(map(id, flat)), tuple(map(id, feeds)))
        hit = self._callables.get(flat_key)
        if hit is None:
            c = self._s.make_callable([t._t for t in flat], [t._t for t in feeds])
            # the entry keeps its tensors alive, so their ids stay theirs
            hit = self._callables[flat_key] = (c, flat, feeds)
        entry = (hit[0], rebuild, fetches, tuple(feed_dict))
        simple = isinstance(fetches, (Tensor, Operation)) or (
            type(fetches) in (list, tuple) and all(isinstance(f, (Tensor, Operation)) for f in fetches)
        )
        if simple and all(isinstance(k, Tensor) for k in feed_dict):
            self._fast[key] = entry
        return entry

    def make_callable(self, fetches, feed_list=None, accept_options=False):
        """A function of the feeds in `feed_list` order returning `fetches`' values."""
        self._check_open()
        flat = []
        rebuild = _flatten(fetches, flat)
        feed_list = list(feed_list or [])
        c = self._s.make_callable([t._t for t in flat], [t._t for t in feed_list])

        def call(*args, **kwargs):
            return rebuild(c(*args))

        return call


InteractiveSession = Session
