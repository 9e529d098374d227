//! Model-based test: random operation sequences, with clean reopens and power cuts mixed in,
//! against the store and the reference model. After every step every read must match the
//! model; after a power cut, only what the DESIGN's visibility rule allows may be missing
//! (writes acknowledged without a sync: buffered peers).
//!
//! `SESSIONDB_SEQUENCES` sets the number of sequences (default 150).

mod model;

use std::sync::Arc;

use model::{Model, Op, Rng, issue, random_op, read_store};
use sessiondb::io::MemFs;
use sessiondb::{Options, Store};

fn open(dir: &std::path::Path, fs: &MemFs) -> Store {
    let options = Options {
        fs: Some(Arc::new(fs.clone())),
        checkpoint_records: 25,
        segment_bytes: 2048,
        cache_size: 1 << 20,
        ..Options::default()
    };
    Store::open_with(dir.join("bot"), options).unwrap()
}

#[test]
fn random_sequences_match_the_model_after_every_step() {
    let sequences: u64 = std::env::var("SESSIONDB_SEQUENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let dir = tempfile::tempdir().unwrap();
    let (mut steps, mut reopens, mut cuts) = (0u64, 0u64, 0u64);
    for seed in 1..=sequences {
        let mut rng = Rng(seed * 7919);
        let mut fs = MemFs::new();
        let mut store = open(dir.path(), &fs);
        let mut model = Model::default();
        // Writes acknowledged since the last sync, oldest first: what a power cut may drop.
        let mut unsynced: Vec<Op> = Vec::new();
        let mut synced = Model::default();
        for step in 0..120 {
            steps += 1;
            match rng.below(100) {
                0..=3 => {
                    reopens += 1;
                    if rng.chance(50) {
                        store.close().unwrap();
                    }
                    drop(store);
                    store = open(dir.path(), &fs);
                    // Close checkpoints and drop flushes: everything is durable now.
                    synced = model.clone();
                    unsynced.clear();
                }
                4..=6 => {
                    cuts += 1;
                    let image = fs.power_cut(&mut |_, _| false);
                    drop(store);
                    fs = image;
                    store = open(dir.path(), &fs);
                    let got = read_store(&store).unwrap();
                    let mut candidate = synced.clone();
                    let mut matched = candidate == got;
                    for op in &unsynced {
                        if matched {
                            break;
                        }
                        candidate.apply(op);
                        matched = candidate == got;
                    }
                    assert!(
                        matched,
                        "seed {seed} step {step}: the cut lost more than unsynced writes"
                    );
                    model = got;
                    synced = model.clone();
                    unsynced.clear();
                }
                _ => {
                    let op = random_op(&mut rng);
                    issue(&store, &op)
                        .unwrap_or_else(|e| panic!("seed {seed} step {step}: {op:?}: {e}"));
                    model.apply(&op);
                    if op.syncs() {
                        synced = model.clone();
                        unsynced.clear();
                    } else {
                        unsynced.push(op);
                    }
                }
            }
            let got = read_store(&store).unwrap();
            assert!(
                got == model,
                "seed {seed} step {step}: the store and the model disagree:\n{got:#?}\n{model:#?}"
            );
        }
        store.close().unwrap();
    }
    eprintln!(
        "{sequences} sequences, {steps} steps, {reopens} reopens, {cuts} power cuts: every read matched"
    );
}
