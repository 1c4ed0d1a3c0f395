//! A collection that cannot stop the world gives up without freeing anything.
//!
//! Its own test binary: the world is stopped process-wide, so a thread that holds a cell for
//! writing on purpose would delay the collections of every other test in the same process.

mod common;

use common::{link, node, quiet_heap, DropCounter};

#[test]
fn a_cell_held_for_writing_too_long_by_another_thread_abandons_the_collection() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let garbage = node(&heap, "garbage", &drops);
    link(&garbage, &garbage);
    drop(garbage);
    let holder = node(&heap, "holder", &drops);
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let h = holder.clone();
    let writer = std::thread::spawn(move || {
        let _guard = h.edges.write();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    locked_rx.recv().unwrap();
    let c = heap.collect_generation(2);
    assert!(c.abandoned);
    assert_eq!((c.unreachable, drops.get()), (0, 0), "nothing is freed without a full stop");
    assert!(heap.collection_stats()[2].abandoned > 0);
    release_tx.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(heap.collect(), 1);
    assert_eq!(holder.name, "holder");
    drop(holder);
}
