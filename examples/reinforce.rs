//! REINFORCE with reward-to-go and a learned baseline on CartPole, all in Rust: the
//! course's policy-gradient homework on kiln's Rust API, with a CartPole whose dynamics
//! are gymnasium's `CartPole-v1` line for line (Euler steps of 0.02 s, termination at
//! 12 degrees or 2.4 units, 500-step episodes). Learns it (a mean return of 475 over the
//! last 100 episodes) in seconds.
//!
//! ```text
//! cargo run --release --example reinforce -- --seed 0
//! ```

use clap::Parser;
use kiln::train::{AdamOptimizer, Optimizer};
use kiln::{matmul, nn, reduce_mean, square, Axes, DType, Graph, Initializer, Session, Tensor, TensorValue};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use std::time::Instant;

#[derive(Parser, Debug)]
struct Args {
    /// seed of the environment, the initial weights and the action sampling
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// give up after this many environment steps
    #[arg(long, default_value_t = 1_000_000)]
    max_steps: usize,
    /// environment steps per policy update
    #[arg(long, default_value_t = 2000)]
    batch: usize,
}

/// gymnasium's `CartPoleEnv`, with its constants and its Euler integrator.
struct CartPole {
    state: [f64; 4],
    steps: usize,
}

impl CartPole {
    const GRAVITY: f64 = 9.8;
    const MASS_CART: f64 = 1.0;
    const MASS_POLE: f64 = 0.1;
    const TOTAL_MASS: f64 = Self::MASS_CART + Self::MASS_POLE;
    const LENGTH: f64 = 0.5; // half the pole's length
    const POLE_MASS_LENGTH: f64 = Self::MASS_POLE * Self::LENGTH;
    const FORCE_MAG: f64 = 10.0;
    const TAU: f64 = 0.02;
    const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
    const X_THRESHOLD: f64 = 2.4;
    const MAX_STEPS: usize = 500; // the TimeLimit of CartPole-v1

    fn reset(rng: &mut impl Rng) -> CartPole {
        CartPole { state: std::array::from_fn(|_| rng.random_range(-0.05..0.05)), steps: 0 }
    }

    /// The observation, as gymnasium returns it (float32).
    fn obs(&self) -> [f32; 4] {
        self.state.map(|v| v as f32)
    }

    /// One step: the reward (1 on every step, the last included) and whether the
    /// episode is over (terminated or truncated).
    fn step(&mut self, action: usize) -> (f64, bool) {
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if action == 1 { Self::FORCE_MAG } else { -Self::FORCE_MAG };
        let (sin, cos) = theta.sin_cos();
        let temp = (force + Self::POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / Self::TOTAL_MASS;
        let theta_acc = (Self::GRAVITY * sin - cos * temp)
            / (Self::LENGTH * (4.0 / 3.0 - Self::MASS_POLE * cos * cos / Self::TOTAL_MASS));
        let x_acc = temp - Self::POLE_MASS_LENGTH * theta_acc * cos / Self::TOTAL_MASS;
        self.state = [
            x + Self::TAU * x_dot,
            x_dot + Self::TAU * x_acc,
            theta + Self::TAU * theta_dot,
            theta_dot + Self::TAU * theta_acc,
        ];
        self.steps += 1;
        let [x, _, theta, _] = self.state;
        let terminated = !(-Self::X_THRESHOLD..=Self::X_THRESHOLD).contains(&x)
            || !(-Self::THETA_THRESHOLD..=Self::THETA_THRESHOLD).contains(&theta);
        (1.0, terminated || self.steps >= Self::MAX_STEPS)
    }
}

/// Dense tanh layers under `scope`, Glorot-uniform kernels and zero biases.
fn mlp(g: &Graph, x: &Tensor, sizes: &[usize], scope: &str) -> kiln::Result<Tensor> {
    let _scope = g.variable_scope(scope);
    let mut h = x.clone();
    let mut fan_in = x.get_shape().as_list().last().copied().flatten().unwrap_or(1);
    for (i, &n) in sizes.iter().enumerate() {
        let w = g.get_variable(&format!("w{i}"), &[fan_in, n], DType::F32, Initializer::xavier())?;
        let b = g.get_variable(&format!("b{i}"), &[n], DType::F32, Initializer::Zeros)?;
        h = matmul(&h, &w)? + &b;
        if i + 1 < sizes.len() {
            h = nn::tanh(&h)?;
        }
        fan_in = n;
    }
    Ok(h)
}

fn reward_to_go(rewards: &[f64], gamma: f64) -> Vec<f32> {
    let mut out = vec![0.0; rewards.len()];
    let mut acc = 0.0;
    for t in (0..rewards.len()).rev() {
        acc = rewards[t] + gamma * acc;
        out[t] = acc as f32;
    }
    out
}

fn normalize(v: &mut [f32]) -> (f32, f32) {
    let n = v.len().max(1) as f32;
    let mean = v.iter().sum::<f32>() / n;
    let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n).sqrt() + 1e-8;
    v.iter_mut().for_each(|x| *x = (*x - mean) / sd);
    (mean, sd)
}

