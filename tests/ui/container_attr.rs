use weakling::{Gc, Trace};

#[derive(Trace)]
#[trace(skip)]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
