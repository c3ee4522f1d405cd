"""Conformance cases, written once against the ``tf.compat.v1`` API: ``generate.py``
runs them on TF1 and writes goldens; ``python/tests/test_conformance.py`` runs them on
kiln and compares. A case is ``build(tf, dtype) -> {name: tensor}`` (or, for an
optimizer, ``{"train": op, "vars": [...]}``; a ``"feed"`` entry is the run's feed_dict),
and may raise: the error's class is the
golden then.

Inputs are constants made here from fixed NumPy seeds, edge values included (zeros,
ties, kinks, +-inf, NaN, saturation and overflow thresholds, subnormals, long sums).
"""
import numpy as np

INF = np.inf
NAN = np.nan
EDGE = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-3, -1e-7, 20.0, -20.0, 88.5, 89.0, -87.0, -104.0, INF, -INF, NAN]
SUBNORMAL = [1e-40, -1e-40, 1e-45, 1.2e-38]


def rng(i):
    return np.random.RandomState(1000 + i)


def const(tf, x, dt):
    return tf.constant(np.asarray(x, dtype=np.dtype(dt.name if hasattr(dt, "name") else dt)))


def grads(tf, y, xs):
    """d(sum(y * w))/dx for a fixed random weighting w (so every output matters)."""
    w = rng(99).uniform(0.5, 1.5, size=y.get_shape().as_list()).astype(y.dtype.as_numpy_dtype)
    gs = tf.gradients(tf.reduce_sum(y * tf.constant(w)), xs)
    return {"grad%d" % i: g for i, g in enumerate(gs) if g is not None}


CASES = {}


def case(name):
    def reg(f):
        CASES[name] = f
        return f

    return reg


UNARY = ["negative", "abs", "sign", "exp", "log", "sqrt", "rsqrt", "square", "tanh", "sigmoid", "log1p"]
for _op in UNARY:

    def _make(op):
        def build(tf, dt):
            x = const(tf, EDGE, dt)
            return {"y": getattr(tf, op)(x)}

        return build

    case("edge/" + _op)(_make(_op))

    def _grad(op):
        def build(tf, dt):
            lo, hi = {"log": (0.1, 3), "sqrt": (0.1, 3), "rsqrt": (0.1, 3), "log1p": (-0.5, 3)}.get(op, (-3, 3))
            v = rng(1).uniform(lo, hi, size=[3, 4])
            x = const(tf, v, dt)
            return grads(tf, getattr(tf, op)(x), [x])

        return build

    case("grad/" + _op)(_grad(_op))

for _op in ["relu", "softplus", "elu", "sigmoid", "tanh"]:

    def _nn(op):
        def build(tf, dt):
            x = const(tf, EDGE, dt)
            return {"y": getattr(tf.nn, op)(x)}

        return build

    case("edge/nn." + _op)(_nn(_op))

    def _nn_grad(op):
        def build(tf, dt):
            x = const(tf, rng(2).uniform(-3, 3, size=[5]), dt)
            return grads(tf, getattr(tf.nn, op)(x), [x])

        return build

    case("grad/nn." + _op)(_nn_grad(_op))


@case("kink/relu_abs_at_zero")
def _(tf, dt):
    x = const(tf, [0.0, -0.0, 1.0, -1.0], dt)
    g = tf.gradients(tf.reduce_sum(tf.nn.relu(x) + tf.abs(x)), [x])[0]
    return {"grad": g}


@case("tie/maximum_minimum")
def _(tf, dt):
    x = const(tf, [1.0, 2.0, 3.0], dt)
    y = const(tf, [1.0, 1.0, 4.0], dt)
    gx, gy = tf.gradients(tf.reduce_sum(tf.maximum(x, y) + 2.0 * tf.minimum(x, y)), [x, y])
    return {"max": tf.maximum(x, y), "gx": gx, "gy": gy}


