//! The async front never blocks the runtime: a single-threaded runtime keeps running other
//! tasks while a durable write waits on a sync that is held shut.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sessiondb::io::MemFs;
use sessiondb::{Options, SessionStore, Store, UpdateStateChange};

#[test]
fn a_current_thread_runtime_keeps_ticking_while_a_sync_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let options = Options {
        fs: Some(Arc::new(fs.clone())),
        ..Options::default()
    };
    let store: Arc<dyn SessionStore> =
        Arc::new(Store::open_with(dir.path().join("bot"), options).unwrap());

    // A gate the writer's sync waits on; a watchdog opens it if the test deadlocks.
    let gate = Arc::new((Mutex::new(true), Condvar::new()));
    let in_sync = Arc::new(AtomicBool::new(false));
    let (g, s) = (gate.clone(), in_sync.clone());
    fs.set_sync_hook(Some(Arc::new(move |_| {
        s.store(true, Ordering::SeqCst);
        let mut closed = g.0.lock().unwrap();
        while *closed {
            closed = g.1.wait(closed).unwrap();
        }
        Ok(())
    })));
    let watchdog_fired = Arc::new(AtomicBool::new(false));
    let (g, w) = (gate.clone(), watchdog_fired.clone());
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        w.store(true, Ordering::SeqCst);
        *g.0.lock().unwrap() = false;
        g.1.notify_all();
    });

    let ticks = Arc::new(AtomicU32::new(0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let write = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .set_update_state(
                        "default",
                        UpdateStateChange::Primary {
                            pts: 1,
                            date: 1,
                            seq: 1,
                        },
                    )
                    .await
            })
        };
        // On this same thread: wait for the writer to be stuck in its sync, then tick.
        while !in_sync.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        for _ in 0..1000 {
            ticks.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
        }
        assert!(
            !write.is_finished(),
            "the durable write cannot finish before its sync"
        );
        *gate.0.lock().unwrap() = false;
        gate.1.notify_all();
        write.await.unwrap().unwrap();
    });
    assert!(
        !watchdog_fired.load(Ordering::SeqCst),
        "the runtime was blocked"
    );
    assert_eq!(ticks.load(Ordering::SeqCst), 1000);
    fs.set_sync_hook(None);
}
