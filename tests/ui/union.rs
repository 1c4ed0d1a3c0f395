// A union cannot be traced: nothing says which field holds a value.
use weakling::Trace;

#[derive(Trace)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
