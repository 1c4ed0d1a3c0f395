//! `weakref.finalize`: a clean-up callback that runs when an object dies (seed 003, "finalize:
//! clean-up callback"), then the rest of its interface.
//!
//! ```python
//! class Resource:
//!     def __init__(self, name):
//!         self.name = name
//!
//! def cleanup(name):
//!     print(f"Cleaning up {name}")
//!
//! obj = Resource("data")
//! weakref.finalize(obj, cleanup, obj.name)
//!
//! del obj
//! # Cleaning up data
//! ```
//!
//! The callback receives the name, not the object: a finalizer that held its own object
//! would keep it alive. `finalize_with` passes such state separately, as Python's `*args`, and
//! warns when the state reaches the object. Going past the seed: `alive`, `call`, `detach`,
//! several finalizers on one object (newest first), and shutdown, which runs the finalizers
//! still alive whose `atexit` flag is set; Rust runs no destructors for statics, so `main`
//! holds a `ShutdownGuard` for that.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::{finalize, finalize_with, Gc, ShutdownGuard};

struct Resource {
    name: String,
}

fn cleanup(name: String) {
    println!("Cleaning up {name}");
}

fn main() {
    // Objects that live to the end of `main`; declared first, so dropped after the guard.
    let mut alive_at_exit = Vec::new();
    // Python runs the remaining at-exit finalizers when the interpreter exits.
    let _exit = ShutdownGuard::new();

    println!(">>> obj = Resource(\"data\")");
    let obj = Gc::new_leaf(Resource { name: "data".into() });
    println!(">>> f = weakref.finalize(obj, cleanup, obj.name)");
    let f = finalize_with(&obj, obj.name.clone(), cleanup);
    println!(">>> f.alive");
    println!("{}", f.alive());
    println!(">>> del obj");
    drop(obj);
    println!(">>> f.alive");
    println!("{}", f.alive());

    println!("# call() runs it early, once");
    let obj = Gc::new_leaf(Resource { name: "early".into() });
    let name = obj.name.clone();
    let f = finalize(&obj, move || {
        cleanup(name);
        "done"
    });
    println!(">>> f()");
    println!("{:?}", f.call());
    println!(">>> f()");
    println!("{:?}", f.call());
    println!(">>> del obj");
    drop(obj);

    println!("# detach() unregisters it and hands back the object and callback");
    let obj = Gc::new_leaf(Resource { name: "kept".into() });
    let f = finalize(&obj, || println!("never printed"));
    println!(">>> obj2, func = f.detach()[:2]; obj2 is obj");
    let (back, _callback) = f.detach().expect("alive");
    println!("{}", Gc::ptr_eq(&back, &obj));
    println!(">>> del obj, obj2");
    drop((back, obj));

    println!("# several finalizers on one object run newest first");
    let obj = Gc::new_leaf(Resource { name: "shared".into() });
    for n in 1..=3 {
        // Dropping the handle does not unregister the finalizer.
        let _ = finalize(&obj, move || println!("finalizer {n}"));
    }
    println!(">>> del obj");
    drop(obj);

    println!("# at exit: the finalizers still alive run, newest first");
    for name in ["first", "second"] {
        let obj = Gc::new_leaf(Resource { name: name.into() });
        let _ = finalize_with(&obj, obj.name.clone(), |name| println!("at exit: {name}"));
        alive_at_exit.push(obj);
    }
    println!(">>> exit()");
}
