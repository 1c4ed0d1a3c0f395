//! `weakref.proxy`: use the object through a weak reference, and get a clear error once it
//! is gone (seed 003, "proxy: a transparent weak reference").
//!
//! ```python
//! class Data:
//!     def __init__(self, value):
//!         self.value = value
//!     def get(self):
//!         return self.value
//!
//! obj = Data(42)
//! proxy = weakref.proxy(obj)
//! print(proxy.value)   # 42
//! print(proxy.get())   # 42
//! del obj
//! print(proxy.value)   # ReferenceError: weakly-referenced object no longer exists
//! ```
//!
//! Rust has no transparent attribute forwarding, so `WeakProxy::with` runs a closure on the
//! object and returns a `Result`: `Ok` while it lives, `Err(ReferenceError)` after, which `?`
//! passes up like Python's exception.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::{Gc, ReferenceError, WeakProxy};

struct Data {
    value: u32,
}

impl Data {
    fn get(&self) -> u32 {
        self.value
    }
}

/// `proxy.value + proxy.get()`, with the error passed up by `?`.
fn sum(proxy: &WeakProxy<Data>) -> Result<u32, ReferenceError> {
    Ok(proxy.with(|d| d.value)? + proxy.with(Data::get)?)
}

fn main() {
    println!(">>> obj = Data(42)");
    let obj = Gc::new_leaf(Data { value: 42 });
    println!(">>> proxy = weakref.proxy(obj)");
    let proxy = WeakProxy::new(&obj);
    println!(">>> print(proxy.value)");
    match proxy.with(|d| d.value) {
        Ok(v) => println!("{v}"),
        Err(e) => println!("ReferenceError: {e}"),
    }
    println!(">>> print(proxy.get())");
    match proxy.with(Data::get) {
        Ok(v) => println!("{v}"),
        Err(e) => println!("ReferenceError: {e}"),
    }
    println!(">>> print(proxy.value + proxy.get())");
    println!("{:?}", sum(&proxy));
    println!(">>> del obj");
    drop(obj);
    println!(">>> print(proxy.value)");
    match proxy.with(|d| d.value) {
        Ok(v) => println!("{v}"),
        Err(e) => println!("ReferenceError: {e}"),
    }
    println!(">>> print(proxy.value + proxy.get())");
    match sum(&proxy) {
        Ok(v) => println!("{v}"),
        Err(e) => println!("ReferenceError: {e}"),
    }
}
