"""``tf.control_dependencies``, ``tf.identity`` and ``tf.no_op`` as TF1 runs them:
ops built in a block run its deps and read the variables they assign as assigned.
The expected values are TF1's (each test passes under ``import tensorflow.compat.v1 as
tf`` with eager execution disabled)."""
import numpy as np
import pytest

import kiln.compat.v1 as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def test_soft_target_update_after_the_step_in_one_run():
    # DQN's idiom: one fetch trains the online net and then moves the target toward it
    w = tf.get_variable("w", initializer=np.array([1.0, -2.0], np.float32))
    t = tf.get_variable("t", initializer=np.zeros(2, np.float32))
    c = tf.constant([0.5, 3.0])
    loss = tf.reduce_sum(c * w)
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.control_dependencies([step]):
        soft = tf.group(t.assign(0.25 * w + 0.75 * t))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(soft)
    w1 = np.array([0.95, -2.3], np.float32)
    np.testing.assert_allclose(sess.run(w), w1, rtol=1e-6)
    np.testing.assert_allclose(sess.run(t), 0.25 * w1, rtol=1e-6)


def test_identity_in_a_block_is_the_value_after_the_step():
    w = tf.get_variable("w", initializer=np.array([1.0, -2.0], np.float32))
    loss = tf.reduce_sum(w * w)
    step = tf.train.GradientDescentOptimizer(0.25).minimize(loss)
    with tf.control_dependencies([step]):
        after = tf.identity(w)
        loss_after = tf.reduce_sum(w * w)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    assert sess.run(loss) == 5.0
    after_v, loss_v = sess.run([after, loss_after])
    np.testing.assert_array_equal(after_v, [0.5, -1.0])
    assert loss_v == 1.25
    np.testing.assert_array_equal(sess.run(w), [0.5, -1.0])


def test_values_downstream_of_a_block_run_its_deps():
    v = tf.get_variable("v", initializer=np.array([1.0, 2.0], np.float32))
    bump = tf.assign_add(v, [10.0, 10.0])
    with tf.control_dependencies([bump]):
        doubled = v * 2.0
    downstream = doubled + 1.0  # built outside the block, computed from inside it
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    np.testing.assert_array_equal(sess.run(downstream), [23.0, 25.0])
    np.testing.assert_array_equal(sess.run(v), [11.0, 12.0])


def test_none_clears_an_empty_list_adds_nothing_and_no_op_runs_the_deps():
    a = tf.get_variable("a", initializer=np.array([1.0], np.float32))
    set3 = a.assign([3.0])
    with tf.control_dependencies([set3]):
        with tf.control_dependencies(None):
            cleared = a + 0.0
        with tf.control_dependencies([]):
            kept = a + 0.0
        noop = tf.no_op()
    sess = tf.Session()
    init = tf.global_variables_initializer()
    sess.run(init)
    np.testing.assert_array_equal(sess.run(cleared), [1.0])
    np.testing.assert_array_equal(sess.run(a), [1.0])
    np.testing.assert_array_equal(sess.run(kept), [3.0])
    sess.run(init)
    sess.run(noop)
    np.testing.assert_array_equal(sess.run(a), [3.0])


def test_update_ops_collection_idiom():
    # tf.layers.batch_normalization's pattern: train ops built under UPDATE_OPS
    m = tf.get_variable("moving", initializer=np.array([0.0], np.float32), trainable=False)
    w = tf.get_variable("w", initializer=np.array([2.0], np.float32))
    tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, m.assign(0.9 * m + 0.1 * w))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.GradientDescentOptimizer(0.5).minimize(tf.reduce_sum(w * w))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(2):
        sess.run(train)
    # the moving average read w before each step: 0.1 * 2, then 0.9 * 0.2 + 0.1 * 0
    np.testing.assert_allclose(sess.run(m), [0.18], rtol=1e-6)
    np.testing.assert_array_equal(sess.run(w), [0.0])


def test_kiln_refuses_gradients_through_a_replaced_read():
    # kiln's limit, named: the read in the block is the assigned value, not the variable
    v = tf.get_variable("v", initializer=np.array([1.0], np.float32))
    bump = tf.assign_add(v, [1.0])
    with tf.control_dependencies([bump]):
        y = tf.reduce_sum(v * v)
    with pytest.raises(ValueError, match="control_dependencies"):
        tf.gradients(y, [v])
