use weakling::Trace;

// A non-'static borrow is not Trace: only `&'static T` is (it owns nothing).
#[derive(Trace)]
struct View<'a> {
    name: &'a str,
}

fn main() {}
