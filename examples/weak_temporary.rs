//! A weak reference to a temporary dies at once (seed 003, common mistake 2).
//!
//! ```python
//! # wrong: the temporary object disappears immediately
//! ref = weakref.ref(SomeClass())
//! print(ref())  # None (already deleted)
//!
//! # right: keep a strong reference
//! obj = SomeClass()
//! ref = weakref.ref(obj)
//! ```
//!
//! In Rust the temporary `Gc::new(..)` in `Gc::downgrade(&Gc::new(..))` lives until the end
//! of the statement, exactly like Python's unnamed `SomeClass()`: the object is destroyed
//! before the next line runs. The Rust version of the mistake has a twin with callbacks:
//! `let _ = Gc::downgrade_with(&obj, ..)` drops the weak handle at once (`_` is not a
//! binding), which cancels the callback; `let _r = ..` keeps it until the end of the scope.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::{Gc, Trace, Weak};

#[derive(Trace, Debug)]
struct SomeClass {
    label: &'static str,
}

impl Drop for SomeClass {
    fn drop(&mut self) {
        println!("SomeClass({}) destroyed", self.label);
    }
}

/// What Python prints for `ref()`.
fn call(r: &Weak<SomeClass>) -> String {
    match r.upgrade() {
        Some(obj) => format!("{obj:?}"),
        None => "None".to_string(),
    }
}

fn main() {
    println!("# wrong: a weak reference to a temporary");
    println!(">>> ref = weakref.ref(SomeClass())");
    // The temporary is dropped at the end of this statement, so its Drop prints here.
    let r = Gc::downgrade(&Gc::new(SomeClass { label: "temporary" }));
    println!(">>> print(ref())");
    println!("{}", call(&r));

    println!("# right: keep a strong reference in a name");
    println!(">>> obj = SomeClass()");
    let obj = Gc::new(SomeClass { label: "named" });
    println!(">>> ref = weakref.ref(obj)");
    let r = Gc::downgrade(&obj);
    println!(">>> print(ref())");
    println!("{}", call(&r));
    println!(">>> del obj");
    drop(obj);
    println!(">>> print(ref())");
    println!("{}", call(&r));

    println!("# the same mistake with a callback: it runs at the end of the statement");
    println!(">>> ref = weakref.ref(SomeClass(), lambda r: print('callback ran'))");
    let r = Gc::downgrade_with(&Gc::new(SomeClass { label: "temporary" }), |_| {
        println!("callback ran")
    });
    println!(">>> print(ref())");
    println!("{}", call(&r));

    println!("# Rust only: `let _ =` drops the weak handle at once and cancels its callback");
    let obj = Gc::new(SomeClass { label: "watched" });
    let _ = Gc::downgrade_with(&obj, |_| println!("never printed: handle dropped at once"));
    let _kept = Gc::downgrade_with(&obj, |_| println!("callback of `_kept` ran"));
    println!(">>> del obj");
    drop(obj);
}
