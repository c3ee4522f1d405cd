"""What every agent shares: the TF1 module to write against (kiln's or TensorFlow's,
picked by ``--backend``; the agents' code is the same for both), a dense network built
from ``tf.get_variable``, seeding, timers and the learning-curve CSV."""
import argparse
import csv
import math
import os
import random
import time

import numpy as np


def load_tf(backend):
    """``import kiln.compat.v1 as tf`` or ``import tensorflow.compat.v1 as tf``."""
    if backend == "kiln":
        import kiln.compat.v1 as tf
    elif backend == "tf":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow.compat.v1 as tf

        tf.disable_eager_execution()
        tf.get_logger().setLevel("ERROR")
    else:
        raise ValueError("backend is kiln or tf, not %r" % backend)
    return tf


def mlp(tf, x, sizes, activation, scope, rng, out_activation=None, reuse=None):
    """Dense layers ``sizes`` on ``x`` under ``scope``, as the course's ``build_mlp``
    makes them: Glorot-uniform kernels and zero biases, the kernels drawn from NumPy's
    ``rng`` so both backends start from the same weights. ``reuse=True`` applies the
    network's existing variables to ``x``."""
    with tf.variable_scope(scope, reuse=reuse):
        h = x
        for i, n in enumerate(sizes):
            fan_in = h.get_shape().as_list()[-1]
            limit = np.sqrt(6.0 / (fan_in + n))
            w0 = rng.uniform(-limit, limit, size=(fan_in, n)).astype(np.float32)
            w = tf.get_variable("w%d" % i, initializer=w0)
            b = tf.get_variable("b%d" % i, initializer=np.zeros(n, np.float32))
            h = tf.matmul(h, w) + b
            act = activation if i + 1 < len(sizes) else out_activation
            if act is not None:
                h = act(h)
        return h


def seed_everything(tf, env, seed):
    """Seeds Python, NumPy, the graph and the environment (its first reset). Returns
    the first observation and the NumPy generator the agent draws weights, actions and
    minibatches from: the same on both backends, so their runs can be compared step
    for step."""
    random.seed(seed)
    np.random.seed(seed)
    tf.set_random_seed(seed)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    return obs, np.random.RandomState(seed)


def sample_categorical(rng, logits):
    """An index drawn with probabilities softmax(logits): one uniform, inverse CDF, in
    plain Python (NumPy's per-call overhead dominates arrays of two or three)."""
    row = logits.tolist()
    top = max(row)
    weights = [math.exp(v - top) for v in row]
    u = rng.random_sample() * sum(weights)
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if u < acc:
            return i
    return len(row) - 1


def parser(description, **defaults):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", choices=["kiln", "tf"], default="kiln")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=defaults.get("max_steps", 500_000))
    p.add_argument("--csv", default=None, help="write the learning curve here")
    return p


class Timer:
    """Accumulated wall time and count of one kind of call. The first call is kept
    apart: it is where kiln compiles and TF1 builds its executor, a one-off cost that
    would otherwise be averaged into a short run's per-call time."""

    def __init__(self):
        self.total = 0.0
        self.count = 0
        self.first = None

    def __enter__(self):
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        dt = time.perf_counter() - self._t
        if self.first is None:
            self.first = dt
        else:
            self.total += dt
            self.count += 1
        return False

    def mean_us(self):
        """Mean of the calls after the first, in microseconds."""
        return 1e6 * self.total / max(self.count, 1)

    def first_us(self):
        return 1e6 * (self.first or 0.0)


class Curve:
    """Episode returns with their environment step and wall time; solved when the mean
    of the last ``window`` returns reaches ``threshold``."""

    def __init__(self, threshold, window=100):
        self.threshold = threshold
        self.window = window
        self.rows = []
        self.start = time.perf_counter()
        self.solved_at = None

    def add(self, ret, steps):
        self.rows.append([len(self.rows) + 1, steps, time.perf_counter() - self.start, float(ret), 0.0])
        self.rows[-1][4] = self.mean()
        if self.solved_at is None and len(self.rows) >= self.window and self.mean() >= self.threshold:
            self.solved_at = (steps, self.rows[-1][2], len(self.rows))

    def mean(self):
        last = [r[3] for r in self.rows[-self.window :]]
        return float(np.mean(last)) if last else float("nan")

    def write(self, path):
        if not path:
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["episode", "env_steps", "wall_s", "return", "mean_last_%d" % self.window])
            w.writerows(self.rows)


def report(name, args, curve, act, update):
    """One line per run, parsed by ``compare.py``."""
    solved = curve.solved_at
    print(
        "RESULT agent=%s backend=%s seed=%d solved=%s steps_to_solve=%s wall_to_solve=%s "
        "episodes=%d final_mean=%.1f act_us=%.1f update_us=%.1f first_act_us=%.0f first_update_us=%.0f wall=%.1f"
        % (
            name,
            args.backend,
            args.seed,
            solved is not None,
            solved[0] if solved else "-",
            "%.2f" % solved[1] if solved else "-",
            len(curve.rows),
            curve.mean(),
            act.mean_us(),
            update.mean_us(),
            act.first_us(),
            update.first_us(),
            time.perf_counter() - curve.start,
        ),
        flush=True,
    )
