use std::cell::Cell;
use weakling::{Gc, Trace, Tracer};

struct Counter {
    hits: Cell<u32>,
}

// SAFETY: owns no handles.
unsafe impl Trace for Counter {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

fn main() {
    // Handles are shared across threads, so the value must be Send + Sync.
    let _ = Gc::new(Counter { hits: Cell::new(0) });
}
