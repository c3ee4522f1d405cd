"""Each test starts with a fresh default graph."""
import pytest

import kiln.compat.v1 as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
