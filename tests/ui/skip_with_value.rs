use weakling::{Gc, Trace};

#[derive(Trace)]
struct Node {
    #[trace(skip = 1)]
    next: Option<Gc<Node>>,
}

fn main() {}
