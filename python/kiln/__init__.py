"""kiln: a graph-to-kernel compiler for TensorFlow-1-style graphs.

Use it as TF1: ``import kiln.compat.v1 as tf``. The graph is compiled into Cranelift
kernels the first time a fetch set runs; later runs cost microseconds.
"""
import os as _os

from . import _kiln

_kiln._set_package_dir(_os.path.dirname(_os.path.abspath(__file__)))

from . import compat  # noqa: E402

__all__ = ["compat"]
__version__ = "0.1.0"