@case("tie/reduce_max")
def _(tf, dt):
    x = const(tf, [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dt)
    m = tf.reduce_max(x, axis=1)
    return {"m": m, "grad": tf.gradients(tf.reduce_sum(m), [x])[0]}


@case("tie/argmax")
def _(tf, dt):
    x = const(tf, [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [NAN, 1.0, 0.0]], dt)
    return {"a": tf.argmax(x, axis=1)}


BROADCASTS = [([3, 1], [1, 4]), ([2, 3], [3]), ([2, 3], []), ([], [4]), ([2, 1, 3], [4, 1]), ([1], [5]), ([0, 3], [3])]
for _i, (_a, _b) in enumerate(BROADCASTS):
    for _op in ["add", "subtract", "multiply", "divide", "maximum", "minimum", "pow"]:

        def _bin(op, a, b, i):
            def build(tf, dt):
                lo = 0.5 if op in ("pow", "divide") else -2.0
                x = const(tf, rng(10 + i).uniform(lo, 2.0, size=a), dt)
                y = const(tf, rng(20 + i).uniform(0.5, 2.0, size=b), dt)
                z = getattr(tf, op)(x, y)
                out = {"z": z}
                out.update(grads(tf, z, [x, y]))
                return out

            return build

        case("bcast%d/%s" % (_i, _op))(_bin(_op, _a, _b, _i))


@case("error/broadcast_mismatch")
def _(tf, dt):
    return {"z": const(tf, np.ones([2, 3]), dt) + const(tf, np.ones([4]), dt)}


@case("error/matmul_inner")
def _(tf, dt):
    return {"z": tf.matmul(const(tf, np.ones([2, 3]), dt), const(tf, np.ones([4, 2]), dt))}


@case("error/dtype_mix")
def _(tf, dt):
    return {"z": tf.add(const(tf, [1.0], dt), tf.constant([1], dtype=tf.int32))}


@case("error/softmax_int")
def _(tf, dt):
    return {"z": tf.nn.softmax(tf.constant([[1, 2]]))}


@case("error/xent_shapes")
def _(tf, dt):
    lab, lo = const(tf, np.ones([2, 4]), dt), const(tf, np.ones([2, 3]), dt)
    return {"z": tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=lo)}


@case("error/sparse_xent_float_labels")
def _(tf, dt):
    return {"z": tf.nn.sparse_softmax_cross_entropy_with_logits(labels=const(tf, [0.0, 1.0], dt), logits=const(tf, np.ones([2, 3]), dt))}


@case("error/sparse_xent_rank")
def _(tf, dt):
    return {"z": tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([[0], [1]]), logits=const(tf, np.ones([2, 3]), dt))}


@case("error/huber_shapes")
def _(tf, dt):
    return {"z": tf.losses.huber_loss(const(tf, np.ones([2, 4]), dt), const(tf, np.ones([2, 3]), dt))}


@case("error/sigmoid_xent_shapes")
def _(tf, dt):
    return {"z": tf.nn.sigmoid_cross_entropy_with_logits(labels=const(tf, np.ones([4]), dt), logits=const(tf, np.ones([3]), dt))}


@case("error/logsumexp_int")
def _(tf, dt):
    return {"z": tf.reduce_logsumexp(tf.constant([1, 2, 3]))}


for _op in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"]:
    for _axis, _kd in [(None, False), (0, False), (1, True), (-1, False), ([0, 2], True), (-2, True)]:

        def _red(op, axis, kd):
            def build(tf, dt):
                x = const(tf, rng(3).uniform(-2, 2, size=[2, 3, 4]), dt)
                y = getattr(tf, op)(x, axis=axis, keepdims=kd)
                out = {"y": y}
                out.update(grads(tf, y, [x]))
                return out

            return build

        case("reduce/%s/%s/%s" % (_op, _axis, _kd))(_red(_op, _axis, _kd))


@case("long/reduce_sum_f32")
def _(tf, dt):
    # 2^20 elements of 0.1: a naive f32 running sum drifts by 1e-3 relative
    return {"s": tf.reduce_sum(const(tf, np.full([1 << 20], 0.1), dt))}


@case("long/reduce_mean_rows")
def _(tf, dt):
    return {"m": tf.reduce_mean(const(tf, rng(4).uniform(0, 1, size=[4, 100000]), dt), axis=1)}


@case("long/reduce_sum_columns")
def _(tf, dt):
    # down the columns: the reduced axis is not the innermost
    return {"s": tf.reduce_sum(const(tf, rng(41).uniform(0, 1, size=[200000, 3]), dt), axis=0)}


@case("long/reduce_sum_all_2d")
def _(tf, dt):
    return {"s": tf.reduce_sum(const(tf, rng(42).uniform(0, 1, size=[1000, 1000]), dt))}


