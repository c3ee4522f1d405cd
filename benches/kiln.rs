//! kiln against baselines measured in the same run. Run with
//! `taskset -c 0 cargo bench --bench kiln` for the one-core figures in the README.
//!
//! - `train_step/sine`: the notebook's step (1-20-20-1 ReLU, batch 32, Adam): kiln's JIT
//!   callable (denormals flushed, as TF1 does, and kept, as the baselines do), kiln's
//!   interpreter, a hand-written ndarray step, dfdx.
//! - `train_step/mlp784`: 784-1024-1024-10, batch 256, softmax cross-entropy, Adam.
//! - `gemm/256x784x1024`: kiln's large-GEMM path against ndarray's `dot` (matrixmultiply
//!   with AVX-512) and this core's peak FMA rate, all in FLOP/s.
//! - `gemm/crossover`: kiln's CLIF micro-kernel against the library, by size.
//! - `gemm/narrow`: output layers (2 actions, a value head), whose columns are all
//!   past the last multiple of 4: kiln's callable against ndarray's `dot`.
//! - `elementwise/chain_4m`: `tanh(1.5x+0.5)·sigmoid(x) − 0.25x²` over 4 Mi f32.
//! - `compile/sine_train`: from a built graph to a ready callable.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kiln::train::{AdamOptimizer, Optimizer};
use kiln::{nn, Axes, Backend, DType, Graph, Initializer, Session, SessionOptions, Tensor, TensorValue};
use ndarray::{Array1, Array2, ArrayD, Axis, IxDyn};
use rand::{Rng, SeedableRng};
use std::hint::black_box;

fn rand2(seed: u64, r: usize, c: usize, lo: f32, hi: f32) -> Array2<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    Array2::from_shape_fn((r, c), |_| rng.random_range(lo..hi))
}

/// An MLP in kiln: ReLU hidden layers, linear output; returns placeholders, loss, train op.
fn kiln_mlp(sizes: &[usize], softmax: bool) -> (Graph, Tensor, Tensor, Tensor, Tensor) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(sizes[0])], "x").unwrap();
    let y = g.placeholder(DType::F32, [None, Some(*sizes.last().unwrap())], "y").unwrap();
    let mut h = x.clone();
    for i in 0..sizes.len() - 1 {
        let _s = g.variable_scope(&format!("layer_{i}"));
        let w = g.get_variable("W", &[sizes[i], sizes[i + 1]], DType::F32, Initializer::xavier()).unwrap();
        let b = g.get_variable("b", &[sizes[i + 1]], DType::F32, Initializer::Zeros).unwrap();
        h = kiln::matmul(&h, &w).unwrap() + &b;
        if i + 2 < sizes.len() {
            h = nn::relu(&h).unwrap();
        }
    }
    let loss = if softmax {
        kiln::reduce_mean(&nn::softmax_cross_entropy_with_logits(&y, &h).unwrap(), Axes::All, false).unwrap()
    } else {
        kiln::reduce_mean(&(0.5 * kiln::square(&(&h - &y)).unwrap()), Axes::All, false).unwrap()
    };
    let train = AdamOptimizer::default().minimize(&loss, None).unwrap();
    (g, x, y, loss, train)
}

/// The same MLP by hand on ndarray: forward, backward, TF1 Adam.
struct NdMlp {
    w: Vec<Array2<f32>>,
    b: Vec<Array1<f32>>,
    m: Vec<(Array2<f32>, Array1<f32>)>,
    v: Vec<(Array2<f32>, Array1<f32>)>,
    t: i32,
    softmax: bool,
}

