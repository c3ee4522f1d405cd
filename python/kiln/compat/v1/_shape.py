"""Static shapes as TF1 prints and compares them: ``(?, 1)``, ``shape[0].value``."""


class Dimension:
    """One dim of a static shape; ``value`` is ``None`` when unknown."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        other = other.value if isinstance(other, Dimension) else other
        if self.value is None or other is None:
            return None
        return self.value == other

    def __ne__(self, other):
        eq = self.__eq__(other)
        return None if eq is None else not eq

    def __hash__(self):
        return hash(self.value)

    def _op(self, other, f):
        o = other.value if isinstance(other, Dimension) else other
        return Dimension(None if self.value is None or o is None else f(self.value, int(o)))

    # TF's Dimension arithmetic: unknown when either side is
    def __add__(self, other):
        return self._op(other, lambda a, b: a + b)

    __radd__ = __add__

    def __sub__(self, other):
        return self._op(other, lambda a, b: a - b)

    def __rsub__(self, other):
        return self._op(other, lambda a, b: b - a)

    def __mul__(self, other):
        return self._op(other, lambda a, b: a * b)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        return self._op(other, lambda a, b: a // b)

    def __mod__(self, other):
        return self._op(other, lambda a, b: a % b)

    def __int__(self):
        if self.value is None:
            raise ValueError("unknown dimension")
        return self.value

    __index__ = __int__

    def __repr__(self):
        return "Dimension(%s)" % self.value

    def __str__(self):
        return "?" if self.value is None else str(self.value)


class TensorShape:
    """A static shape (TF ``TensorShape``); ``dims`` is ``None`` for an op without a value."""

    __slots__ = ("_dims",)

    def __init__(self, dims):
        self._dims = None if dims is None else [d.value if isinstance(d, Dimension) else d for d in dims]

    @property
    def dims(self):
        return None if self._dims is None else [Dimension(d) for d in self._dims]

    @property
    def ndims(self):
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def num_elements(self):
        """The product of the dims, or None when one is unknown."""
        if self._dims is None or None in self._dims:
            return None
        n = 1
        for d in self._dims:
            n *= d
        return n

    def as_list(self):
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def is_fully_defined(self):
        return self._dims is not None and all(d is not None for d in self._dims)

    def is_compatible_with(self, other):
        """Same rank (or either unknown) and equal dims where both are known."""
        other = other if isinstance(other, TensorShape) else TensorShape(other)
        if self._dims is None or other._dims is None:
            return True
        return len(self._dims) == len(other._dims) and all(
            a is None or b is None or a == b for a, b in zip(self._dims, other._dims)
        )

    def assert_is_compatible_with(self, other):
        """Raises TF's ValueError unless the shapes are compatible."""
        if not self.is_compatible_with(other):
            raise ValueError("Shapes %s and %s are incompatible" % (self, other))

    def merge_with(self, other):
        """The shape both describe (TF ``merge_with``); ValueError if incompatible."""
        other = other if isinstance(other, TensorShape) else TensorShape(other)
        self.assert_is_compatible_with(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        return TensorShape([a if a is not None else b for a, b in zip(self._dims, other._dims)])

    def __len__(self):
        return len(self._dims or ())

    def __iter__(self):
        return iter(self.dims or ())

    def __getitem__(self, i):
        if isinstance(i, slice):
            return TensorShape(self._dims[i])
        return Dimension(self._dims[i])

    def __eq__(self, other):
        if isinstance(other, TensorShape):
            return self._dims == other._dims
        try:
            return self._dims == list(other)
        except TypeError:
            return False

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(tuple(self._dims or ()))

    def __str__(self):
        if self._dims is None:
            return "<unknown>"
        parts = ["?" if d is None else str(d) for d in self._dims]
        if len(parts) == 1:
            return "(%s,)" % parts[0]
        return "(%s)" % ", ".join(parts)

    def __repr__(self):
        return "TensorShape(%s)" % (None if self._dims is None else self.dims)