@case("long/reduce_sum_fed")
def _(tf, dt):
    # a fed batch of unknown length, reduced in a kernel compiled for any length
    x = tf.placeholder(dt, [None])
    v = rng(43).uniform(0, 1, size=[300001])
    return {"s": tf.reduce_sum(x), "feed": {x: v.astype(dt.as_numpy_dtype)}}


for _ta in (False, True):
    for _tb in (False, True):

        def _mm(ta, tb):
            def build(tf, dt):
                a = rng(5).uniform(-1, 1, size=[4, 3] if ta else [3, 4])
                b = rng(6).uniform(-1, 1, size=[5, 4] if tb else [4, 5])
                x, y = const(tf, a, dt), const(tf, b, dt)
                z = tf.matmul(x, y, transpose_a=ta, transpose_b=tb)
                out = {"z": z}
                out.update(grads(tf, z, [x, y]))
                return out

            return build

        case("matmul/ta%d_tb%d" % (_ta, _tb))(_mm(_ta, _tb))


@case("nn/softmax_family")
def _(tf, dt):
    lo = const(tf, [[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0], [-50.0, 0.0, 50.0]], dt)
    lab = const(tf, [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], dt)
    xe = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=lo)
    sxe = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([2, 0, 1]), logits=lo)
    out = {"softmax": tf.nn.softmax(lo), "log_softmax": tf.nn.log_softmax(lo), "xe": xe, "sxe": sxe}
    out["grad_xe"] = tf.gradients(tf.reduce_sum(xe), [lo])[0]
    out["grad_sxe"] = tf.gradients(tf.reduce_sum(sxe), [lo])[0]
    return out


@case("shape/ops")
def _(tf, dt):
    x = const(tf, rng(7).uniform(-1, 1, size=[2, 3, 4]), dt)
    out = {
        "reshape": tf.reshape(x, [6, -1]),
        "transpose": tf.transpose(x, [2, 0, 1]),
        "slice": tf.slice(x, [1, 0, 1], [1, -1, 2]),
        "concat": tf.concat([x, x * 2.0], axis=-1),
        "expand": tf.expand_dims(x, 1),
        "squeeze": tf.squeeze(tf.expand_dims(x, -1), axis=[3]),
        "stack": tf.stack([x, x], axis=1),
        "getitem": x[1, :, 2:],
    }
    y = tf.reduce_sum(tf.concat([tf.reshape(tf.transpose(x, [2, 0, 1]), [-1]), tf.reshape(x[1, :, 2:], [-1])], 0))
    out["grad"] = tf.gradients(y, [x])[0]
    return out


@case("index/gather_one_hot")
def _(tf, dt):
    p = const(tf, rng(8).uniform(-1, 1, size=[5, 3]), dt)
    i = tf.constant([4, 0, 0, 2])
    g = tf.gather(p, i)
    # TF's gradient of a gather is sparse (IndexedSlices): made dense to compare
    grad = tf.convert_to_tensor(tf.gradients(tf.reduce_sum(g * g), [p])[0])
    return {"gather": g, "one_hot": tf.one_hot(i, 5), "grad": grad}


@case("select/where")
def _(tf, dt):
    x = const(tf, [1.0, -2.0, 3.0, 0.0], dt)
    y = const(tf, [0.0, 5.0, -1.0, 1.0], dt)
    z = tf.where(x > y, x, y)
    gx, gy = tf.gradients(tf.reduce_sum(z * z), [x, y])
    return {"z": z, "gx": gx, "gy": gy, "clip": tf.clip_by_value(x, -1.0, 1.5)}


@case("edge/subnormals")
def _(tf, dt):
    x = const(tf, SUBNORMAL, dt)
    return {"sign": tf.sign(x), "abs": tf.abs(x), "mul": x * 2.0, "log": tf.log(tf.abs(x))}


