"""``tf.layers.dense`` / ``flatten``, ``tf.contrib.layers`` and regularizers: variable
names and sharing as TF1 gives them (the expected names were printed by TF 2.21's
``tf.compat.v1.layers`` with tf_keras), values, gradients and errors (TF1's messages;
this file, with the import swapped, passes on TF 2.21 but for ``tf.contrib``, which
TF 2 no longer has, and flatten's refusal of unknown dims, a kiln limit)."""
import numpy as np
import pytest

import kiln.compat.v1 as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def names():
    return [v.name for v in tf.global_variables()]


def test_variable_names_and_reuse_follow_tf1():
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("q"):
        h = tf.layers.dense(x, 4, activation=tf.nn.relu)
        o = tf.layers.dense(h, 2)
    with tf.variable_scope("q", reuse=True):
        o2 = tf.layers.dense(tf.layers.dense(x, 4, activation=tf.nn.relu), 2)
    tf.layers.dense(x, 5, name="fc")
    tf.layers.dense(x, 5)
    tf.layers.dense(x, 5)
    with tf.variable_scope("p"):
        tf.layers.dense(x, 5, name="fc")
    tf.layers.dense(x, 5, name="fc", reuse=True)
    # TF 2.21's tf.compat.v1.layers printed exactly this list
    assert names() == [
        "q/dense/kernel:0", "q/dense/bias:0", "q/dense_1/kernel:0", "q/dense_1/bias:0",
        "fc/kernel:0", "fc/bias:0", "dense/kernel:0", "dense/bias:0", "dense_1/kernel:0",
        "dense_1/bias:0", "p/fc/kernel:0", "p/fc/bias:0",
    ]  # fmt: skip
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xv = np.random.RandomState(0).randn(6, 3).astype(np.float32)
    a, b = sess.run([o, o2], feed_dict={x: xv})
    np.testing.assert_array_equal(a, b)  # the reused layers are the same layers


def test_a_second_layer_of_one_name_needs_reuse():
    x = tf.placeholder(tf.float32, [None, 3])
    tf.layers.dense(x, 5, name="fc")
    with pytest.raises(ValueError, match="fc/kernel"):
        tf.layers.dense(x, 5, name="fc")
    # re-entering a scope without reuse restarts the count, so it collides too (as in TF1)
    with tf.variable_scope("s"):
        tf.layers.dense(x, 2)
    with pytest.raises(ValueError, match="s/dense/kernel"):
        with tf.variable_scope("s"):
            tf.layers.dense(x, 2)


