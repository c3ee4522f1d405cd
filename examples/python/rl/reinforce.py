"""REINFORCE with reward-to-go and a learned state-value baseline, the course's policy
gradient homework in TF1 style: a categorical policy on CartPole-v1, a Gaussian one on
Pendulum-v1. ``--backend kiln`` runs it on kiln, ``--backend tf`` on TensorFlow's
``tf.compat.v1``; nothing else differs.

    python examples/python/rl/reinforce.py --env CartPole-v1 --seed 0
"""
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
    return ob, ac, adv, target, sample, dist, value, train_pi, train_vf


def main():
    p = parser(__doc__.splitlines()[0])
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
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    obs, rng = seed_everything(tf, env, args.seed)
    ob_ph, ac_ph, adv_ph, target_ph, sample, dist, value, train_pi, train_vf = build(tf, env, hp, rng)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    low, high = (env.action_space.low, env.action_space.high) if hasattr(env.action_space, "low") else (None, None)
    curve, act_t, upd_t = Curve(hp["threshold"]), Timer(), Timer()
    steps = 0
    # the baseline fits returns normalized by the batch's mean and deviation; these
    # are the last fit's, to read its predictions in the rewards' units
    mu, sd = 0.0, 1.0
    while steps < args.max_steps and curve.solved_at is None:
        obs_b, acs_b, episodes = [], [], []
        while len(obs_b) < hp["batch"]:
            rewards, done = [], False
            while not done:
                obs_b.append(obs)
                with act_t:
                    feed = {ob_ph: obs[None].astype(np.float32)}
                    if args.graph_sampling:
                        a = sess.run(sample, feed_dict=feed)[0]
                    elif discrete:
                        a = sample_categorical(rng, sess.run(dist, feed_dict=feed)[0])
                    else:
                        m, ls = sess.run(dist, feed_dict=feed)
                        a = m[0] + np.exp(ls) * rng.standard_normal(ls.shape)
                acs_b.append(a)
                step_a = np.clip(a, low, high) if low is not None else int(a)
                obs, r, term, trunc, _ = env.step(step_a)
                rewards.append(r)
                steps += 1
                done = term or trunc
            # a time limit cuts the episode short, not the task: its tail bootstraps
            # from the baseline at the state it stopped in
            episodes.append((rewards, obs, term))
            curve.add(sum(rewards), steps)
            obs, _ = env.reset()
        n = len(obs_b)
        last = np.asarray([e[1] for e in episodes], np.float32)
        v = sess.run(value, feed_dict={ob_ph: np.concatenate([np.asarray(obs_b, np.float32), last])})
        v = v * sd + mu
        adv, i = [], 0
        for k, (rewards, _, term) in enumerate(episodes):
            tail = 0.0 if term else v[n + k]
            adv.append(advantages(rewards, v[i : i + len(rewards)], tail, hp["gamma"], hp["lam"]))
            i += len(rewards)
        adv = np.concatenate(adv)
        ret = adv + v[:n]
        mu, sd = float(ret.mean()), float(ret.std() + 1e-8)
        obs_b = np.asarray(obs_b, np.float32)
        feed = {ob_ph: obs_b, ac_ph: np.asarray(acs_b), adv_ph: (adv - adv.mean()) / (adv.std() + 1e-8)}
        with upd_t:
            sess.run(train_pi, feed_dict=feed)
            for _ in range(hp["vf_steps"]):
                sess.run(train_vf, feed_dict={ob_ph: obs_b, target_ph: (ret - mu) / sd})
    curve.write(args.csv)
    report("reinforce-" + args.env, args, curve, act_t, upd_t)


if __name__ == "__main__":
    main()