OPTIMIZERS = {
    "sgd": lambda tf: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda tf: tf.train.MomentumOptimizer(0.1, 0.9),
    "nesterov": lambda tf: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adam": lambda tf: tf.train.AdamOptimizer(0.05),
    "rmsprop": lambda tf: tf.train.RMSPropOptimizer(0.05),
    "rmsprop_momentum": lambda tf: tf.train.RMSPropOptimizer(0.05, momentum=0.5),
}
for _name, _make_opt in OPTIMIZERS.items():

    def _opt(make):
        def build(tf, dt):
            w = tf.get_variable("w", [3, 2], dtype=dt, initializer=tf.constant_initializer(rng(9).uniform(-1, 1, [3, 2])))
            b = tf.get_variable("b", [2], dtype=dt, initializer=tf.constant_initializer([0.5, -0.5]))
            x = const(tf, rng(10).uniform(-1, 1, size=[8, 3]), dt)
            y = const(tf, rng(11).uniform(-1, 1, size=[8, 2]), dt)
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
            return {"train": make(tf).minimize(loss), "vars": [w, b], "loss": loss}

        return build

    case("optimizer/" + _name)(_opt(_make_opt))

STEPS = 4


def run(tf, name, dt):
    """Runs case `name` in dtype `dt` on module `tf`: {key: array}, or {"error": class}."""
    tf.reset_default_graph()
    g = tf.get_default_graph()
    if hasattr(g, "_g"):
        g._g.set_rank_promotion("allow")  # kiln's warning for outer broadcasts: the cases mean them
    dtype = getattr(tf, dt)
    try:
        out = CASES[name](tf, dtype)
    except Exception as e:  # noqa: BLE001 (the class is the result)
        return {"error": np.array(type(e).__name__)}
    sess = tf.Session()
    if "train" in out:
        sess.run(tf.global_variables_initializer())
        res = {}
        for step in range(STEPS):
            # the loss in its own run: within one run TF1 does not order a read
            # before the update that writes what it reads
            l = sess.run(out["loss"])
            sess.run(out["train"])
            res["loss%d" % step] = np.asarray(l)
            for i, v in enumerate(sess.run(out["vars"])):
                res["step%d/var%d" % (step, i)] = np.asarray(v)
        return res
    feed = out.pop("feed", None)
    try:
        vals = sess.run(out, feed_dict=feed)
    except Exception as e:  # noqa: BLE001
        return {"error": np.array(type(e).__name__)}
    return {k: np.asarray(v) for k, v in vals.items()}


@case("homework/cumsum")
def _(tf, dt):
    v = rng(50).uniform(-2, 2, size=[3, 5])
    x = const(tf, v, dt)
    out = {}
    for ex in (False, True):
        for rev in (False, True):
            for ax in (0, 1, -1):
                out["c%d%d%d" % (ax, ex, rev)] = tf.cumsum(x, axis=ax, exclusive=ex, reverse=rev)
    y = tf.cumsum(tf.square(x), axis=1, reverse=True) + tf.cumsum(x, axis=0, exclusive=True)
    out.update(grads(tf, y, [x]))
    return out


@case("homework/reward_to_go")
def _(tf, dt):
    # the course's discounted reward-to-go, as a reverse cumsum over a fed episode
    r = tf.placeholder(dt, [None])
    v = np.array([1.0, 0.0, 1.0, 1.0, -1.0, 2.0, 0.5])
    return {"togo": tf.cumsum(r, reverse=True), "feed": {r: v.astype(dt.as_numpy_dtype)}}


@case("homework/reduce_prod")
def _(tf, dt):
    v = [[1.5, -2.0, 3.0, 0.5], [2.0, 0.0, 5.0, 1.0], [0.0, 3.0, 0.0, 2.0], [INF, 2.0, -1.0, 1.0], [NAN, 1.0, 2.0, 3.0]]
    x = const(tf, v, dt)
    g = const(tf, rng(51).uniform(0.5, 1.5, size=[3, 4]), dt)
    return {
        "rows": tf.reduce_prod(x, axis=1),
        "cols": tf.reduce_prod(x, axis=0, keepdims=True),
        "all": tf.reduce_prod(x[:3]),
        "neg_axis": tf.reduce_prod(g, axis=-1),
        "grad_zeros": tf.gradients(tf.reduce_sum(tf.reduce_prod(x[:3], axis=1) * const(tf, [1.0, 2.0, 3.0], dt)), x)[0],
        **grads(tf, tf.reduce_prod(g, axis=0), [g]),
    }


@case("homework/losses")
def _(tf, dt):
    lab = const(tf, [0.0, 1.0, -2.0, 3.0, 0.5], dt)
    pred = const(tf, [0.1, 3.0, -2.5, -1.0, 0.5], dt)
    h = tf.losses.huber_loss(lab, pred, delta=1.0)
    m = tf.losses.mean_squared_error(lab, pred)
    return {"huber": h, "mse": m, "grad": tf.gradients(h + m, [pred])[0]}


