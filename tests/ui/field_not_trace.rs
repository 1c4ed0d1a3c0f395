use weakling::{Gc, Trace};

// Holds no handle, but nothing says so: it has no Trace impl.
struct Plain {
    n: u32,
}

#[derive(Trace)]
struct Node {
    payload: Plain,
    next: Option<Gc<u32>>,
}

fn main() {}
