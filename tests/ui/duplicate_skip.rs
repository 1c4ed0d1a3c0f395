use weakling::{Gc, Trace};

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    #[trace(skip)]
    next: Option<Gc<Node>>,
}

fn main() {}