@case("homework/logsumexp_any_all")
def _(tf, dt):
    x = const(tf, [[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0], [-INF, 0.0, 1.0]], dt)
    b = tf.constant([[True, False], [False, False]])
    lse = tf.reduce_logsumexp(x, axis=1)
    return {
        "lse": lse,
        "lse_all": tf.reduce_logsumexp(x[:2]),
        "grad": tf.gradients(tf.reduce_sum(tf.reduce_logsumexp(x[:2], axis=1)), [x])[0],
        "any": tf.reduce_any(b, axis=1),
        "all": tf.reduce_all(b, axis=0),
    }


@case("homework/gathers")
def _(tf, dt):
    q = const(tf, rng(12).uniform(-1, 1, size=[4, 3]), dt)
    a = tf.constant([2, 0, 1, 1])
    nd = tf.gather_nd(q, tf.stack([tf.range(4), a], axis=1))
    bd = tf.gather(q, a, axis=1, batch_dims=1)
    cols = tf.gather(q, tf.constant([2, 0]), axis=1)
    return {"nd": nd, "bd": bd, "cols": cols, "grad": tf.gradients(tf.reduce_sum(nd * bd), [q])[0]}


@case("homework/gather_nd_depths")
def _(tf, dt):
    q = const(tf, rng(13).uniform(-1, 1, size=[3, 4, 2]), dt)
    rows = tf.gather_nd(q, tf.constant([[2], [0]]))  # depth 1: whole [4, 2] slices
    pairs = tf.gather_nd(q, tf.constant([[[1, 3], [0, 0]], [[2, 1], [2, 2]]]))  # depth 2 of 3
    batch = tf.gather_nd(q, tf.constant([[1], [3], [0]]), batch_dims=1)  # per-row slices
    batch2 = tf.gather_nd(q, tf.constant([[[1, 0], [3, 1]], [[0, 1], [0, 0]], [[2, 0], [2, 1]]]), batch_dims=1)
    y = tf.reduce_sum(rows) + tf.reduce_sum(pairs * 2.0) + tf.reduce_sum(batch * 3.0) + tf.reduce_sum(batch2 * 5.0)
    return {"rows": rows, "pairs": pairs, "batch": batch, "batch2": batch2, "grad": tf.gradients(y, [q])[0]}


@case("homework/sigmoid_xent")
def _(tf, dt):
    x = const(tf, [[0.0, 1.5, -2.0], [30.0, -30.0, 0.25], [100.0, -100.0, -0.0]], dt)
    z = const(tf, [[0.0, 1.0, 0.5], [1.0, 0.0, 0.25], [0.0, 1.0, 1.0]], dt)
    y = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    return {"y": y, **grads(tf, y, [x, z])}


@case("homework/one_hot_options")
def _(tf, dt):
    i = tf.constant([0, 2, 1])
    return {
        "plain": tf.one_hot(i, 3),
        "on_off": tf.one_hot(i, 3, on_value=5.0, off_value=-1.0),
        "int": tf.one_hot(i, 3, dtype=tf.int32),
        "axis0": tf.one_hot(i, 4, axis=0),
    }


@case("homework/where_v1_rows")
def _(tf, dt):
    c = tf.constant([True, False, True])
    x = const(tf, np.ones([3, 2]), dt)
    y = const(tf, np.zeros([3, 2]), dt)
    return {"rows": tf.where(c, x, y), "v2": tf.where_v2(tf.constant([True, False]), const(tf, [1.0, 2.0], dt), const(tf, 0.0, dt))}


@case("homework/range_stack_squeeze")
def _(tf, dt):
    return {"r": tf.range(5), "rf": tf.range(0.0, 1.0, 0.25), "r2": tf.range(2, 9, 3)}


@case("optimizer/sgd_tensor_lr")
def _(tf, dt):
    w = tf.get_variable("w", [3], dtype=dt, initializer=tf.constant_initializer([1.0, -2.0, 0.5]))
    lr = tf.get_variable("lr", [], dtype=tf.float32, initializer=tf.constant_initializer(0.2))
    loss = tf.reduce_sum(tf.square(w))
    step = tf.train.GradientDescentOptimizer(tf.cast(lr, dt) if dt != tf.float32 else lr).minimize(loss)
    return {"train": step, "vars": [w], "loss": loss}


