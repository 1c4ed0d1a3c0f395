use weakling::{Gc, Trace};

// Both bad attributes are reported in one build.
#[derive(Trace)]
struct Node {
    #[trace(bogus)]
    next: Option<Gc<Node>>,
    #[trace(skip, rename = "x")]
    prev: Option<Gc<Node>>,
}

fn main() {}
