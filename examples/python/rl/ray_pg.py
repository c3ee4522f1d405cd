"""REINFORCE beyond one machine, on Ray: N rollout workers (Ray actors), each holding
a kiln session of the policy, sample batches; a learner trains the policy and its
baseline on their batches (the same graph as ``reinforce.py``) and broadcasts the new
weights through Ray's object store as NumPy arrays (one ``ray.put``, read zero-copy by
every worker).

    python examples/python/rl/ray_pg.py --workers 2 --iterations 40
    RAY_ADDRESS=ray://<head>:10001 python examples/python/rl/ray_pg.py --workers 16

The second form runs on an existing cluster (``ray start --head`` on one machine,
``ray start --address=<head>:6379`` on the others; kiln and gymnasium installed on
each): Ray places the workers, nothing here changes.
"""
import argparse
import os
import time

import gymnasium as gym
import numpy as np
import ray

HERE = os.path.dirname(os.path.abspath(__file__))


class Policy:
    """The REINFORCE graph of ``reinforce.py`` in a kiln (or TF) session, with assign
    ops that load a list of weights into the policy and baseline variables."""

    def __init__(self, backend, env_id, seed):
        from common import load_tf, seed_everything
        from reinforce import SETTINGS, build

        self.tf = tf = load_tf(backend)
        self.hp = SETTINGS[env_id]
        self.env = gym.make(env_id)
        self.graph = tf.Graph()  # its own graph: a process may hold several policies
        with self.graph.as_default():
            self.obs, self.rng = seed_everything(tf, self.env, seed)
            # every process draws the same initial weights (the learner's are loaded anyway)
            self.g = build(tf, self.env, self.hp, np.random.RandomState(0))
            self.vars = tf.trainable_variables()
            self.feeds = [tf.placeholder(v.dtype, v.get_shape()) for v in self.vars]
            self.load = tf.group(*[v.assign(p) for v, p in zip(self.vars, self.feeds)])
            self.sess = tf.Session(graph=self.graph)
            self.sess.run(tf.global_variables_initializer())

    def weights(self):
        return self.sess.run(self.vars)

    def set_weights(self, weights):
        self.sess.run(self.load, feed_dict=dict(zip(self.feeds, weights)))


@ray.remote(num_cpus=1)
class RolloutWorker:
    """Samples whole episodes with the latest weights it was sent."""

    def __init__(self, backend, env_id, seed):
        import sys

        sys.path.insert(0, HERE)
        from common import Timer

        self.timer = Timer()
        self.p = Policy(backend, env_id, seed)
        self.version = -1

    def set_weights(self, weights, version):
        self.p.set_weights(weights)
        self.version = version
        return version

    def weights(self):
        return self.version, self.p.weights()

    def rollout(self, min_steps):
        """Whole episodes, at least ``min_steps`` steps: ``reinforce.collect``'s batch
        and the episodes' returns."""
        from reinforce import collect

        p, rets = self.p, []
        obs, acs, episodes, p.obs = collect(
            p.sess, p.g, p.env, p.obs, p.rng, min_steps, self.timer, lambda ret, n: rets.append(ret)
        )
        return obs, acs, episodes, rets


def train(workers=2, iterations=40, backend="kiln", env_id="CartPole-v1", seed=0, log=print):
    """Runs the learner against ``workers`` rollout actors. Returns the learner, the
    actors, the last weights broadcast (with their version), the mean return of the
    last 100 episodes and the environment steps per second after the first two
    iterations."""
    import sys

    sys.path.insert(0, HERE)
    from reinforce import update

    learner = Policy(backend, env_id, seed)
    actors = [RolloutWorker.remote(backend, env_id, seed + 1000 * (i + 1)) for i in range(workers)]
    per_worker = learner.hp["batch"] // workers
    # actors start in the background: wait until each has built its graph, so the
    # rate below counts sampling and training, not process start-up
    ray.get([a.set_weights.remote(learner.weights(), -1) for a in actors])
    # the rate leaves out the first two iterations, where the workers' and the
    # learner's sessions compile their fetch sets (when there are more than two)
    warmup = 2 if iterations > 2 else 0
    returns, steps, counted, t0 = [], 0, 0, time.perf_counter()
    for it in range(iterations):
        if it == warmup:
            counted, t0 = steps, time.perf_counter()
        sent = learner.weights()
        ref = ray.put(sent)  # one copy in the object store, read by all
        ray.get([a.set_weights.remote(ref, it) for a in actors])
        batches = ray.get([a.rollout.remote(per_worker) for a in actors])
        obs = np.concatenate([b[0] for b in batches])
        acs = np.concatenate([b[1] for b in batches])
        for b in batches:
            returns.extend(b[3])
        steps += len(obs)
        update(learner.sess, learner.g, obs, acs, [e for b in batches for e in b[2]])
        mean = float(np.mean(returns[-100:]))
        log("iteration %3d  steps %7d  mean return (last 100) %6.1f" % (it, steps, mean))
    rate = (steps - counted) / (time.perf_counter() - t0)
    return dict(learner=learner, actors=actors, sent=sent, version=iterations - 1, mean=mean, rate=rate)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--backend", choices=["kiln", "tf"], default="kiln")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    # workers import this directory's modules; on a cluster, RAY_ADDRESS picks it
    cpus = None if os.environ.get("RAY_ADDRESS") else max(2, args.workers)
    ray.init(runtime_env={"env_vars": {"PYTHONPATH": HERE}}, num_cpus=cpus, include_dashboard=False)
    r = train(args.workers, args.iterations, args.backend, seed=args.seed)
    print("RESULT workers=%d mean_return=%.1f samples_per_s=%.0f" % (args.workers, r["mean"], r["rate"]))


if __name__ == "__main__":
    main()
