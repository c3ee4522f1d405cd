//! The buffer planning pass, text in and text out: each case is IR text, fused, and
//! the plan the pass must print (slots with their members, then buffers that live
//! elsewhere).

use kiln::ir;
use kiln_passes::buffer_plan::{self, PlanOptions};
use kiln_passes::fusion::{self, FusionOptions};
use kiln_passes::pipeline::{optimize, PipelineOptions};

fn plan(text: &str, roots: &[&str], opts: PlanOptions) -> String {
    let m = ir::parse(text).unwrap();
    let roots: Vec<_> = roots.iter().map(|r| m.value_by_name(r).unwrap()).collect();
    let opt = optimize(&m, &roots, &PipelineOptions { verify: true, ..Default::default() }).unwrap();
    let s = fusion::run(&opt.module, &opt.roots, &FusionOptions::default()).unwrap();
    buffer_plan::run(&s, opts).print(&s)
}

const MLP: &str = "module {
  %x = parameter : f32[?0,8]
  %w0 = constant [0.5] : f32[]
  %w0b = broadcast %w0 {dims=[]} : f32[8,16]
  %h = matmul %x, %w0b : f32[?0,16]
  %r = relu %h : f32[?0,16]
  %w1 = constant [0.25] : f32[]
  %w1b = broadcast %w1 {dims=[]} : f32[16,16]
  %h1 = matmul %r, %w1b : f32[?0,16]
  %r1 = relu %h1 : f32[?0,16]
  %h2 = matmul %r1, %w1b : f32[?0,16]
  %r2 = relu %h2 : f32[?0,16]
  %s = reduce_sum %r2 {axes=[0,1], keepdims=false} : f32[]
}
";

#[test]
fn dead_intermediates_share_slots_of_their_shape() {
    let out = plan(MLP, &["s"], PlanOptions::default());
    insta::assert_snapshot!(out);
}

#[test]
fn no_reuse_gives_every_buffer_its_own_slot() {
    let out = plan(MLP, &["s"], PlanOptions { no_reuse: true });
    insta::assert_snapshot!(out);
}

/// SGD on a variable: the update is computed in the variable's storage; fetching the
/// variable as well keeps its old value in a snapshot slot instead.
const SGD: &str = "module {
  var @w : f32[4] trainable
  %x = parameter : f32[?0,4]
  %w = read @w : f32[4]
  %wb = broadcast %w {dims=[1]} : f32[?0,4]
  %d = sub %x, %wb : f32[?0,4]
  %g = reduce_mean %d {axes=[0], keepdims=false} : f32[4]
  %lr = constant [0.1] : f32[]
  %lrb = broadcast %lr {dims=[]} : f32[4]
  %step = mul %g, %lrb : f32[4]
  %new = add %w, %step : f32[4]
  %up = assign @w, %new : ()
}
";

#[test]
fn an_update_is_computed_in_its_variable() {
    let out = plan(SGD, &["up"], PlanOptions::default());
    insta::assert_snapshot!(out);
}

#[test]
fn a_fetched_variable_is_snapshotted_and_not_updated_in_place() {
    let out = plan(SGD, &["up", "w"], PlanOptions::default());
    insta::assert_snapshot!(out);
}