impl NdMlp {
    fn new(sizes: &[usize], softmax: bool) -> NdMlp {
        let w: Vec<Array2<f32>> = (0..sizes.len() - 1)
            .map(|i| {
                let l = (6.0 / (sizes[i] + sizes[i + 1]) as f32).sqrt();
                rand2(i as u64, sizes[i], sizes[i + 1], -l, l)
            })
            .collect();
        let b: Vec<Array1<f32>> = sizes[1..].iter().map(|&n| Array1::zeros(n)).collect();
        let z = |w: &Vec<Array2<f32>>, b: &Vec<Array1<f32>>| {
            w.iter().zip(b).map(|(w, b)| (Array2::zeros(w.raw_dim()), Array1::zeros(b.raw_dim()))).collect()
        };
        NdMlp { m: z(&w, &b), v: z(&w, &b), w, b, t: 0, softmax }
    }

    fn step(&mut self, x: &Array2<f32>, y: &Array2<f32>) -> f32 {
        let n = self.w.len();
        let mut acts = vec![x.clone()];
        let mut pre = Vec::new();
        for i in 0..n {
            let z = acts[i].dot(&self.w[i]) + &self.b[i];
            pre.push(z.clone());
            acts.push(if i + 1 < n { z.mapv(|v| v.max(0.0)) } else { z });
        }
        let out = &acts[n];
        let batch = x.nrows() as f32;
        let (loss, mut g) = if self.softmax {
            let mx = out.map_axis(Axis(1), |r| r.fold(f32::MIN, |a, &b| a.max(b))).insert_axis(Axis(1));
            let e = (out - &mx).mapv(f32::exp);
            let s = e.sum_axis(Axis(1)).insert_axis(Axis(1));
            let p = &e / &s;
            let loss = -(y * &p.mapv(f32::ln)).sum() / batch;
            (loss, (&p - y) / batch)
        } else {
            let d = out - y;
            let count = d.len() as f32;
            (0.5 * d.mapv(|v| v * v).sum() / count, d / count)
        };
        self.t += 1;
        let lr_t = 1e-3 * (1.0 - 0.999f32.powi(self.t)).sqrt() / (1.0 - 0.9f32.powi(self.t));
        for i in (0..n).rev() {
            let gw = acts[i].t().dot(&g);
            let gb = g.sum_axis(Axis(0));
            if i > 0 {
                g = g.dot(&self.w[i].t()) * pre[i - 1].mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
            }
            let (mw, mb) = &mut self.m[i];
            let (vw, vb) = &mut self.v[i];
            mw.zip_mut_with(&gw, |m, &g| *m = 0.9 * *m + 0.1 * g);
            vw.zip_mut_with(&gw, |v, &g| *v = 0.999 * *v + 0.001 * g * g);
            mb.zip_mut_with(&gb, |m, &g| *m = 0.9 * *m + 0.1 * g);
            vb.zip_mut_with(&gb, |v, &g| *v = 0.999 * *v + 0.001 * g * g);
            ndarray::Zip::from(&mut self.w[i])
                .and(&*mw)
                .and(&*vw)
                .for_each(|w, &m, &v| *w -= lr_t * m / (v.sqrt() + 1e-8));
            ndarray::Zip::from(&mut self.b[i])
                .and(&*mb)
                .and(&*vb)
                .for_each(|w, &m, &v| *w -= lr_t * m / (v.sqrt() + 1e-8));
        }
        loss
    }
}

