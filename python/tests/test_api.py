"""tf.compat.v1's API on kiln: graphs, fetch structures, feeds, variables, scopes,
gradients (against finite differences), optimizers, savers, callables and threads."""
import collections
import threading
import tracemalloc

import numpy as np
import pytest

import kiln.compat.v1 as tf


def test_fetches_in_any_structure():
    a = tf.constant(1.0)
    b = tf.constant([2.0, 3.0])
    sess = tf.Session()
    assert sess.run(a) == 1.0
    assert isinstance(sess.run(a), np.float32)
    r = sess.run([a, (b, {"x": a})])
    assert r[0] == 1.0 and r[1][1]["x"] == 1.0 and r[1][0].tolist() == [2.0, 3.0]
    assert isinstance(r[1], tuple) and isinstance(r[1][1], dict)
    P = collections.namedtuple("P", "first second")
    p = sess.run(P(a, b))
    assert isinstance(p, P) and p.first == 1.0
    assert sess.run({"a": a, "b": [b]})["b"][0].tolist() == [2.0, 3.0]
    # the same structure again is a cache hit, not a recompile
    assert sess.run([a, (b, {"x": a})])[0] == 1.0


def test_feeds_of_lists_scalars_and_other_dtypes():
    x = tf.placeholder(tf.float32, [None])
    s = tf.placeholder(tf.float32, [])
    y = x * s
    sess = tf.Session()
    assert sess.run(y, {x: [1, 2], s: 3}).tolist() == [3.0, 6.0]
    assert sess.run(y, {x: np.array([1.0, 2.0], np.float64), s: 0.5}).tolist() == [0.5, 1.0]
    assert sess.run(y, feed_dict={"Placeholder:0": [4.0], s: 1.0}).tolist() == [4.0]


def test_int_and_bool_feeds_and_fetches():
    i = tf.placeholder(tf.int32, [None])
    m = tf.placeholder(tf.bool, [None])
    sess = tf.Session()
    out = sess.run([i * 2, tf.cast(m, tf.float32)], {i: [1, 2, 3], m: [True, False, True]})
    assert out[0].dtype == np.int32 and out[0].tolist() == [2, 4, 6]
    assert out[1].tolist() == [1.0, 0.0, 1.0]
    am = tf.argmax(tf.constant([[1.0, 3.0], [5.0, 2.0]]), axis=1)
    assert sess.run(am).dtype == np.int64 and sess.run(am).tolist() == [1, 0]


def test_shapes_print_and_compare_as_in_tf():
    x = tf.placeholder(tf.float32, [None, 1], name="x")
    assert str(x.get_shape()) == "(?, 1)"
    assert x.get_shape().as_list() == [None, 1]
    assert x.shape[1].value == 1 and x.shape[0].value is None
    assert repr(x) == 'Tensor("x:0", shape=(?, 1), dtype=float32)'
    c = tf.constant(np.ones((4, 1))) * tf.constant(np.ones((1, 4)))
    assert c.get_shape() == (4, 4)
    assert x.dtype == tf.float32 and x.dtype == np.float32 and x.dtype == "float32"


def test_default_graphs():
    g = tf.Graph()
    with g.as_default():
        a = tf.constant(1.0)
        assert tf.get_default_graph() is g
    assert a.graph is g
    assert tf.get_default_graph() is not g
    b = tf.constant(2.0)
    tf.reset_default_graph()
    assert b.graph is not tf.get_default_graph()
    with tf.Session(graph=g) as sess:
        assert sess.run(a) == 1.0
        assert a.eval() == 1.0


def test_slicing_and_operators():
    x = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))
    sess = tf.Session()
    want = np.arange(12, dtype=np.float32).reshape(3, 4)
    for got, expect in [
        (x[1], want[1]),
        (x[:, 2], want[:, 2]),
        (x[1:, :2], want[1:, :2]),
        (x[-1, 1:3], want[-1, 1:3]),
        (x[..., 0], want[..., 0]),
        (x[:, None, 1], want[:, None, 1]),
    ]:
        np.testing.assert_array_equal(sess.run(got), expect)
    np.testing.assert_allclose(sess.run(2.0 - x / 4.0), 2.0 - want / 4.0)
    np.testing.assert_allclose(sess.run(-x ** 2.0), -(want**2))
    np.testing.assert_allclose(sess.run(x @ tf.transpose(x)), want @ want.T)
    np.testing.assert_array_equal(sess.run(x > 5.0), want > 5.0)


