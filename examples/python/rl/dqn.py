"""DQN on CartPole-v1 in TF1 style: an online and a target Q-network (the target
tracking the online one by Polyak averaging, with assign ops), a replay buffer, epsilon-greedy exploration,
the Huber loss and Adam; double-DQN targets. ``--backend kiln|tf`` picks the TF1 module.

    python examples/python/rl/dqn.py --seed 0
"""
import gymnasium as gym
import numpy as np

from common import Curve, Timer, load_tf, mlp, parser, report, seed_everything

# hyperparameters that learn CartPole-v1 to a mean of 475 over 100 episodes
HP = dict(
    lr=3e-4,
    gamma=0.99,
    batch=64,
    buffer=10_000,
    learning_starts=1_000,
    train_every=1,  # env steps between training bursts
    grad_steps=1,  # minibatch updates per burst
    target_every=500,  # env steps between hard target syncs (when tau is 1)
    tau=0.005,  # below 1: Polyak averaging of the target after every minibatch update
    eps_start=1.0,
    eps_end=0.01,
    eps_steps=10_000,
    hidden=64,
    clip=0.0,  # above 0: the gradient's global norm is clipped to it
    lr_end=3e-5,  # above 0: the learning rate decays linearly to it over lr_steps updates
    lr_steps=150_000,
    threshold=475.0,
)


def main():
    p = parser(__doc__.splitlines()[0], max_steps=500_000)
    p.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE", help="override a hyperparameter")
    args = p.parse_args()
    for kv in args.hp:
        k, v = kv.split("=")
        HP[k] = type(HP[k])(float(v)) if not isinstance(HP[k], int) else int(float(v))
    tf = load_tf(args.backend)
    env = gym.make("CartPole-v1")
    obs, rng = seed_everything(tf, env, args.seed)
    h = HP["hidden"]
    ob = tf.placeholder(tf.float32, [None, 4], name="ob")
    ob2 = tf.placeholder(tf.float32, [None, 4], name="ob2")
    ac = tf.placeholder(tf.int32, [None], name="ac")
    rew = tf.placeholder(tf.float32, [None], name="rew")
    notdone = tf.placeholder(tf.float32, [None], name="notdone")
    q = mlp(tf, ob, [h, h, 2], tf.nn.relu, "q", rng)
    q_vars = tf.trainable_variables("q")
    target_net = mlp(tf, ob2, [h, h, 2], tf.nn.relu, "target", rng)
    t_vars = tf.trainable_variables("target")
    # double DQN: the online net picks the next action, the target net values it
    h2 = mlp(tf, ob2, [h, h, 2], tf.nn.relu, "q", rng, reuse=True)
    best = tf.argmax(h2, axis=1, output_type=tf.int32)
    q_next = tf.reduce_sum(target_net * tf.one_hot(best, 2), axis=1)
    y = tf.stop_gradient(rew + HP["gamma"] * notdone * q_next)
    q_taken = tf.reduce_sum(q * tf.one_hot(ac, 2), axis=1)
    loss = tf.losses.huber_loss(y, q_taken)
    global_step = tf.train.get_or_create_global_step()
    lr = HP["lr"]
    if HP["lr_end"] > 0:
        lr = tf.train.polynomial_decay(HP["lr"], global_step, HP["lr_steps"], HP["lr_end"])
    opt = tf.train.AdamOptimizer(lr)
    if HP["clip"] > 0:
        grads, _ = tf.clip_by_global_norm(tf.gradients(loss, q_vars), HP["clip"])
        step = opt.apply_gradients(list(zip(grads, q_vars)), global_step=global_step)
    else:
        step = opt.minimize(loss, var_list=q_vars, global_step=global_step)
    sync = tf.group(*[t.assign(s) for t, s in zip(t_vars, q_vars)])
    soft = tf.group(*[t.assign(HP["tau"] * s + (1.0 - HP["tau"]) * t) for t, s in zip(t_vars, q_vars)])
    greedy = tf.argmax(q, axis=1)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(sync)
    n = HP["buffer"]
    buf_o, buf_o2 = np.zeros((n, 4), np.float32), np.zeros((n, 4), np.float32)
    buf_a, buf_r, buf_nd = np.zeros(n, np.int32), np.zeros(n, np.float32), np.zeros(n, np.float32)
    size = 0
    curve, act_t, upd_t = Curve(HP["threshold"]), Timer(), Timer()
    ret = 0.0
    for t in range(1, args.max_steps + 1):
        eps = max(HP["eps_end"], HP["eps_start"] - (HP["eps_start"] - HP["eps_end"]) * t / HP["eps_steps"])
        if rng.random_sample() < eps:
            a = int(rng.randint(2))
        else:
            with act_t:
                a = int(sess.run(greedy, feed_dict={ob: obs[None].astype(np.float32)})[0])
        nxt, r, term, trunc, _ = env.step(a)
        i = (t - 1) % n
        buf_o[i], buf_o2[i], buf_a[i], buf_r[i], buf_nd[i] = obs, nxt, a, r, 0.0 if term else 1.0
        size = min(size + 1, n)
        obs, ret = nxt, ret + r
        if term or trunc:
            curve.add(ret, t)
            obs, _ = env.reset()
            ret = 0.0
            if curve.solved_at is not None:
                break
        if HP["tau"] >= 1.0 and t % HP["target_every"] == 0:
            sess.run(sync)
        if t >= HP["learning_starts"] and t % HP["train_every"] == 0:
            for _ in range(HP["grad_steps"]):
                j = rng.randint(size, size=HP["batch"])
                feed = {ob: buf_o[j], ob2: buf_o2[j], ac: buf_a[j], rew: buf_r[j], notdone: buf_nd[j]}
                with upd_t:
                    sess.run(step, feed_dict=feed)
                if HP["tau"] < 1.0:
                    sess.run(soft)
    curve.write(args.csv)
    report("dqn-CartPole-v1", args, curve, act_t, upd_t)


if __name__ == "__main__":
    main()