fn train_step_sine(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step/sine");
    let xs = rand2(1, 32, 1, -6.0, 6.0);
    let ys = xs.mapv(f32::sin);
    let (g, x, y, loss, train) = kiln_mlp(&[1, 20, 20, 1], false);
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut step = sess.make_callable(&[&train, &loss], &[&x, &y]).unwrap();
    let feeds = [xs.view().into_dyn(), ys.view().into_dyn()];
    group.bench_function("kiln_jit", |b| b.iter(|| step.run(&mut sess, black_box(&feeds)).unwrap()));
    // the same with IEEE denormals, as the baselines run (kiln flushes them, as TF1 does)
    let mut ieee = Session::with_options(&g, SessionOptions { flush_denormals: false, ..SessionOptions::default() });
    ieee.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut ieee_step = ieee.make_callable(&[&train, &loss], &[&x, &y]).unwrap();
    group
        .bench_function("kiln_jit_ieee_denormals", |b| b.iter(|| ieee_step.run(&mut ieee, black_box(&feeds)).unwrap()));
    let mut interp =
        Session::with_options(&g, SessionOptions { backend: Backend::Interpreter, ..SessionOptions::default() });
    interp.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let fv: [(&Tensor, TensorValue); 2] = [(&x, xs.clone().into()), (&y, ys.clone().into())];
    group.bench_function("kiln_interp", |b| b.iter(|| interp.run(&[&train, &loss], black_box(&fv)).unwrap()));
    let mut nd = NdMlp::new(&[1, 20, 20, 1], false);
    group.bench_function("ndarray", |b| b.iter(|| nd.step(black_box(&xs), black_box(&ys))));
    {
        use dfdx::optim::Adam;
        use dfdx::prelude::*;
        type Mlp = ((Linear<1, 20>, ReLU), (Linear<20, 20>, ReLU), Linear<20, 1>);
        let dev: Cpu = Default::default();
        let mut model = dev.build_module::<Mlp, f32>();
        let mut grads = Some(model.alloc_grads());
        let mut opt = Adam::new(&model, AdamConfig { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: None });
        let dx: dfdx::tensor::Tensor<Rank2<32, 1>, f32, Cpu> = dev.tensor(xs.as_slice().unwrap().to_vec());
        let dy: dfdx::tensor::Tensor<Rank2<32, 1>, f32, Cpu> = dev.tensor(ys.as_slice().unwrap().to_vec());
        group.bench_function("dfdx", |b| {
            b.iter(|| {
                let gr = grads.take().unwrap();
                let pred = model.forward_mut(dx.clone().traced(gr));
                let l = mse_loss(pred, dy.clone());
                let mut gr = l.backward();
                opt.update(&mut model, &gr).unwrap();
                model.zero_grads(&mut gr);
                grads = Some(gr);
            })
        });
    }
    group.finish();
}

fn train_step_mlp784(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step/mlp784");
    group.sample_size(10);
    let xs = rand2(1, 256, 784, 0.0, 1.0);
    let mut ys = Array2::<f32>::zeros((256, 10));
    for i in 0..256 {
        ys[[i, i % 10]] = 1.0;
    }
    let (g, x, y, loss, train) = kiln_mlp(&[784, 1024, 1024, 10], true);
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut step = sess.make_callable(&[&train, &loss], &[&x, &y]).unwrap();
    let feeds = [xs.view().into_dyn(), ys.view().into_dyn()];
    group.bench_function("kiln_jit", |b| b.iter(|| step.run(&mut sess, black_box(&feeds)).unwrap()));
    let mut nd = NdMlp::new(&[784, 1024, 1024, 10], true);
    group.bench_function("ndarray", |b| b.iter(|| nd.step(black_box(&xs), black_box(&ys))));
    {
        use dfdx::optim::Adam;
        use dfdx::prelude::*;
        type Mlp = ((Linear<784, 1024>, ReLU), (Linear<1024, 1024>, ReLU), Linear<1024, 10>);
        let dev: Cpu = Default::default();
        let mut model = dev.build_module::<Mlp, f32>();
        let mut grads = Some(model.alloc_grads());
        let mut opt = Adam::new(&model, AdamConfig { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: None });
        let dx: dfdx::tensor::Tensor<Rank2<256, 784>, f32, Cpu> = dev.tensor(xs.as_slice().unwrap().to_vec());
        let dy: dfdx::tensor::Tensor<Rank2<256, 10>, f32, Cpu> = dev.tensor(ys.as_slice().unwrap().to_vec());
        group.bench_function("dfdx", |b| {
            b.iter(|| {
                let gr = grads.take().unwrap();
                let logits = model.forward_mut(dx.clone().traced(gr));
                let l = cross_entropy_with_logits_loss(logits, dy.clone());
                let mut gr = l.backward();
                opt.update(&mut model, &gr).unwrap();
                model.zero_grads(&mut gr);
                grads = Some(gr);
            })
        });
    }
    group.finish();
}