@case("schedule/decays")
def _(tf, dt):
    gs = tf.train.get_or_create_global_step()
    lrs = [
        tf.train.exponential_decay(0.1, gs, 2, 0.5),
        tf.train.exponential_decay(0.1, gs, 2, 0.5, staircase=True),
        tf.train.polynomial_decay(0.1, gs, 3, end_learning_rate=0.01, power=2.0),
        tf.train.piecewise_constant(gs, [1, 2], [1.0, 0.5, 0.1]),
    ]
    return {"train": tf.assign_add(gs, 1) if hasattr(tf, "assign_add") else gs.assign_add(1), "vars": lrs, "loss": lrs[0]}


@case("homework/tile_unstack")
def _(tf, dt):
    x = const(tf, rng(13).uniform(-1, 1, size=[2, 3]), dt)
    parts = tf.unstack(x, axis=1)
    t = tf.tile(x, [2, 3])
    out = {"tile": t, "tile_rows": tf.tile(x, [3, 1])}
    for i, p in enumerate(parts):
        out["unstack%d" % i] = p
    out["grad"] = tf.gradients(tf.reduce_sum(t * t) + tf.reduce_sum(parts[1]), [x])[0]
    return out


@case("surface/split_argmin")
def _(tf, dt):
    x = const(tf, rng(21).uniform(-1, 1, size=[4, 6]), dt)
    a, b, c = tf.split(x, 3, axis=1)
    p, q = tf.split(x, [1, -1], axis=0)
    ties = const(tf, [[3.0, 1.0, 1.0], [2.0, 2.0, 2.0], [0.5, -1.0, 4.0]], dt)
    ints = tf.constant([[5, -7, -7, 2], [2147483647, -2147483647 - 1, 0, 1]])
    y = tf.reduce_sum(a * 1.0 + b * 2.0 + c * 3.0) + tf.reduce_sum(q * q)
    return {
        "a": a, "c": c, "p": p, "q": q,
        "argmin": tf.argmin(ties, axis=1),
        "argmin0": tf.argmin(ties, axis=0, output_type=tf.int32),
        "argmin_int": tf.argmin(ints, axis=1),
        "grad": tf.gradients(y, [x])[0],
    }


@case("surface/clip_by_norm")
def _(tf, dt):
    x = const(tf, [[3.0, 4.0], [0.3, 0.4]], dt)
    z = const(tf, [0.0, 0.0, 0.0], dt)
    whole = tf.clip_by_norm(x, 2.0)
    rows = tf.clip_by_norm(x, 1.0, axes=[1])
    bounds = tf.clip_by_value(x, const(tf, [0.5, 0.35], dt), const(tf, 3.5, dt))
    y = tf.reduce_sum(whole * const(tf, [[1.0, -2.0], [0.5, 3.0]], dt)) + tf.reduce_sum(rows * rows) + tf.reduce_sum(bounds)
    return {"whole": whole, "rows": rows, "zero": tf.clip_by_norm(z, 1.0), "bounds": bounds, "grad": tf.gradients(y, [x])[0]}


@case("surface/nn_extras")
def _(tf, dt):
    x = const(tf, [[0.0, -1.5, 2.0], [-0.0, 3.0, -0.25]], dt)
    b = const(tf, [0.5, -1.0, 2.0], dt)
    lr = tf.nn.leaky_relu(x, alpha=0.1)
    sm0 = tf.nn.softmax(x, axis=0)
    lsm0 = tf.nn.log_softmax(x, axis=0)
    ba = tf.nn.bias_add(x, b)
    l2 = tf.nn.l2_loss(x)
    y = tf.reduce_sum(lr * 3.0) + tf.reduce_sum(sm0 * x) + tf.reduce_sum(lsm0) + tf.reduce_sum(ba * ba) + l2
    return {"leaky": lr, "sm0": sm0, "lsm0": lsm0, "bias_add": ba, "l2": l2, **grads(tf, y, [x, b])}