def test_variable_scopes_and_reuse():
    with tf.variable_scope("layer"):
        w = tf.get_variable("w", [2, 3])
    with tf.variable_scope("layer", reuse=True):
        w2 = tf.get_variable("w", [2, 3])
    assert w2 is w
    with tf.variable_scope("shared", reuse=tf.AUTO_REUSE):
        s1 = tf.get_variable("s", [1])
    with tf.variable_scope("shared", reuse=tf.AUTO_REUSE):
        s2 = tf.get_variable("s", [1])
    assert s1 is s2
    assert [v.name for v in tf.trainable_variables()] == ["layer/w:0", "shared/s:0"]
    assert [v.name for v in tf.trainable_variables("layer")] == ["layer/w:0"]
    v = tf.Variable([1.0, 2.0], name="plain")
    v2 = tf.Variable(np.zeros(3), name="plain")
    assert v.name == "plain:0" and v2.name == "plain_1:0"
    assert isinstance(v, tf.Variable)
    with tf.name_scope("ops"):
        y = v * 2.0
    assert y.name.startswith("ops/")


def test_gradients_match_finite_differences():
    x = tf.placeholder(tf.float32, [3])
    y = tf.reduce_sum(tf.tanh(x) * x + tf.exp(-x * x))
    (g,) = tf.gradients(y, [x])
    sess = tf.Session()
    x0 = np.array([0.3, -1.2, 2.0], np.float32)
    got = sess.run(g, {x: x0})
    f = lambda v: np.sum(np.tanh(v) * v + np.exp(-v * v))  # noqa: E731
    eps = 1e-3
    want = [(f(x0 + eps * e) - f(x0 - eps * e)) / (2 * eps) for e in np.eye(3, dtype=np.float64)]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
    assert tf.gradients(y, [tf.placeholder(tf.float32, [1])]) == [None]


@pytest.mark.parametrize(
    "make",
    [
        lambda: tf.train.GradientDescentOptimizer(0.1),
        lambda: tf.train.MomentumOptimizer(0.05, 0.9),
        lambda: tf.train.AdamOptimizer(0.05),
        lambda: tf.train.RMSPropOptimizer(0.05),
    ],
)
def test_optimizers_fit_a_line(make):
    rng = np.random.RandomState(0)
    xs = rng.uniform(-1, 1, (64, 1)).astype(np.float32)
    ys = 3 * xs - 1
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.get_variable("w", [1, 1], initializer=tf.zeros_initializer())
    b = tf.get_variable("b", [1], initializer=tf.zeros_initializer())
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    step = tf.train.get_or_create_global_step()
    train = make().minimize(loss, global_step=step)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    first = sess.run(loss, {x: xs, y: ys})
    for _ in range(300):
        _, last = sess.run([train, loss], {x: xs, y: ys})
    assert last < first * 0.01, (first, last)
    assert sess.run(step) == 300


def test_compute_and_apply_gradients_with_clipping():
    w = tf.get_variable("w", [2], initializer=tf.constant_initializer([3.0, 4.0]))
    loss = tf.reduce_sum(tf.square(w))
    opt = tf.train.GradientDescentOptimizer(1.0)
    gvs = opt.compute_gradients(loss)
    grads, norm = tf.clip_by_global_norm([g for g, _ in gvs], 1.0)
    train = opt.apply_gradients(zip(grads, [v for _, v in gvs]))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    assert abs(sess.run(norm) - 10.0) < 1e-5
    sess.run(train)
    np.testing.assert_allclose(sess.run(w), [3.0 - 0.6, 4.0 - 0.8], rtol=1e-6)


def test_saver_round_trip(tmp_path):
    w = tf.get_variable("w", [3], initializer=tf.random_normal_initializer())
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    saved = sess.run(w)
    saver = tf.train.Saver(max_to_keep=2)
    for step in range(3):
        path = saver.save(sess, str(tmp_path / "model"), global_step=step)
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    tf.reset_default_graph()
    w2 = tf.get_variable("w", [3])
    sess2 = tf.Session()
    tf.train.Saver().restore(sess2, tf.train.latest_checkpoint(str(tmp_path)))
    np.testing.assert_array_equal(sess2.run(w2), saved)