fn matmul_callable(m: usize, k: usize, n: usize) -> (Session, kiln::Callable, Array2<f32>, Array2<f32>) {
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [m, k], "a").unwrap();
    let b = g.placeholder(DType::F32, [k, n], "b").unwrap();
    let c = kiln::matmul(&a, &b).unwrap();
    let mut sess = Session::new(&g);
    let call = sess.make_callable(&[&c], &[&a, &b]).unwrap();
    (sess, call, rand2(1, m, k, -1.0, 1.0), rand2(2, k, n, -1.0, 1.0))
}

/// Independent FMA chains on 512-bit registers: the core's peak FLOP rate, the ceiling
/// any GEMM here can approach (`None` without AVX-512). Twelve chains cover the FMA
/// latency on two pipes.
#[cfg(target_arch = "x86_64")]
fn peak_fma(iters: usize) -> Option<f32> {
    use std::arch::x86_64::*;
    /// # Safety
    /// The CPU must support AVX-512F (the caller checks).
    #[target_feature(enable = "avx512f")]
    unsafe fn chains(iters: usize) -> f32 {
        let mut acc = [_mm512_set1_ps(0.0); 12];
        let (a, b) = (_mm512_set1_ps(0.999), _mm512_set1_ps(0.001));
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let s = acc.iter().fold(_mm512_set1_ps(0.0), |s, x| _mm512_add_ps(s, *x));
        _mm512_reduce_add_ps(s)
    }
    // SAFETY: the feature was detected at run time
    is_x86_feature_detected!("avx512f").then(|| unsafe { chains(iters) })
}

#[cfg(not(target_arch = "x86_64"))]
fn peak_fma(_: usize) -> Option<f32> {
    None
}

fn gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm/256x784x1024");
    group.sample_size(20);
    // elements are FLOPs: criterion prints GFLOP/s as Gelem/s
    group.throughput(Throughput::Elements(2 * 256 * 784 * 1024));
    let (mut sess, mut call, a, b) = matmul_callable(256, 784, 1024);
    let feeds = [a.view().into_dyn(), b.view().into_dyn()];
    group.bench_function("kiln", |bch| bch.iter(|| call.run(&mut sess, black_box(&feeds)).unwrap()));
    group.bench_function("ndarray_dot", |bch| bch.iter(|| black_box(&a).dot(black_box(&b))));
    let iters = 100_000;
    if peak_fma(1).is_some() {
        group.throughput(Throughput::Elements((iters * 12 * 16 * 2) as u64));
        group.bench_function("peak_fma_avx512", |bch| bch.iter(|| peak_fma(black_box(iters))));
    }
    group.finish();

    // output layers: every column is a tail column of the micro-kernel's 4-wide blocks
    let mut group = c.benchmark_group("gemm/narrow");
    for (m, k, n) in [(64usize, 64usize, 2usize), (64, 64, 1), (2000, 32, 2)] {
        let (mut sess, mut call, a, b) = matmul_callable(m, k, n);
        let feeds = [a.view().into_dyn(), b.view().into_dyn()];
        let id = format!("{m}x{k}x{n}");
        group.bench_function(BenchmarkId::new("kiln", &id), |bch| {
            bch.iter(|| call.run(&mut sess, black_box(&feeds)).unwrap())
        });
        group.bench_function(BenchmarkId::new("ndarray_dot", &id), |bch| bch.iter(|| black_box(&a).dot(black_box(&b))));
    }
    group.finish();

    // the CLIF micro-kernel against the library, to place the crossover
    let mut group = c.benchmark_group("gemm/crossover");
    for s in [16usize, 32, 48, 64, 96, 128] {
        let (_, _, a, b) = matmul_callable(s, s, s);
        let g = Graph::new();
        let pa = g.placeholder(DType::F32, [s, s], "a").unwrap();
        let pb = g.placeholder(DType::F32, [s, s], "b").unwrap();
        let pc = kiln::matmul(&pa, &pb).unwrap();
        let sched = kiln::passes::fusion::run(&g.module(), &[pc.value().unwrap()], &Default::default()).unwrap();
        let abi = kiln::passes::abi::run(&sched);
        let (_jit, kernels) = kiln::codegen::compile(&sched, &abi, &Default::default()).unwrap();
        let mut out = Array2::<f32>::zeros((s, s));
        // the block as the ABI lays it out
        let g = abi.calls[0].gemm.expect("a GEMM call");
        let mut args = vec![0i64; abi.calls[0].slots.len()];
        for (at, x) in [
            (g.a, a.as_ptr() as i64),
            (g.b, b.as_ptr() as i64),
            (g.c, out.as_mut_ptr() as i64),
            (g.m, s as i64),
            (g.k, s as i64),
            (g.n, s as i64),
            (g.rsa, s as i64),
            (g.csa, 1),
            (g.rsb, s as i64),
            (g.csb, 1),
        ] {
            args[at] = x;
        }
        let f = kernels[0].func;
        group.bench_with_input(BenchmarkId::new("clif", s), &s, |bch, _| {
            // SAFETY: the block holds pointers to a, b and out with their extents and strides.
            bch.iter(|| unsafe { f(black_box(args.as_ptr())) })
        });
        group.bench_with_input(BenchmarkId::new("matrixmultiply", s), &s, |bch, _| {
            // SAFETY: the pointers address s x s matrices with the strides given.
            bch.iter(|| unsafe {
                matrixmultiply::sgemm(
                    s,
                    s,
                    s,
                    1.0,
                    a.as_ptr(),
                    s as isize,
                    1,
                    b.as_ptr(),
                    s as isize,
                    1,
                    0.0,
                    out.as_mut_ptr(),
                    s as isize,
                    1,
                )
            })
        });
    }
    group.finish();
}