@case("surface/one_hot_in_dtype")
def _(tf, dt):
    i = tf.constant([[0, 2], [1, 5]])
    on = const(tf, 0.7, dt)
    off = const(tf, -0.1, dt)
    return {
        "dt": tf.one_hot(i, 3, dtype=dt),
        "tensors": tf.one_hot(i, 3, on_value=on, off_value=off),
        "axis1": tf.one_hot(i, 4, on_value=on, off_value=off, axis=1),
        "ints": tf.one_hot(i, 3, on_value=7, off_value=-2),
    }


@case("surface/concat_unknown_batches")
def _(tf, dt):
    s = tf.placeholder(dt, [None, 3])
    a = tf.placeholder(dt, [None, 2])
    sa = tf.concat([s, a], axis=1)
    w = const(tf, rng(22).uniform(-1, 1, size=[5, 1]), dt)
    q = tf.matmul(sa, w)
    gs, ga = tf.gradients(tf.reduce_sum(q * q), [s, a])
    feed = {s: rng(23).uniform(-1, 1, size=[4, 3]).astype(dt.as_numpy_dtype), a: rng(24).uniform(-1, 1, size=[4, 2]).astype(dt.as_numpy_dtype)}
    return {"sa": sa, "q": q, "gs": gs, "ga": ga, "zeros": tf.zeros_like(sa), "ones": tf.ones_like(a, dtype=tf.int32), "feed": feed}


@case("surface/concat_unknown_axis")
def _(tf, dt):
    a = tf.placeholder(dt, [None, 3])
    b = tf.placeholder(dt, [None, 3])
    ab = tf.concat([a, b, a], axis=0)
    w = const(tf, rng(26).uniform(-1, 1, size=[3, 2]), dt)
    y = tf.matmul(ab, w)
    ga, gb = tf.gradients(tf.reduce_sum(y * y), [a, b])
    feed = {a: rng(27).uniform(-1, 1, size=[2, 3]).astype(dt.as_numpy_dtype), b: rng(28).uniform(-1, 1, size=[3, 3]).astype(dt.as_numpy_dtype)}
    return {"ab": ab, "rows": tf.shape(ab), "y": y, "ga": ga, "gb": gb, "feed": feed}


@case("surface/uint8_frames")
def _(tf, dt):
    x = tf.placeholder(tf.uint8, [None, 3])
    v = np.array([[0, 1, 255], [128, 7, 200]], dtype=np.uint8)
    return {
        "scaled": tf.cast(x, dt) / 255.0,
        "max": tf.reduce_max(x, axis=1),
        "min": tf.reduce_min(x),
        "full": tf.equal(x, tf.constant(255, dtype=tf.uint8)),
        "greater": tf.greater(x, tf.constant(100, dtype=tf.uint8)),
        "back": tf.cast(const(tf, [[0.0, 1.9, 254.6]], dt), tf.uint8),
        "i8": tf.cast(tf.constant([-128, 5, 127]), tf.int8),
        "i16": tf.cast(tf.constant([-32768, 300, 32767]), tf.int16) + tf.constant(1, dtype=tf.int16),
        "u16": tf.cast(x, tf.uint16) * tf.constant(200, dtype=tf.uint16),
        "mean": tf.reduce_mean(tf.cast(x, dt), axis=0),
        "feed": {x: v},
    }


@case("surface/zeros_like_nonfinite")
def _(tf, dt):
    x = tf.placeholder(dt, [None, 2])
    v = np.array([[np.inf, np.nan], [-np.inf, 1.0]], dtype=dt.as_numpy_dtype)
    return {"z": tf.zeros_like(x), "o": tf.ones_like(x), "feed": {x: v}}


@case("surface/losses_weights")
def _(tf, dt):
    lab = const(tf, [[0.0, 1.0], [2.0, -1.0]], dt)
    pred = const(tf, [[0.3, 0.2], [4.0, -1.1]], dt)
    return {
        "mse": tf.losses.mean_squared_error(lab, pred, weights=0.5),
        "abs": tf.losses.absolute_difference(lab, pred, weights=2.0),
        "huber": tf.losses.huber_loss(lab, pred, delta=0.5),
        "huber_w0": tf.losses.huber_loss(lab, pred, weights=0.0),
    }


@case("surface/getitem")
def _(tf, dt):
    x = const(tf, rng(25).uniform(-1, 1, size=[3, 4, 5]), dt)
    a = x[1:, None, ..., 0]
    b = x[-1, :-1]
    c = x[..., 2:4]
    y = tf.reduce_sum(a) + tf.reduce_sum(b * 2.0) + tf.reduce_sum(c * c)
    return {"a": a, "b": b, "c": c, "grad": tf.gradients(y, [x])[0]}


