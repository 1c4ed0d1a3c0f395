use weakling::{Referents, Trace};

// The derive bounds `T: Trace`, so Wrapper<T> is Trace only when T is.
#[derive(Trace)]
struct Wrapper<T> {
    inner: T,
}

struct Plain;

fn main() {
    let _ = Referents::of(&Wrapper { inner: Plain });
}