def test_dense_computes_activation_of_x_w_plus_b():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.layers.dense(x, 4, activation=tf.tanh, bias_initializer=tf.constant_initializer(0.5))
    z = tf.layers.dense(x, 2, use_bias=False)
    assert names() == ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0"]
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xv = np.random.RandomState(1).randn(5, 3).astype(np.float32)
    w, b, w1, yv, zv = sess.run(tf.global_variables() + [y, z], feed_dict={x: xv})
    np.testing.assert_array_equal(b, np.full(4, 0.5, np.float32))
    np.testing.assert_allclose(yv, np.tanh(xv @ w + b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(zv, xv @ w1, rtol=1e-5, atol=1e-6)
    # Glorot-uniform: inside +-sqrt(6 / (fan_in + fan_out)), and not all one value
    assert np.all(np.abs(w) <= np.sqrt(6.0 / 7.0)) and np.std(w) > 0.1


def test_dense_on_rank_3_and_flatten():
    x = tf.placeholder(tf.float32, [None, 2, 3])
    y = tf.layers.dense(x, 7)
    f = tf.layers.flatten(x)
    assert y.get_shape().as_list() == [None, 2, 7]
    assert f.get_shape().as_list() == [None, 6]
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xv = np.random.RandomState(2).randn(4, 2, 3).astype(np.float32)
    w, b = sess.run(tf.global_variables())
    yv, fv = sess.run([y, f], feed_dict={x: xv})
    np.testing.assert_allclose(yv, xv @ w + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(fv, xv.reshape(4, 6))


def test_dense_trains_its_variables():
    x = tf.placeholder(tf.float32, [None, 3])
    loss = tf.reduce_sum(tf.layers.dense(x, 2))
    step = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xv = np.random.RandomState(3).randn(5, 3).astype(np.float32)
    w0 = sess.run(tf.global_variables()[0])
    sess.run(step, feed_dict={x: xv})
    w1, b1 = sess.run(tf.global_variables())
    # d(sum(x w + b))/db = batch size per unit; d/dw = column sums of x
    np.testing.assert_allclose(b1, [-5.0, -5.0])
    np.testing.assert_allclose(w1, w0 - xv.sum(0)[:, None], rtol=1e-5, atol=1e-5)


def test_dense_rejects_what_tf1_rejects():
    with pytest.raises(ValueError, match="The last dimension of the inputs to a Dense layer should be defined"):
        tf.layers.dense(tf.placeholder(tf.float32, [None, None]), 3)
    with pytest.raises(TypeError, match="can only be built with a floating-point dtype"):
        tf.layers.dense(tf.placeholder(tf.int32, [None, 3]), 3)


def test_flatten_of_unknown_dims_is_refused_by_name():
    # TF flattens these at run time; kiln's symbolic dims have no products, so it says
    # which layer and shape it cannot flatten rather than guessing
    with pytest.raises(ValueError, match="flatten needs every dim after the first known"):
        tf.layers.flatten(tf.placeholder(tf.float32, [None, None]))


def test_regularizers_collect_once_per_variable():
    x = tf.placeholder(tf.float32, [None, 3])
    reg = tf.contrib.layers.l2_regularizer(0.1)
    with tf.variable_scope("net"):
        tf.layers.dense(x, 4, kernel_regularizer=reg)
    with tf.variable_scope("net", reuse=True):
        tf.layers.dense(x, 4, kernel_regularizer=reg)  # shared: no second penalty
    assert len(tf.losses.get_regularization_losses()) == 1
    total = tf.losses.get_regularization_loss()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    w = sess.run(tf.global_variables()[0])
    np.testing.assert_allclose(sess.run(total), 0.1 * np.sum(w**2) / 2, rtol=1e-5)
    tf.reset_default_graph()
    assert tf.Session().run(tf.losses.get_regularization_loss()) == 0.0
    with pytest.raises(ValueError, match="less than 0"):
        tf.contrib.layers.l2_regularizer(-1.0)


def test_contrib_fully_connected():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.contrib.layers.fully_connected(x, 4)
    z = tf.contrib.layers.fully_connected(y, 2, activation_fn=None, scope="out")
    assert names() == ["fully_connected/weights:0", "fully_connected/biases:0", "out/weights:0", "out/biases:0"]
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xv = np.random.RandomState(4).randn(5, 3).astype(np.float32)
    w, b, w2, b2 = sess.run(tf.global_variables())
    np.testing.assert_allclose(sess.run(z, feed_dict={x: xv}), np.maximum(xv @ w + b, 0) @ w2 + b2, rtol=1e-5, atol=1e-5)


def test_contrib_fully_connected_without_biases_and_on_rank_3():
    # TF: biases_initializer=None means no biases; rank-3 inputs contract the last axis
    x = tf.placeholder(tf.float32, [None, 2, 3])
    y = tf.contrib.layers.fully_connected(x, 4, activation_fn=None, biases_initializer=None)
    assert names() == ["fully_connected/weights:0"]
    assert y.get_shape().as_list() == [None, 2, 4]
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xv = np.random.RandomState(5).randn(5, 2, 3).astype(np.float32)
    (w,) = sess.run(tf.global_variables())
    np.testing.assert_allclose(sess.run(y, feed_dict={x: xv}), xv @ w, rtol=1e-5, atol=1e-5)


def test_add_n_and_bias_add():
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    b = tf.constant([0.5, -1.0])
    sess = tf.Session()
    np.testing.assert_array_equal(sess.run(tf.add_n([a, a, a])), 3 * sess.run(a))
    np.testing.assert_array_equal(sess.run(tf.nn.bias_add(a, b)), [[1.5, 1.0], [3.5, 3.0]])
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tf.nn.bias_add(a, tf.constant([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="Shapes must be equal"):
        tf.add_n([a, b])
    with pytest.raises(TypeError, match=r"have types \[float32, int32\] that don't all match"):
        tf.add_n([a, tf.constant([[1, 2], [3, 4]])])


def test_variable_scope_initializer_regularizer_and_auto_reuse():
    """variable_scope's initializer and regularizer apply to the variables made in it
    (and nested scopes), AUTO_REUSE shares, and the penalties sum in
    get_regularization_loss."""
    g = tf.Graph()
    with g.as_default():
        reg = tf.contrib.layers.l2_regularizer(0.5)
        with tf.variable_scope("net", initializer=tf.constant_initializer(2.0), regularizer=reg):
            a = tf.get_variable("a", [3])
            with tf.variable_scope("inner"):
                b = tf.get_variable("b", [2], regularizer=tf.contrib.layers.l1_regularizer(0.25))
        with tf.variable_scope("net", reuse=tf.AUTO_REUSE):
            a2 = tf.get_variable("a", [3])
            c = tf.get_variable("c", [1], initializer=tf.zeros_initializer())
        assert a2 is a and c.op.name == "net/c"
        assert [v.op.name for v in tf.losses.get_regularization_losses()] != []
        total = tf.losses.get_regularization_loss()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            np.testing.assert_allclose(sess.run(a), [2.0, 2.0, 2.0])
            np.testing.assert_allclose(sess.run(b), [2.0, 2.0])
            # 0.5 * sum(a^2)/2 + 0.25 * sum(|b|) = 0.5 * 6 + 0.25 * 4
            np.testing.assert_allclose(sess.run(total), 4.0, rtol=1e-6)
        with pytest.raises(TypeError):
            with tf.variable_scope("bad", regularizer=lambda w: w):
                pass


def test_make_template_shares_and_orthogonal_initializer_is_orthogonal():
    g = tf.Graph()
    with g.as_default():

        def net(x, units=4):
            return tf.layers.dense(x, units, kernel_initializer=tf.orthogonal_initializer(gain=2.0))

        t = tf.make_template("q", net)
        x = tf.placeholder(tf.float32, [None, 6])
        y1, y2 = t(x), t(x * 2.0)
        names = sorted(v.op.name for v in tf.global_variables())
        assert names == ["q/dense/bias", "q/dense/kernel"], names
        tall = tf.get_variable("tall", [3, 5, 2], initializer=tf.orthogonal_initializer())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            k = sess.run(g.get_tensor_by_name("q/dense/kernel:0"))
            np.testing.assert_allclose(k.T @ k, 4.0 * np.eye(4), atol=1e-5)
            q = sess.run(tall).reshape(15, 2)
            np.testing.assert_allclose(q.T @ q, np.eye(2), atol=1e-5)
            v = np.ones([2, 6], np.float32)
            a, b = sess.run([y1, y2], {x: v})
            np.testing.assert_allclose(b - sess.run(g.get_tensor_by_name("q/dense/bias:0")), 2.0 * (a - sess.run(g.get_tensor_by_name("q/dense/bias:0"))), rtol=1e-5)
        with pytest.raises(ValueError):
            tf.get_variable("flat", [4], initializer=tf.orthogonal_initializer())
