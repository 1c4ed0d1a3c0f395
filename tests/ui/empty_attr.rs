use weakling::{Gc, Trace};

#[derive(Trace)]
struct Node {
    #[trace()]
    next: Option<Gc<Node>>,
}

fn main() {}
