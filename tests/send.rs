//! Graphs, tensors and sessions cross threads (Python threads with the GIL released,
//! PyO3 classes, Ray actors): checked at compile time, and a graph built from two
//! threads at once stays consistent.

use kiln::{DType, Graph, Session, Tensor};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn graphs_tensors_and_sessions_are_send() {
    send_sync::<Graph>();
    send_sync::<Tensor>();
    send::<Session>();
}

#[test]
fn two_threads_build_into_one_graph() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let x = x.clone();
            std::thread::spawn(move || {
                let mut y = x.clone();
                for _ in 0..500 {
                    y = &y + (t as f32 + 1.0);
                }
                y
            })
        })
        .collect();
    let ys: Vec<Tensor> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // a session on a third thread runs both chains
    let out = std::thread::spawn(move || {
        let mut sess = Session::new(&g);
        let feed = vec![0.0f32, 1.0];
        let r = sess.run(&[&ys[0], &ys[1]], &[(&x, feed.into())]).unwrap();
        (
            r[0].as_f32().unwrap().iter().copied().collect::<Vec<f32>>(),
            r[1].as_f32().unwrap().iter().copied().collect::<Vec<f32>>(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(out.0, vec![500.0, 501.0]);
    assert_eq!(out.1, vec![1000.0, 1001.0]);
}
