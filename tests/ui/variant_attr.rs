use weakling::{Gc, Trace};

#[derive(Trace)]
enum Link {
    End,
    #[trace(skip)]
    Next(Gc<u32>),
}

fn main() {}