fn main() -> kiln::Result<()> {
    let args = Args::parse();
    let (gamma, hidden) = (0.99, 32);
    let g = Graph::new();
    g.set_random_seed(args.seed);
    let ob = g.placeholder(DType::F32, [None, Some(4)], "ob")?;
    let ac = g.placeholder(DType::I32, [None], "ac")?;
    let adv = g.placeholder(DType::F32, [None], "adv")?;
    let target = g.placeholder(DType::F32, [None], "target")?;
    let logits = mlp(&g, &ob, &[hidden, hidden, 2], "policy")?;
    let value = kiln::squeeze(&mlp(&g, &ob, &[hidden, hidden, 1], "baseline")?, &[1])?;
    let neg_logp = nn::sparse_softmax_cross_entropy_with_logits(&ac, &logits)?;
    let pi_loss = reduce_mean(&(&neg_logp * &adv), Axes::All, false)?;
    let vf_loss = reduce_mean(&square(&(&value - &target))?, Axes::All, false)?;
    let train_pi = AdamOptimizer::new(0.01).minimize(&pi_loss, None)?;
    let train_vf = AdamOptimizer::new(0.01).minimize(&vf_loss, None)?;
    let train = kiln::group(&[&train_pi, &train_vf])?;
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer()?, &[])?;
    // action selection runs thousands of times per update: a callable, fed in place
    let mut act = sess.make_callable(&[&logits], &[&ob])?;

    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let (mut returns, mut steps, start) = (Vec::<f64>::new(), 0usize, Instant::now());
    let mean_last = |r: &[f64]| r[r.len().saturating_sub(100)..].iter().sum::<f64>() / r.len().clamp(1, 100) as f64;
    let mut iteration = 0;
    while steps < args.max_steps {
        let (mut obs_b, mut acs_b, mut rtg_b) = (Vec::new(), Vec::new(), Vec::new());
        while acs_b.len() < args.batch {
            let mut env = CartPole::reset(&mut rng);
            let mut rewards = Vec::new();
            loop {
                let o = env.obs();
                let view = ndarray::ArrayView2::from_shape((1, 4), &o).map_err(|e| kiln::BuildError::Invalid {
                    op: "feed".into(),
                    message: e.to_string(),
                    loc: kiln::ir::Loc::caller(),
                })?;
                act.run(&mut sess, &[view.into_dyn()])?;
                let l = act.fetch(0, &sess)?;
                // softmax sampling by inverse CDF
                let p1 = 1.0 / (1.0 + ((l[0] - l[1]) as f64).exp());
                let a = usize::from(rng.random::<f64>() < p1);
                obs_b.extend_from_slice(&o);
                acs_b.push(a as i32);
                let (r, done) = env.step(a);
                rewards.push(r);
                steps += 1;
                if done {
                    break;
                }
            }
            returns.push(rewards.iter().sum());
            rtg_b.extend(reward_to_go(&rewards, gamma));
        }
        let n = acs_b.len();
        let obs = Array2::from_shape_vec((n, 4), obs_b).expect("4 numbers per observation");
        let mut targets = rtg_b.clone();
        let (mu, sd) = normalize(&mut targets);
        let v = sess.run1(&value, &[(&ob, obs.clone().into())])?.into_f32().map_err(kiln::Error::from)?;
        let mut a: Vec<f32> = rtg_b.iter().zip(v.iter()).map(|(r, v)| r - (v * sd + mu)).collect();
        normalize(&mut a);
        let feeds = [
            (&ob, TensorValue::from(obs)),
            (&ac, TensorValue::from(acs_b)),
            (&adv, TensorValue::from(Array1::from(a))),
            (&target, TensorValue::from(Array1::from(targets))),
        ];
        sess.run(&[&train], &feeds)?;
        iteration += 1;
        let m = mean_last(&returns);
        if iteration % 10 == 0 || (returns.len() >= 100 && m >= 475.0) {
            println!(
                "iteration {iteration:3}  episodes {:5}  steps {steps:7}  mean return (last 100) {m:6.1}",
                returns.len()
            );
        }
        if returns.len() >= 100 && m >= 475.0 {
            println!(
                "solved in {:.2} s, {steps} environment steps, {} episodes",
                start.elapsed().as_secs_f64(),
                returns.len()
            );
            return Ok(());
        }
    }
    println!("not solved within {} steps (mean return {:.1})", args.max_steps, mean_last(&returns));
    std::process::exit(1);
}
