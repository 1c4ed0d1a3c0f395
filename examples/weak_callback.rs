//! Death callbacks: `weakref.ref(obj, callback)` is `Gc::downgrade_with(&obj, callback)`
//! (seed 003, "callback function").
//!
//! ```python
//! class Resource:
//!     def __init__(self, name):
//!         self.name = name
//!
//! def callback(ref):
//!     print(f"Object was garbage collected!")
//!
//! obj = Resource("data")
//! ref = weakref.ref(obj, callback)
//!
//! del obj
//! # Object was garbage collected!
//! ```
//!
//! Two more cases show the rules that the seed leaves implicit, and that weakling keeps:
//!
//! * several callbacks on one object all run when it dies, the newest registered first;
//! * a callback belongs to its weak reference: if that reference is dropped before the object
//!   dies, the callback never runs (Python: "if the weak reference object is no longer alive
//!   when the referent dies, the callback will not be called"). In Rust this also means the
//!   returned handle must be kept in a named variable; `let _ = Gc::downgrade_with(..)` drops
//!   it at once (see `weak_temporary.rs`).
//!
//! Like Python's, the callback receives the weak reference itself, already dead.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::{Gc, Trace};

#[derive(Trace)]
struct Resource {
    name: String,
}

impl Resource {
    fn new(name: &str) -> Gc<Resource> {
        Gc::new(Resource { name: name.into() })
    }
}

fn seed_example() {
    println!("# seed 003: a callback on one object");
    println!(">>> obj = Resource(\"data\")");
    let obj = Resource::new("data");
    println!(">>> ref = weakref.ref(obj, callback)");
    // The callback gets the dead weak handle, as Python passes the weakref object.
    let r = Gc::downgrade_with(&obj, |dead| {
        println!("Object was garbage collected!");
        println!("(inside the callback, ref() is None: {})", pythonic(dead.upgrade().is_none()));
    });
    println!(">>> obj.name");
    println!("{:?}", obj.name);
    println!(">>> del obj");
    // The callback runs inside this drop, before the next statement.
    drop(obj);
    println!(">>> ref() is None");
    println!("{}", pythonic(r.upgrade().is_none()));
}

fn newest_first() {
    println!("# three callbacks on one object run newest first");
    println!(">>> obj = Resource(\"shared\")");
    let obj = Resource::new("shared");
    // Every handle is kept: dropping one would cancel its callback.
    let refs: Vec<_> = (1..=3)
        .map(|n| {
            println!(">>> r{n} = weakref.ref(obj, lambda r: print('callback {n}'))");
            Gc::downgrade_with(&obj, move |_| println!("callback {n}"))
        })
        .collect();
    println!(">>> weakref.getweakrefcount(obj)");
    println!("{}", Gc::weak_count(&obj));
    println!(">>> del obj");
    drop(obj);
    println!(">>> [r() for r in (r1, r2, r3)]");
    let results: Vec<&str> =
        refs.iter().map(|r| if r.upgrade().is_none() { "None" } else { "obj" }).collect();
    println!("[{}]", results.join(", "));
}

fn cancelled() {
    println!("# a callback whose weak reference is dropped first never runs");
    println!(">>> obj = Resource(\"quiet\")");
    let obj = Resource::new("quiet");
    println!(">>> kept = weakref.ref(obj, lambda r: print('kept: obj died'))");
    let kept = Gc::downgrade_with(&obj, |_| println!("kept: obj died"));
    println!(">>> gone = weakref.ref(obj, lambda r: print('gone: obj died'))");
    let gone = Gc::downgrade_with(&obj, |_| println!("gone: obj died"));
    println!(">>> del gone");
    drop(gone);
    println!(">>> del obj");
    // Only `kept`'s callback runs; `gone`'s was cancelled with its handle.
    drop(obj);
    println!(">>> kept() is None");
    println!("{}", pythonic(kept.upgrade().is_none()));
}

/// Python spells booleans with a capital letter.
fn pythonic(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn main() {
    seed_example();
    newest_first();
    cancelled();
}
