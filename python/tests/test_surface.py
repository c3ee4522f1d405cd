"""One TF1 surface: the functions ``kiln.compat.v1`` exports are the ones the Rust API
has (``kiln::surface::TF1_FUNCTIONS``, checked to exist by the Rust compiler), apart
from the Python objects listed below. A function added on one side only fails here."""
import inspect
import types

import kiln.compat.v1 as tf
from kiln import _kiln

# Python by nature: classes mirroring TF's Python objects, and the default graph and
# session, which are Python globals (the Rust API passes its Graph and Session).
PYTHON_OBJECTS = {
    "ConfigProto", "DType", "Dimension", "GPUOptions", "Graph", "GraphKeys", "InteractiveSession",
    "Operation", "Session", "Tensor", "TensorShape", "Variable", "as_dtype", "convert_to_tensor",
    "get_default_graph", "get_default_session", "reset_default_graph", "initializers.Initializer",
    "train.Optimizer", "contrib.framework.is_tensor",
}

# Not yet moved into the Rust frontend (issue 21 stays open until this is empty).
NOT_YET_IN_RUST = set()

NAMESPACES = {"nn", "losses", "train", "random", "layers", "initializers", "contrib", "contrib.layers", "contrib.framework"}


def python_surface():
    out = set()

    def walk(mod, prefix):
        for n in sorted(dir(mod)):
            if n.startswith("_"):
                continue
            v = getattr(mod, n)
            if isinstance(v, (types.ModuleType, types.SimpleNamespace)):
                if prefix + n in NAMESPACES:
                    walk(v, prefix + n + ".")
            elif inspect.isfunction(v) or inspect.isbuiltin(v) or inspect.isclass(v):
                assert getattr(v, "__module__", "").startswith("kiln"), "%s%s leaks %r" % (prefix, n, v)
                out.add(prefix + n)

    walk(tf, "")
    return out


def test_python_and_rust_export_the_same_tf1_functions():
    py = python_surface()
    rust = set(_kiln.TF1_FUNCTIONS)
    assert len(rust) == len(_kiln.TF1_FUNCTIONS), "a name is listed twice in kiln::surface"
    assert sorted(rust - py) == [], "in the Rust API only"
    assert sorted(py - rust - PYTHON_OBJECTS - NOT_YET_IN_RUST) == [], "in kiln.compat.v1 only"


def test_the_exception_lists_are_true():
    py = python_surface()
    rust = set(_kiln.TF1_FUNCTIONS)
    # each listed name exists in Python and not in Rust: one moved down must leave the list
    assert sorted((PYTHON_OBJECTS | NOT_YET_IN_RUST) - py) == []
    assert sorted((PYTHON_OBJECTS | NOT_YET_IN_RUST) & rust) == []


def test_tf_math_holds_math_only():
    names = set(n for n in dir(tf.math) if not n.startswith("_"))
    assert "get_variable" not in names and "placeholder" not in names
    assert {"add", "reduce_logsumexp", "argmin", "tanh"} <= names