def test_make_callable():
    x = tf.placeholder(tf.float32, [None, 2])
    w = tf.get_variable("w", [2, 1], initializer=tf.ones_initializer())
    y = tf.matmul(x, w)
    loss = tf.reduce_sum(y)
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    step = sess.make_callable([train, loss], [x])
    _, l0 = step(np.ones((4, 2), np.float32))
    _, l1 = step(np.ones((4, 2), np.float32))
    assert l0 == 8.0 and l1 < l0
    fwd = sess.make_callable(y, [x])
    assert fwd([[1.0, 2.0]]).shape == (1, 1)


def test_c_contiguous_feeds_are_read_in_place():
    x = tf.placeholder(tf.float32, [None, 1000])
    s = tf.reduce_sum(x)
    sess = tf.Session()
    big = np.ones((4000, 1000), np.float32)  # 16 MB
    sess.run(s, {x: big[:10]})
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    assert sess.run(s, {x: big}) == 4_000_000.0
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    assert peak < 1_000_000, "a copy of the feed was made: %d bytes" % peak


def test_runs_release_the_gil_and_threads_share_a_session():
    a = tf.placeholder(tf.float32, [None, 512])
    y = tf.reduce_sum(tf.matmul(a, tf.transpose(a)))
    sess = tf.Session()
    data = np.ones((512, 512), np.float32) * 0.01
    sess.run(y, {a: data})
    ticks = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    results = []

    def work():
        for _ in range(20):
            results.append(sess.run(y, {a: data}))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    t.join()
    assert len(results) == 40 and len(set(np.round(results, 3))) == 1
    assert ticks[0] > 1000, "the counter thread could not run while kiln ran"


def test_nn_ops():
    logits = tf.constant([[1.0, 2.0, 0.5], [0.1, 0.1, 3.0]])
    labels = tf.constant([1, 2])
    onehot = tf.one_hot(labels, 3)
    sess = tf.Session()
    sm = sess.run(tf.nn.softmax(logits))
    np.testing.assert_allclose(sm.sum(axis=1), [1.0, 1.0], rtol=1e-6)
    a = sess.run(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    b = sess.run(tf.nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=logits))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a, -np.log(sm[[0, 1], [1, 2]]), rtol=1e-5)
    assert abs(sess.run(tf.nn.l2_loss(tf.constant([3.0, 4.0]))) - 12.5) < 1e-6


def test_assign_gives_the_new_value_and_groups_run_it():
    w = tf.get_variable("w", [2], initializer=tf.constant_initializer(1.0))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    up = w.assign_add([1.0, 2.0])
    assert sess.run(up).tolist() == [2.0, 3.0]
    assert sess.run(w).tolist() == [2.0, 3.0]
    sess.run(tf.group(w.assign([0.0, 0.0])))
    assert sess.run(w).tolist() == [0.0, 0.0]
    new, old = sess.run([tf.assign(w, [5.0, 5.0]), tf.reduce_sum(w)])
    assert new.tolist() == [5.0, 5.0]


def test_unused_feeds_and_strided_feeds():
    x = tf.placeholder(tf.float32, [None])
    z = tf.placeholder(tf.float32, [None])
    y = x * 2.0
    sess = tf.Session()
    assert sess.run(y, {x: [1.0], z: [5.0]}).tolist() == [2.0]
    assert sess.run(y, {x: np.arange(6, dtype=np.float32)[::2]}).tolist() == [0.0, 4.0, 8.0]
    with pytest.raises(ValueError):
        sess.run(y, {y: [1.0]})


