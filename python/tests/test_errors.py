"""Each error a user can meet is TF's exception class, and its message names the
user's Python file and line."""
import inspect
import os

import numpy as np
import pytest

import kiln.compat.v1 as tf

HERE = os.path.basename(__file__)


def line_of(marker):
    """The line of this file holding `marker` (the offending call)."""
    for i, text in enumerate(inspect.getsource(inspect.getmodule(line_of)).splitlines(), 1):
        if marker in text and "line_of" not in text:
            return i
    raise AssertionError(marker)


def assert_at(exc, marker):
    msg = str(exc.value)
    assert "%s:%d:" % (HERE, line_of(marker)) in msg, msg


def test_value_error_for_shapes_that_do_not_broadcast():
    a = tf.placeholder(tf.float32, [None, 3])
    b = tf.placeholder(tf.float32, [None, 4])
    with pytest.raises(ValueError) as e:
        a + b  # <- broadcast
    assert_at(e, "# <- broadcast")
    assert "[?0,3]" in str(e.value) or "3" in str(e.value)


def test_type_error_for_mixed_dtypes():
    a = tf.placeholder(tf.float32, [2])
    b = tf.placeholder(tf.int32, [2])
    with pytest.raises(TypeError) as e:
        tf.add(a, b)  # <- dtypes
    assert_at(e, "# <- dtypes")


def test_value_error_for_a_feed_of_the_wrong_shape():
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.reduce_sum(x)
    sess = tf.Session()
    with pytest.raises(ValueError) as e:
        sess.run(y, feed_dict={x: np.zeros((3, 5), np.float32)})  # <- feed shape
    assert_at(e, "# <- feed shape")


def test_invalid_argument_for_a_missing_feed():
    x = tf.placeholder(tf.float32, [None], name="x")
    y = x * 2.0
    sess = tf.Session()
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        sess.run(y)  # <- missing feed
    assert_at(e, "# <- missing feed")
    assert "'x'" in str(e.value)
    assert isinstance(e.value, tf.errors.OpError)


def test_invalid_argument_for_an_index_out_of_range():
    p = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    i = tf.placeholder(tf.int32, [None])
    g = tf.gather(p, i)
    sess = tf.Session()
    assert sess.run(g, {i: [2, 0]}).tolist() == [[4.0, 5.0], [0.0, 1.0]]
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        sess.run(g, {i: [3]})  # <- bad index
    assert_at(e, "# <- bad index")


def test_failed_precondition_for_an_uninitialized_variable():
    v = tf.get_variable("v", [2], initializer=tf.zeros_initializer())
    sess = tf.Session()
    with pytest.raises(tf.errors.FailedPreconditionError) as e:
        sess.run(v + 1.0)  # <- uninitialized
    assert_at(e, "# <- uninitialized")
    assert "'v'" in str(e.value)


def test_not_found_for_a_missing_checkpoint(tmp_path):
    tf.get_variable("w", [2])
    saver = tf.train.Saver()
    sess = tf.Session()
    with pytest.raises(tf.errors.NotFoundError) as e:
        saver.restore(sess, str(tmp_path / "nothing-here"))  # <- missing checkpoint
    assert_at(e, "# <- missing checkpoint")


def test_data_loss_for_a_corrupt_checkpoint(tmp_path):
    w = tf.get_variable("w", [64], initializer=tf.ones_initializer())
    saver = tf.train.Saver()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    path = saver.save(sess, str(tmp_path / "ckpt"))
    data = bytearray(open(path, "rb").read())
    data[-8] ^= 0xFF  # flip bits in the tensor data
    open(path, "wb").write(bytes(data))
    with pytest.raises(tf.errors.DataLossError) as e:
        saver.restore(sess, path)  # <- corrupt checkpoint
    assert_at(e, "# <- corrupt checkpoint")
    assert "w" in str(e.value)


def test_value_error_for_a_variable_defined_twice():
    tf.get_variable("twice", [1])
    with pytest.raises(ValueError) as e:
        tf.get_variable("twice", [1])  # <- twice
    assert_at(e, "# <- twice")


def test_value_error_for_a_tensor_of_another_graph():
    a = tf.constant(1.0)
    with tf.Graph().as_default():
        sess = tf.Session()
        with pytest.raises(ValueError) as e:
            sess.run(a)
    assert "not an element of this graph" in str(e.value)


def test_loss_and_softmax_errors_name_the_op_called_in_tf_terms():
    # each names the TF op the user called, dtypes and shapes as TF spells them, and
    # the user's line; none names an op kiln built inside it
    x = tf.placeholder(tf.float32, [None, 3])
    lab4 = tf.placeholder(tf.float32, [None, 4])
    e1 = lambda: tf.nn.softmax(tf.placeholder(tf.int32, [None, 3]))  # noqa: E731 # <- e1
    e2 = lambda: tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab4, logits=x)  # noqa: E731 # <- e2
    e3 = lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab4[:, 0], logits=x)  # noqa: E731 # <- e3
    e4 = lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab4, logits=x)  # noqa: E731 # <- e4
    e5 = lambda: tf.losses.huber_loss(lab4, x)  # noqa: E731 # <- e5
    e6 = lambda: tf.nn.sigmoid_cross_entropy_with_logits(labels=lab4, logits=x)  # noqa: E731 # <- e6
    e7 = lambda: tf.reduce_logsumexp(tf.constant([1, 2]))  # noqa: E731 # <- e7
    cases = [
        (TypeError, e1, "# <- e1", "Softmax", "int32"),
        (ValueError, e2, "# <- e2", "SoftmaxCrossEntropyWithLogits", "[?,4]"),
        (TypeError, e3, "# <- e3", "SparseSoftmaxCrossEntropyWithLogits", "float32"),
        (ValueError, e4, "# <- e4", "Rank mismatch", "received 2"),
        (ValueError, e5, "# <- e5", "Shapes (?, 3) and (?, 4)", "incompatible"),
        (ValueError, e6, "# <- e6", "sigmoid_cross_entropy_with_logits", "(?, 3) vs (?, 4)"),
        (TypeError, e7, "# <- e7", "reduce_logsumexp", "int32"),
    ]
    for cls, build, marker, *words in cases:
        with pytest.raises(cls) as e:
            build()
        assert_at(e, marker)
        msg = str(e.value)
        for w in words:
            assert w in msg, msg
        for internal in ("truediv", "mul:", "Exp:", "[?0", "f32", "i32", "labels/check"):
            assert internal not in msg, msg
