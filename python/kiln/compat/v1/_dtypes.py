"""TF's dtypes: ``tf.float32`` and friends, equal to NumPy dtypes and their names."""
import numpy as np


class DType:
    """A tensor element type (TF ``DType``)."""

    __slots__ = ("name", "as_numpy_dtype")

    def __init__(self, name):
        self.name = name
        self.as_numpy_dtype = np.dtype(name).type

    @property
    def is_floating(self):
        return self.name in ("float32", "float64")

    @property
    def is_integer(self):
        return self.name in ("int32", "int64", "uint8", "int8", "uint16", "int16")

    @property
    def is_unsigned(self):
        return self.name in ("uint8", "uint16", "bool")

    @property
    def min(self):
        return np.iinfo(self.as_numpy_dtype).min if self.is_integer else np.finfo(self.as_numpy_dtype).min

    @property
    def max(self):
        return np.iinfo(self.as_numpy_dtype).max if self.is_integer else np.finfo(self.as_numpy_dtype).max

    @property
    def is_bool(self):
        return self.name == "bool"

    @property
    def base_dtype(self):
        return self

    def __eq__(self, other):
        try:
            return self.name == as_dtype(other).name
        except TypeError:
            return False

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return "tf." + self.name

    __str__ = __repr__


float32 = DType("float32")
float64 = DType("float64")
int32 = DType("int32")
int64 = DType("int64")
bool = DType("bool")  # noqa: A001 (TF's name)
uint8 = DType("uint8")
int8 = DType("int8")
uint16 = DType("uint16")
int16 = DType("int16")
double = float64

_BY_NAME = {d.name: d for d in (float32, float64, int32, int64, bool, uint8, int8, uint16, int16)}


def as_dtype(d):
    """``tf.as_dtype``: a DType from a DType, a NumPy dtype or type, or a name."""
    if isinstance(d, DType):
        return d
    if isinstance(d, str):
        name = {"float": "float32", "double": "float64"}.get(d, d)
    else:
        try:
            name = np.dtype(d).name
        except TypeError:
            raise TypeError("cannot convert %r to a dtype" % (d,)) from None
    try:
        return _BY_NAME[name]
    except KeyError:
        raise TypeError("kiln has no dtype %s" % name) from None
