//! The schedule has the IR's discipline: it prints whole (snapshots), every schedule
//! fusion makes verifies, and a corrupted one is refused by the verifier and by codegen
//! with a message naming the step and the broken invariant.

use kiln::ir;
use kiln_passes::fusion::{self, FusionOptions};
use kiln_passes::pipeline::{optimize, PipelineOptions};
use kiln_passes::schedule::{self, Node, Origin, Schedule, Step, Stride, Why};

fn fuse(text: &str, roots: &[&str]) -> Schedule {
    let m = ir::parse(text).unwrap();
    let roots: Vec<_> = roots.iter().map(|r| m.value_by_name(r).unwrap()).collect();
    let opt = optimize(&m, &roots, &PipelineOptions { verify: true, ..Default::default() }).unwrap();
    fusion::run(&opt.module, &opt.roots, &FusionOptions::default()).unwrap()
}

/// A dense layer with a bias and ReLU, a loss, and an SGD update: a GEMM with an
/// epilogue, a reduction, an in-place update.
const LAYER: &str = "module {
  var @w : f32[4,3] trainable
  %x = parameter : f32[?0,4]
  %w = read @w : f32[4,3]
  %h = matmul %x, %w : f32[?0,3]
  %c = constant [0.5] : f32[]
  %cb = broadcast %c {dims=[]} : f32[?0,3]
  %y = add %h, %cb : f32[?0,3]
  %r = relu %y : f32[?0,3]
  %l = reduce_mean %r {axes=[0,1], keepdims=false} : f32[]
  %wt = transpose %w {perm=[1,0]} : f32[3,4]
  %s = reduce_sum %wt {axes=[0], keepdims=false} : f32[4]
  %sb = broadcast %s {dims=[0]} : f32[4,3]
  %lr = constant [0.1] : f32[]
  %lrb = broadcast %lr {dims=[]} : f32[4,3]
  %d = mul %sb, %lrb : f32[4,3]
  %new = sub %w, %d : f32[4,3]
  %up = assign @w, %new : ()
}
";

fn layer() -> Schedule {
    fuse(LAYER, &["l", "up"])
}

#[test]
fn a_schedule_prints_whole() {
    let s = layer();
    schedule::verify(&s).unwrap();
    insta::assert_snapshot!(s.print());
}

#[test]
fn provenance_is_ir_values() {
    let s = layer();
    let m = &s.module;
    let all: Vec<Origin> =
        s.steps.iter().flat_map(|st| if let Step::Loop(k) = st { k.provenance.clone() } else { vec![] }).collect();
    assert!(!all.is_empty());
    for o in &all {
        // every origin is a value of the schedule's module, not a string to look up
        assert!(o.value().index() < m.ops.len());
    }
    assert!(all.contains(&Origin::Op(m.value_by_name("r").unwrap())), "{all:?}");
}

#[test]
fn every_decision_against_fusing_is_a_typed_refusal() {
    let s = layer();
    let m = &s.module;
    // %h feeds the matmul's epilogue only, so it is not stored; %w is read by the GEMM
    // and the update kernel; the transposed read of %w is a view, never copied here
    for r in &s.refusals {
        assert!(r.value.index() < m.ops.len());
        assert!(!r.print(m).is_empty());
    }
    // fusion off: every elementwise op stored, each said once
    let m2 = ir::parse(LAYER).unwrap();
    let roots: Vec<_> = ["l", "up"].iter().map(|r| m2.value_by_name(r).unwrap()).collect();
    let opt = optimize(&m2, &roots, &PipelineOptions::default()).unwrap();
    let off = fusion::run(&opt.module, &opt.roots, &FusionOptions { fuse: false }).unwrap();
    schedule::verify(&off).unwrap();
    let stored_off = off.refusals.iter().filter(|r| r.why == Why::FusionOff).count();
    let elementwise = opt.module.values().filter(|&v| opt.module.op(v).kind.is_elementwise()).count();
    assert!(stored_off > 0 && stored_off <= elementwise, "{stored_off} of {elementwise}");
}

#[test]
fn every_committed_model_schedules_and_verifies() {
    for entry in std::fs::read_dir("examples/models").unwrap() {
        let path = entry.unwrap().path();
        let m = ir::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // fetch every op nothing else uses
        let used: std::collections::HashSet<_> = m.values().flat_map(|v| m.op(v).operands.clone()).collect();
        let roots: Vec<_> = m.values().filter(|v| !used.contains(v)).collect();
        let opt = optimize(&m, &roots, &PipelineOptions::default()).unwrap();
        for fuse in [true, false] {
            let s = fusion::run(&opt.module, &opt.roots, &FusionOptions { fuse }).unwrap();
            schedule::verify(&s).unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), s.print()));
        }
    }
}

/// Breaks `s` with `f`; the verifier and codegen must both refuse it with `expect`.
fn refused(what: &str, expect: &str, f: impl FnOnce(&mut Schedule)) {
    let mut s = layer();
    f(&mut s);
    let err = schedule::verify(&s).expect_err(what).to_string();
    assert!(err.contains(expect), "{what}: {err}");
    let abi = kiln_passes::abi::run(&s);
    let cg = kiln_codegen::compile(&s, &abi, &Default::default()).err().expect(what);
    assert!(cg.to_string().contains(expect), "{what}: codegen said {cg}");
}