@case("surface/add_n_logsumexp_axes")
def _(tf, dt):
    x = const(tf, [[1.0, 2.0, 3.0], [1000.0, 1000.0, -INF], [-INF, -INF, -INF]], dt)
    return {
        "lse0": tf.reduce_logsumexp(x, axis=0),
        "lse_keep": tf.reduce_logsumexp(x, axis=[1], keepdims=True),
        "add_n": tf.add_n([x[:1], x[:1] * 2.0, x[:1]]),
        "add_n1": tf.add_n([x[:1]]),
    }


# Random compositions: small graphs drawn from a seeded generator (the same draw on
# TF1 and kiln), of the elementwise ops with broadcasting, keepdims reductions,
# matmuls and softmaxes, fetched with their gradients. Each op keeps values bounded
# so no case leaves the ops' ordinary domains.
_R_UNARY = {
    "tanh": lambda tf, x: tf.tanh(x),
    "sigmoid": lambda tf, x: tf.sigmoid(x),
    "softplus": lambda tf, x: tf.nn.softplus(x),
    "square": lambda tf, x: tf.square(x),
    "abs": lambda tf, x: tf.abs(x),
    "negative": lambda tf, x: tf.negative(x),
    "exp_tanh": lambda tf, x: tf.exp(tf.tanh(x)),
    "log1p_abs": lambda tf, x: tf.log1p(tf.abs(x)),
    "sqrt_1p": lambda tf, x: tf.sqrt(tf.abs(x) + 1.0),
    "relu": lambda tf, x: tf.nn.relu(x),
    "elu": lambda tf, x: tf.nn.elu(x),
}
_R_BINARY = {
    "add": lambda tf, a, b: a + b,
    "subtract": lambda tf, a, b: a - b,
    "multiply": lambda tf, a, b: a * b,
    "maximum": lambda tf, a, b: tf.maximum(a, b),
    "minimum": lambda tf, a, b: tf.minimum(a, b),
    "div_1p": lambda tf, a, b: a / (tf.abs(b) + 1.0),
}
_R_SHAPES = [(3, 4), (4,), (3, 1), (1, 4), ()]


def _random_graph(seed):
    def build(tf, dt):
        r = np.random.RandomState(7000 + seed)
        inputs = [const(tf, rng(200 + seed * 10 + i).uniform(-2, 2, size=s), dt) for i, s in enumerate(_R_SHAPES[:3])]
        nodes = [(x, s) for x, s in zip(inputs, _R_SHAPES[:3])]
        for _ in range(r.randint(6, 12)):
            kind = r.choice(["unary", "binary", "binary", "reduce", "matmul", "softmax"])
            x, s = nodes[r.randint(len(nodes))]
            if kind == "unary":
                nodes.append((_R_UNARY[r.choice(sorted(_R_UNARY))](tf, x), s))
            elif kind == "binary":
                y, t = nodes[r.randint(len(nodes))]
                shape = np.broadcast_shapes(s, t)
                nodes.append((_R_BINARY[r.choice(sorted(_R_BINARY))](tf, x, y), shape))
            elif kind == "reduce" and len(s) > 0:
                axis = int(r.randint(len(s)))
                op = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"][r.randint(4)]
                shape = tuple(1 if i == axis else d for i, d in enumerate(s))
                nodes.append((getattr(tf, op)(x, axis=axis, keepdims=True), shape))
            elif kind == "matmul" and s == (3, 4):
                w = const(tf, rng(300 + seed).uniform(-1, 1, size=[4, 4]), dt)
                nodes.append((tf.matmul(x, w), (3, 4)))
            elif kind == "softmax" and len(s) == 2 and s[1] == 4:
                nodes.append((tf.nn.softmax(x), s))
        # every node past the inputs feeds the output, so every op's gradient is used
        out = nodes[-1][0]
        for x, _ in nodes[3:-1]:
            out = out + tf.reduce_sum(x) * 0.1
        res = {"y": out}
        res.update(grads(tf, out, inputs))
        return res

    return build


for _seed in range(16):
    case("random/%02d" % _seed)(_random_graph(_seed))
