//! `GcCell<T>`: interior mutability for edges, and what the collector sees of it.

mod common;

use std::sync::{Arc, Mutex};

use weakling::{Gc, GcCell, Referents, Trace};

#[test]
fn reads_writes_and_convenience_methods() {
    let cell = GcCell::new(vec![1, 2]);
    cell.write().push(3);
    assert_eq!(*cell.read(), [1, 2, 3]);
    assert_eq!(cell.get(), [1, 2, 3]);
    assert_eq!(cell.replace(vec![9]), [1, 2, 3]);
    assert_eq!(cell.take(), [9]);
    assert!(cell.read().is_empty());
    cell.set(vec![4]);
    let mut cell = cell;
    cell.get_mut().push(5);
    assert_eq!(cell.into_inner(), [4, 5]);
    let from: GcCell<u8> = 7.into();
    assert_eq!(format!("{from:?}"), "GcCell(7)");
}

#[test]
fn try_access_never_blocks() {
    let cell = GcCell::new(1);
    {
        let _w = cell.write();
        assert!(cell.try_read().is_none());
        assert!(cell.try_write().is_none());
        assert_eq!(format!("{cell:?}"), "GcCell(<locked>)");
    }
    let r1 = cell.try_read().unwrap();
    let r2 = cell.try_read().unwrap();
    assert_eq!(*r1 + *r2, 2);
    assert!(cell.try_write().is_none());
}

#[derive(Trace)]
struct Holder {
    slot: GcCell<Option<Gc<Holder>>>,
}

#[test]
fn tracing_sees_the_contents_or_reports_a_locked_cell_as_opaque() {
    let inner = Gc::new(Holder { slot: GcCell::new(None) });
    let outer = Holder { slot: GcCell::new(Some(inner.clone())) };
    let seen = Referents::of(&outer);
    assert_eq!(seen.count(&inner), 1);
    assert!(!seen.is_opaque());
    let _guard = outer.slot.write();
    let seen = Referents::of(&outer);
    assert!(seen.is_empty());
    assert!(seen.is_opaque(), "a cell locked for writing, here by this very thread");
}

#[test]
fn tracing_a_cell_that_another_thread_writes_is_opaque_not_blocking() {
    let cell = Arc::new(GcCell::new(Some(Gc::new(1_u32))));
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let c = cell.clone();
    let writer = std::thread::spawn(move || {
        let _w = c.write();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    locked_rx.recv().unwrap();
    assert!(Referents::of(&*cell).is_opaque());
    release_tx.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(Referents::of(&*cell).len(), 1);
}

#[test]
fn the_old_value_drops_after_the_lock_is_released() {
    // The old value's Drop uses the very cell being set: it must not deadlock.
    type Slot = Arc<GcCell<Option<Reenter>>>;
    struct Reenter(Arc<Mutex<Option<Slot>>>);
    impl Drop for Reenter {
        fn drop(&mut self) {
            if let Some(cell) = self.0.lock().unwrap().take() {
                assert!(
                    cell.try_read().is_some(),
                    "the cell is unlocked while the old value drops"
                );
                cell.set(None);
            }
        }
    }
    let cell = Arc::new(GcCell::new(None));
    let back = Arc::new(Mutex::new(Some(cell.clone())));
    cell.set(Some(Reenter(back)));
    cell.set(None);
    assert!(cell.read().is_none());
}