fn elementwise(c: &mut Criterion) {
    let n = 4 << 20;
    let mut group = c.benchmark_group("elementwise/chain_4m");
    group.sample_size(20);
    let xs = ArrayD::from_shape_fn(IxDyn(&[n]), |i| (i[0] % 2000) as f32 / 500.0 - 2.0);
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [n], "x").unwrap();
    let yv = kiln::tanh(&(1.5 * &x + 0.5)).unwrap() * kiln::sigmoid(&x).unwrap() - 0.25 * kiln::square(&x).unwrap();
    let mut sess = Session::new(&g);
    let mut call = sess.make_callable(&[&yv], &[&x]).unwrap();
    let feeds = [xs.view()];
    group.bench_function("kiln_jit", |b| b.iter(|| call.run(&mut sess, black_box(&feeds)).unwrap()));
    group.bench_function("ndarray_unfused", |b| {
        b.iter(|| {
            let x = black_box(&xs);
            let t = (x * 1.5 + 0.5).mapv(f32::tanh);
            let s = x.mapv(|v| 1.0 / (1.0 + (-v).exp()));
            &t * &s - x.mapv(|v| 0.25 * v * v)
        })
    });
    let mut out = vec![0f32; n];
    group.bench_function("rust_loop", |b| {
        b.iter(|| {
            for (o, &v) in out.iter_mut().zip(black_box(xs.as_slice().unwrap())) {
                *o = (1.5 * v + 0.5).tanh() * (1.0 / (1.0 + (-v).exp())) - 0.25 * v * v;
            }
        })
    });
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile/sine_train");
    group.sample_size(20);
    group.bench_function("graph_to_callable", |b| {
        b.iter(|| {
            let (g, x, y, loss, train) = kiln_mlp(&[1, 20, 20, 1], false);
            let mut sess = Session::new(&g);
            black_box(sess.make_callable(&[&train, &loss], &[&x, &y]).unwrap());
        })
    });
    group.finish();
}

criterion_group!(benches, train_step_sine, train_step_mlp784, gemm, elementwise, compile);
criterion_main!(benches);
