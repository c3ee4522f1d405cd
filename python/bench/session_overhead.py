"""Per-call cost from Python: the notebook's training step and a batch-1 forward, on
kiln and, when installed, TF1 (tf.compat.v1) and JAX, in one process on one core.

    python python/bench/session_overhead.py [--repeats 5] [--steps 2000]

Each figure is the median over `--repeats` timed loops of `--steps` calls; the ranges
are min..max of those loops. Ratios are against kiln's figure measured in the same run.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

BATCH = 32


def mlp_tf1(tf):
    """The notebook's model, loss and Adam step, built with a tf.compat.v1 module."""
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    layer = x
    for i, (n_in, n_out, act) in enumerate([(1, 20, True), (20, 20, True), (20, 1, False)]):
        w = tf.get_variable("W%d" % i, [n_in, n_out], initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("b%d" % i, [n_out], initializer=tf.zeros_initializer())
        layer = tf.matmul(layer, w) + b
        if act:
            layer = tf.nn.relu(layer)
    mse = tf.reduce_mean(0.5 * tf.square(layer - y))
    opt = tf.train.AdamOptimizer().minimize(mse)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return sess, x, y, layer, mse, opt


def time_loop(f, steps, repeats):
    for _ in range(min(steps, 200)):
        f()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            f()
        runs.append((time.perf_counter() - t0) / steps * 1e6)
    return statistics.median(runs), min(runs), max(runs)


def bench_tf1(tf, steps, repeats, xs, ys, x1):
    sess, x, y, pred, mse, opt = mlp_tf1(tf)
    out = {}
    out["train step, sess.run"] = time_loop(lambda: sess.run([opt, mse], feed_dict={x: xs, y: ys}), steps, repeats)
    step = sess.make_callable([opt, mse], [x, y])
    out["train step, make_callable"] = time_loop(lambda: step(xs, ys), steps, repeats)
    out["forward batch 1, sess.run"] = time_loop(lambda: sess.run(pred, feed_dict={x: x1}), steps, repeats)
    fwd = sess.make_callable(pred, [x])
    out["forward batch 1, make_callable"] = time_loop(lambda: fwd(x1), steps, repeats)
    return out


def bench_jax(steps, repeats, xs, ys, x1):
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(0)
    params = []
    for n_in, n_out in [(1, 20), (20, 20), (20, 1)]:
        key, k = jax.random.split(key)
        lim = np.sqrt(6.0 / (n_in + n_out))
        params.append((jax.random.uniform(k, (n_in, n_out), minval=-lim, maxval=lim), jnp.zeros(n_out)))

    def forward(p, x):
        for i, (w, b) in enumerate(p):
            x = x @ w + b
            if i < 2:
                x = jax.nn.relu(x)
        return x

    def loss(p, x, y):
        return jnp.mean(0.5 * jnp.square(forward(p, x) - y))

    @jax.jit
    def train(p, m, v, t, x, y):
        l, g = jax.value_and_grad(loss)(p, x, y)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        lr = 0.001 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        p = jax.tree_util.tree_map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + 1e-8), p, m, v)
        return p, m, v, t, l

    fwd = jax.jit(forward)
    state = [params, jax.tree_util.tree_map(jnp.zeros_like, params), jax.tree_util.tree_map(jnp.zeros_like, params), 0]

    def step():
        p, m, v, t, l = train(state[0], state[1], state[2], state[3], xs, ys)
        state[:] = [p, m, v, t]
        return float(l)  # the loss back on the host, as sess.run returns it

    out = {"train step, jit": time_loop(step, steps, repeats)}
    out["forward batch 1, jit"] = time_loop(lambda: np.asarray(fwd(state[0], x1)), steps, repeats)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {0})
    except (AttributeError, OSError):
        print("note: could not pin to one core", file=sys.stderr)
    rng = np.random.RandomState(0)
    xs = rng.uniform(-6, 6, (BATCH, 1)).astype(np.float32)
    ys = np.sin(xs).astype(np.float32)
    x1 = xs[:1].copy()

    import kiln.compat.v1 as ktf

    results = {"kiln": bench_tf1(ktf, args.steps, args.repeats, xs, ys, x1)}
    try:
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        tf1 = tf.compat.v1
        tf1.disable_eager_execution()
        results["TF1 (tf.compat.v1 %s)" % tf.__version__] = bench_tf1(
            tf1, max(args.steps // 10, 100), args.repeats, xs, ys, x1
        )
    except ImportError:
        print("TF1: not installed (pip install tensorflow-cpu), skipped", file=sys.stderr)
    try:
        import jax

        results["JAX %s" % jax.__version__] = bench_jax(args.steps, args.repeats, xs, ys, x1)
    except ImportError:
        print("JAX: not installed (pip install jax), skipped", file=sys.stderr)

    kiln_step = results["kiln"]["train step, make_callable"][0]
    kiln_fwd = results["kiln"]["forward batch 1, make_callable"][0]
    print("| framework | call | median µs | range µs | × kiln (same call kind) |")
    print("| --- | --- | --- | --- | --- |")
    for fw, rows in results.items():
        for name, (med, lo, hi) in rows.items():
            if fw == "kiln":
                base = results["kiln"][name][0]
            else:
                base = kiln_step if name.startswith("train") else kiln_fwd
                if name.endswith("sess.run"):
                    base = results["kiln"][name][0]
            print("| %s | %s | %.2f | %.2f–%.2f | %.1f× |" % (fw, name, med, lo, hi, med / base))


if __name__ == "__main__":
    main()
