"""Advantage actor-critic on CartPole-v1, the course's batch version in TF1 style: a
bootstrapped critic fitted to ``r + gamma V(s')`` (targets recomputed a few times, a
few gradient steps each), then one policy step on the normalized advantages
``r + gamma V(s') - V(s)``. ``--backend kiln|tf`` picks the TF1 module.

    python examples/python/rl/actor_critic.py --seed 0
"""
import gymnasium as gym
import numpy as np

from common import Curve, Timer, load_tf, mlp, parser, report, sample_categorical, seed_everything

HP = dict(batch=2000, gamma=0.99, lr=0.01, critic_lr=0.01, target_updates=10, grad_steps=10, hidden=32, threshold=475.0)


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    tf = load_tf(args.backend)
    env = gym.make("CartPole-v1")
    obs, rng = seed_everything(tf, env, args.seed)
    h = HP["hidden"]
    ob = tf.placeholder(tf.float32, [None, 4], name="ob")
    ac = tf.placeholder(tf.int32, [None], name="ac")
    adv = tf.placeholder(tf.float32, [None], name="adv")
    target = tf.placeholder(tf.float32, [None], name="target")
    logits = mlp(tf, ob, [h, h, 2], tf.tanh, "actor", rng)
    value = tf.squeeze(mlp(tf, ob, [h, h, 1], tf.tanh, "critic", rng), axis=1)
    logp = -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ac, logits=logits)
    actor_step = tf.train.AdamOptimizer(HP["lr"]).minimize(-tf.reduce_mean(logp * adv))
    critic_step = tf.train.AdamOptimizer(HP["critic_lr"]).minimize(tf.losses.mean_squared_error(target, value))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    curve, act_t, upd_t = Curve(HP["threshold"]), Timer(), Timer()
    steps = 0
    while steps < args.max_steps and curve.solved_at is None:
        obs_b, acs_b, rew_b, next_b, term_b = [], [], [], [], []
        while len(obs_b) < HP["batch"]:
            ret, done = 0.0, False
            while not done:
                with act_t:
                    a = sample_categorical(rng, sess.run(logits, feed_dict={ob: obs[None].astype(np.float32)})[0])
                nxt, r, term, trunc, _ = env.step(a)
                obs_b.append(obs)
                acs_b.append(a)
                rew_b.append(r)
                next_b.append(nxt)
                term_b.append(float(term))  # a truncated episode still bootstraps
                obs, ret, steps, done = nxt, ret + r, steps + 1, term or trunc
            curve.add(ret, steps)
            obs, _ = env.reset()
        o, o2 = np.asarray(obs_b, np.float32), np.asarray(next_b, np.float32)
        r, notdone = np.asarray(rew_b, np.float32), 1.0 - np.asarray(term_b, np.float32)
        with upd_t:
            for _ in range(HP["target_updates"]):
                y = r + HP["gamma"] * notdone * sess.run(value, feed_dict={ob: o2})
                for _ in range(HP["grad_steps"]):
                    sess.run(critic_step, feed_dict={ob: o, target: y})
            v, v2 = sess.run(value, feed_dict={ob: o}), sess.run(value, feed_dict={ob: o2})
            a_ = r + HP["gamma"] * notdone * v2 - v
            a_ = (a_ - a_.mean()) / (a_.std() + 1e-8)
            sess.run(actor_step, feed_dict={ob: o, ac: np.asarray(acs_b), adv: a_})
    curve.write(args.csv)
    report("actor-critic-CartPole-v1", args, curve, act_t, upd_t)


if __name__ == "__main__":
    main()
