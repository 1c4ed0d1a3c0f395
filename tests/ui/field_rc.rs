use std::rc::Rc;
use weakling::Trace;

#[derive(Trace)]
struct Shared {
    data: Rc<u8>,
}

fn main() {}