def test_homework_ops_sampling_and_shapes():
    logits = tf.placeholder(tf.float32, [None, 3])
    action = tf.squeeze(tf.multinomial(logits, 1), axis=[1])
    assert action.get_shape().as_list() == [None]
    sess = tf.Session()
    probs = np.array([0.2, 0.3, 0.5])
    draws = sess.run(action, {logits: np.tile(np.log(probs), (5000, 1))})
    assert draws.dtype == np.int64 and draws.shape == (5000,)
    freq = np.bincount(draws, minlength=3) / 5000.0
    np.testing.assert_allclose(freq, probs, atol=0.03)
    again = sess.run(action, {logits: np.tile(np.log(probs), (5000, 1))})
    assert (draws != again).any(), "a second run drew the same samples"
    u = tf.random_uniform([1000], minval=2.0, maxval=3.0, seed=1)
    a, b = sess.run(u), sess.run(u)
    assert a.min() >= 2.0 and a.max() < 3.0 and (a != b).any()
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert sess.run(tf.expand_dims(x, 0)).shape == (1, 2, 3)
    assert sess.run(tf.stack([x, x], axis=2)).shape == (2, 3, 2)
    assert sess.run(tf.squeeze(tf.expand_dims(x, -1))).shape == (2, 3)
    np.testing.assert_allclose(sess.run(tf.nn.softplus(x)), np.log1p(np.exp(np.arange(6).reshape(2, 3))), rtol=1e-6)
    np.testing.assert_allclose(sess.run(tf.nn.elu(x - 3.0)), np.where(np.arange(6) - 3.0 > 0, np.arange(6) - 3.0, np.expm1(np.arange(6) - 3.0)).reshape(2, 3), rtol=1e-6)
    np.testing.assert_allclose(sess.run(tf.log1p(x)), np.log1p(np.arange(6).reshape(2, 3)), rtol=1e-6)
    np.testing.assert_allclose(sess.run(tf.nn.leaky_relu(x - 3.0, 0.1)), np.maximum(np.arange(6) - 3.0, 0.1 * (np.arange(6) - 3.0)).reshape(2, 3), rtol=1e-6)


def test_shape_and_noise_for_a_batch_of_any_size():
    x = tf.placeholder(tf.float32, [None, 2])
    s = tf.shape(x)
    noise = tf.random_normal(tf.shape(x), stddev=0.5)
    sess = tf.Session()
    for n in (1, 4, 33):
        got_s, got_n, twice = sess.run([s, noise, s[0] * 2], {x: np.zeros((n, 2), np.float32)})
        assert got_s.tolist() == [n, 2] and got_s.dtype == np.int32
        assert got_n.shape == (n, 2) and np.all(np.isfinite(got_n))
        assert twice == 2 * n


def test_concat_of_two_unknown_batches():
    # every SAC and model-based homework concatenates state and action like this
    s = tf.placeholder(tf.float32, [None, 3], name="state")
    a = tf.placeholder(tf.float32, [None, 2], name="action")
    sa = tf.concat([s, a], axis=1)
    sv = np.arange(12, dtype=np.float32).reshape(4, 3)
    av = -np.arange(8, dtype=np.float32).reshape(4, 2)
    sess = tf.Session()
    np.testing.assert_array_equal(sess.run(sa, {s: sv, a: av}), np.concatenate([sv, av], 1))
    with pytest.raises(Exception, match="is 4 in the feed for 'state' but 3 in the feed for 'action'"):
        sess.run(sa, {s: sv, a: av[:3]})


def test_homework_setup_surface():
    """What the course's utilities touch: tf.group() of nothing, tf.Variable of a
    tensor, get_variable(initializer=tensor), Tensor.op.inputs (tf_util.function
    asserts placeholders have none), Dimension arithmetic, num_elements, is_tensor and
    initialize_variables."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = x + 1.0
        assert x.op.inputs == [] and len(y.op.inputs) == 2
        assert tf.contrib.framework.is_tensor(y) and not tf.contrib.framework.is_tensor(np.zeros(2))
        v = tf.Variable(tf.zeros([2, 3]) + 2.0, name="v")
        w = tf.Variable(tf.random_normal([4], stddev=0.1, seed=1))
        u = tf.get_variable("u", initializer=tf.ones([2], dtype=tf.float64) * 3.0)
        assert v.shape.as_list() == [2, 3] and u.dtype == tf.float64
        d = x.shape[1] * x.shape[1] + 1
        assert d.value == 10 and (x.shape[0] * 2).value is None
        assert v.shape.num_elements() == 6 and x.shape.num_elements() is None
        nothing = tf.group()
        with tf.Session() as sess:
            sess.run(tf.initialize_variables([v, w, u]))
            sess.run(nothing)
            np.testing.assert_array_equal(sess.run(v), np.full([2, 3], 2.0, np.float32))
            np.testing.assert_array_equal(sess.run(u), [3.0, 3.0])
            assert np.all(np.abs(sess.run(w)) < 1.0)
        with pytest.raises(ValueError):
            tf.Variable(x * 2.0)  # a shape with an unknown dim
