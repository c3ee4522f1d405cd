"""The parts of ``tf.contrib`` the course uses."""
import types

from .initializers import xavier_initializer

layers = types.SimpleNamespace(xavier_initializer=xavier_initializer)
