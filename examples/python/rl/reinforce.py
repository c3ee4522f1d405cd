"""REINFORCE with reward-to-go and a learned state-value baseline, the course's policy
gradient homework in TF1 style: a categorical policy on CartPole-v1, a Gaussian one on
Pendulum-v1. The advantages are GAE(lambda)'s, as the homework's option has them:
lambda 1 (CartPole) is the plain reward-to-go minus the baseline; Pendulum's 0.95 lowers
the variance enough to solve it in about a million steps. ``--backend kiln`` runs it on
kiln, ``--backend tf`` on TensorFlow's ``tf.compat.v1``; nothing else differs.

    python examples/python/rl/reinforce.py --env CartPole-v1 --seed 0
    python examples/python/rl/reinforce.py --env Pendulum-v1 --seed 0
"""
import types

import gymnasium as gym
import numpy as np

from common import Curve, Timer, load_tf, mlp, parser, report, sample_categorical, seed_everything

SETTINGS = {
    # batch: env steps per update; gamma: discount; lam: GAE's lambda (1 is the plain
    # reward-to-go minus the baseline); lr, vf_lr: Adam's rates for the policy and the
    # baseline; vf_steps: baseline steps per batch; hidden: width of the 2-layer nets
    "CartPole-v1": dict(batch=2000, gamma=0.99, lam=1.0, lr=0.01, vf_lr=0.01, vf_steps=1, threshold=475.0, hidden=32),
    "Pendulum-v1": dict(batch=2000, gamma=0.95, lam=0.95, lr=0.002, vf_lr=0.003, vf_steps=5, threshold=-200.0, hidden=64),
}


def advantages(rewards, values, last_value, gamma, lam):
    """GAE(lambda) advantages of one episode: lam = 1 is the reward-to-go minus the
    baseline, below 1 it trades the return's variance for the baseline's bias.
    ``last_value`` is the baseline at the state after the last step (0 when the
    episode terminated, the baseline's value when the time limit cut it)."""
    out = np.zeros(len(rewards), np.float32)
    acc = 0.0
    nxt = last_value
    for t in range(len(rewards) - 1, -1, -1):
        delta = rewards[t] + gamma * nxt - values[t]
        acc = delta + gamma * lam * acc
        out[t] = acc
        nxt = values[t]
    return out


def build(tf, env, hp, rng):
    obs_dim = env.observation_space.shape[0]
    ob = tf.placeholder(tf.float32, [None, obs_dim], name="ob")
    adv = tf.placeholder(tf.float32, [None], name="adv")
    target = tf.placeholder(tf.float32, [None], name="target")
    h = hp["hidden"]
    if isinstance(env.action_space, gym.spaces.Discrete):
        ac = tf.placeholder(tf.int32, [None], name="ac")
        logits = mlp(tf, ob, [h, h, env.action_space.n], tf.tanh, "policy", rng)
        # the policy's sample in the graph (the homework's way); the default run
        # samples in NumPy from the fetched logits instead, so both backends draw alike
        sample = tf.squeeze(tf.random.categorical(logits, 1), axis=1)
        dist = logits
        logp = -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ac, logits=logits)
    else:
        d = env.action_space.shape[0]
        ac = tf.placeholder(tf.float32, [None, d], name="ac")
        mean = mlp(tf, ob, [h, h, d], tf.tanh, "policy", rng)
        logstd = tf.get_variable("logstd", initializer=np.zeros(d, np.float32))
        sample = mean + tf.exp(logstd) * tf.random_normal(tf.shape(mean))
        dist = [mean, logstd]
        z = (ac - mean) / tf.exp(logstd)
        logp = -0.5 * tf.reduce_sum(tf.square(z), axis=1) - tf.reduce_sum(logstd) - 0.5 * d * np.log(2 * np.pi)
    value = tf.squeeze(mlp(tf, ob, [h, h, 1], tf.tanh, "baseline", rng), axis=1)
    pi_loss = -tf.reduce_mean(logp * adv)
    vf_loss = tf.reduce_mean(tf.square(value - target))
    train_pi = tf.train.AdamOptimizer(hp["lr"]).minimize(pi_loss)
    train_vf = tf.train.AdamOptimizer(hp["vf_lr"]).minimize(vf_loss)
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    return types.SimpleNamespace(
        ob=ob, ac=ac, adv=adv, target=target, sample=sample, dist=dist, value=value, train_pi=train_pi,
        train_vf=train_vf, discrete=discrete, hp=hp,
        # the baseline fits returns normalized by its batch's mean and deviation:
        # these are the last fit's, to read its predictions in the rewards' units
        norm=(0.0, 1.0),
    )