fn first_loop(s: &mut Schedule) -> &mut kiln_passes::schedule::LoopKernel {
    s.steps.iter_mut().find_map(|st| if let Step::Loop(k) = st { Some(k) } else { None }).unwrap()
}

#[test]
fn corrupted_schedules_are_refused() {
    refused("steps out of order", "before any step writes it", |s| s.steps.reverse());
    refused("a buffer gone", "has no buffer", |s| {
        let i = s.buffers.iter().position(|b| b.kind == kiln_passes::schedule::BufKind::Temp).unwrap();
        s.buffers.remove(i);
    });
    refused("a stride past the end", "reaches element", |s| {
        let k = first_loop(s);
        let n = &mut k.nests[0];
        let i = n.inputs.iter().position(|a| a.strides.iter().any(|x| x.known() == Some(1))).unwrap();
        n.inputs[i].strides = n.inputs[i].strides.iter().map(|_| Stride::Prod(vec![ir::Dim::Fixed(1000)])).collect();
        // a space of fixed extents, so the reach is known
        n.space = n.space.iter().map(|_| ir::Dim::Fixed(2)).collect();
    });
    refused("a node used before it is computed", "does not come before it", |s| {
        let n = &mut first_loop(s).nests[0];
        let last = n.nodes.len();
        n.nodes[0] = Node::Unary(ir::UnaryOp::Neg, last);
    });
    refused("a node of the wrong type", "does not follow", |s| {
        let n = &mut first_loop(s).nests[0];
        n.types[0] = ir::DType::I32;
    });
    // a node the dtype table says kernels do not compute: exp of an integer
    refused("an op a kernel does not compute for its dtype", "kernels do not compute it", |s| {
        let n = &mut first_loop(s).nests[0];
        let i = n.nodes.len();
        n.nodes.push(Node::Iota(0));
        n.types.push(ir::DType::I32);
        n.nodes.push(Node::Unary(ir::UnaryOp::Exp, i));
        n.types.push(ir::DType::I32);
    });
    refused("a load of a missing input", "does not exist", |s| {
        let n = &mut first_loop(s).nests[0];
        n.nodes[0] = Node::Load(99);
    });
    refused("a step run twice", "an earlier step wrote", |s| {
        let st = s.steps.iter().find(|st| matches!(st, Step::MatMul(_))).unwrap().clone();
        s.steps.push(st);
    });
    refused("a write to a variable's buffer", "not a temporary", |s| {
        let w = s.module.value_by_name("w").unwrap();
        let n = &mut first_loop(s).nests[0];
        n.outputs[0].value = w;
    });
    refused("a value out of the module", "no such value", |s| {
        s.roots.push(ir::ValueId(1_000_000));
    });
}

#[test]
fn f64_graphs_schedule_their_interpreter_steps() {
    // f64 constants and variables are computed by interpreter steps into their own buffers
    let g = kiln::Graph::new();
    let x = g.constant(ndarray::arr2(&[[1.0f64], [2.0]])).unwrap();
    let y = g.constant(ndarray::arr2(&[[3.0f64, 4.0]])).unwrap();
    let w = g.get_variable("w", &[2, 2], kiln::DType::F64, kiln::Initializer::Ones).unwrap();
    let z = &(&x + &y) * &w;
    let gr = kiln::gradients(&[&z], &[&w]).unwrap();
    let mut sess = kiln::Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let r = sess.run(&[&z, gr[0].as_ref().unwrap()], &[]).unwrap();
    assert_eq!(r[0].as_f64().unwrap().iter().copied().collect::<Vec<_>>(), vec![4.0, 5.0, 5.0, 6.0]);
    assert_eq!(sess.run_counts().1, 0, "the runs went through compiled executables");
    let s = sess.schedule_of(&[&z, gr[0].as_ref().unwrap()]).unwrap();
    schedule::verify(s).unwrap();
}

#[test]
fn merged_sibling_kernels_do_not_close_a_cycle() {
    // Found by a random conformance graph: a value read by one kernel directly and by a
    // second through a view, where the second also computes (as a merged sibling
    // reduction) a value the first reads. A walk over values alone saw no cycle; the
    // kernels depended on each other, and the steps of the cycle were dropped.
    let text = include_str!("fixtures/fusion_sibling_cycle.kir");
    let s = fuse(text, &["add_10", "gradients/add_10"]);
    schedule::verify(&s).unwrap();
    let g = kiln::Graph::parse_ir(text).unwrap();
    let fetch = [g.get_tensor_by_name("add_10").unwrap(), g.get_tensor_by_name("gradients/add_10").unwrap()];
    let refs: Vec<&kiln::Tensor> = fetch.iter().collect();
    let run = |backend| {
        let opts = kiln::SessionOptions { backend, ..Default::default() };
        kiln::Session::with_options(&g, opts).run(&refs, &[]).unwrap()
    };
    let (jit, interp) = (run(kiln::Backend::Jit), run(kiln::Backend::Interpreter));
    for (a, b) in jit.iter().zip(&interp) {
        let (a, b) = (a.as_f32().unwrap(), b.as_f32().unwrap());
        assert!(a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs())), "{a} vs {b}");
    }
}