def act(sess, g, obs, rng, graph_sampling=False):
    """One action for ``obs``: sampled in the graph, or drawn in NumPy from the fetched
    distribution (the default, so both backends draw the same numbers)."""
    feed = {g.ob: obs[None].astype(np.float32)}
    if graph_sampling:
        return sess.run(g.sample, feed_dict=feed)[0]
    if g.discrete:
        return sample_categorical(rng, sess.run(g.dist, feed_dict=feed)[0])
    m, ls = sess.run(g.dist, feed_dict=feed)
    return m[0] + np.exp(ls) * rng.standard_normal(ls.shape)


def collect(sess, g, env, obs, rng, min_steps, act_timer, on_episode, graph_sampling=False):
    """Whole episodes until at least ``min_steps`` steps. Returns the observations, the
    actions, each episode's (rewards, last observation, terminated) and the first
    observation of the next episode; ``on_episode(return, length)`` sees each one end."""
    space = env.action_space
    low, high = (space.low, space.high) if hasattr(space, "low") else (None, None)
    obs_b, acs_b, episodes = [], [], []
    while len(obs_b) < min_steps:
        rewards, done = [], False
        while not done:
            obs_b.append(obs)
            with act_timer:
                a = act(sess, g, obs, rng, graph_sampling)
            acs_b.append(a)
            obs, r, term, trunc, _ = env.step(np.clip(a, low, high) if low is not None else int(a))
            rewards.append(r)
            done = term or trunc
        # a time limit cuts the episode short, not the task: its tail bootstraps from
        # the baseline at the state it stopped in
        episodes.append((rewards, obs, term))
        on_episode(sum(rewards), len(rewards))
        obs, _ = env.reset()
    return np.asarray(obs_b, np.float32), np.asarray(acs_b), episodes, obs


def update(sess, g, obs_b, acs_b, episodes):
    """One policy step on the batch's normalized GAE advantages, then ``vf_steps``
    baseline steps towards its lambda-returns."""
    hp, n = g.hp, len(obs_b)
    last = np.asarray([e[1] for e in episodes], np.float32)
    mu, sd = g.norm
    v = sess.run(g.value, feed_dict={g.ob: np.concatenate([obs_b, last])}) * sd + mu
    adv, i = [], 0
    for k, (rewards, _, term) in enumerate(episodes):
        tail = 0.0 if term else v[n + k]
        adv.append(advantages(rewards, v[i : i + len(rewards)], tail, hp["gamma"], hp["lam"]))
        i += len(rewards)
    adv = np.concatenate(adv)
    ret = adv + v[:n]
    g.norm = mu, sd = float(ret.mean()), float(ret.std() + 1e-8)
    feed = {g.ob: obs_b, g.ac: acs_b, g.adv: (adv - adv.mean()) / (adv.std() + 1e-8)}
    sess.run(g.train_pi, feed_dict=feed)
    for _ in range(hp["vf_steps"]):
        sess.run(g.train_vf, feed_dict={g.ob: obs_b, g.target: (ret - mu) / sd})


def main():
    p = parser(__doc__.splitlines()[0], max_steps=3_000_000)
    p.add_argument("--env", default="CartPole-v1", choices=sorted(SETTINGS))
    p.add_argument("--graph-sampling", action="store_true", help="sample actions in the graph (tf.random)")
    p.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    args = p.parse_args()
    hp = dict(SETTINGS[args.env])
    for kv in args.hp:
        k, v = kv.split("=")
        hp[k] = type(hp[k])(float(v))
    tf = load_tf(args.backend)
    env = gym.make(args.env)
    obs, rng = seed_everything(tf, env, args.seed)
    g = build(tf, env, hp, rng)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    curve, act_t, upd_t = Curve(hp["threshold"]), Timer(), Timer()
    steps = 0

    def on_episode(ret, length):
        nonlocal steps
        steps += length
        curve.add(ret, steps)

    while steps < args.max_steps and curve.solved_at is None:
        obs_b, acs_b, episodes, obs = collect(sess, g, env, obs, rng, hp["batch"], act_t, on_episode, args.graph_sampling)
        with upd_t:
            update(sess, g, obs_b, acs_b, episodes)
    curve.write(args.csv)
    report("reinforce-" + args.env, args, curve, act_t, upd_t)


if __name__ == "__main__":
    main()
