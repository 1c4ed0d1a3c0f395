//! `weakref.ref` basics: a weak reference sees the object while it lives and `None` after
//! (seeds 000 and 003).
//!
//! Seed 000:
//!
//! ```python
//! a_set = {0, 1}
//! a_ref = weakref.ref(a_set)
//! print(a_ref)             # <weakref at 0x...; to 'set' at 0x...>
//! print(a_ref())           # {0, 1}
//! a_set = {2, 3, 4}
//! print(a_ref())           # None
//! print(a_ref() is None)   # True
//! ```
//!
//! Seed 003, "basic weak reference" and the mistake "using the result without checking it":
//!
//! ```python
//! obj = MyClass("example")
//! ref = weakref.ref(obj)
//! print(ref())        # <MyClass object>
//! print(ref().name)   # example
//! del obj
//! print(ref())        # None
//!
//! obj = ref()
//! if obj is not None:
//!     obj.method()
//! ```
//!
//! `weakref.ref(x)` is `Gc::downgrade(&x)` and calling the reference, `r()`, is
//! `r.upgrade()`, an `Option<Gc<T>>`. Because it is an `Option`, Rust makes the seed's
//! "check for None first" advice compulsory: there is no way to call a method on a dead
//! object by accident, only `unwrap` on purpose. A weak handle prints through its `Debug`
//! impl as `(Weak at <address>; alive)` or `(...; dead)`, where Python prints
//! `<weakref at ...; to 'set' at ...>`.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary. Addresses differ from run to run.

use std::collections::BTreeSet;
use std::fmt::Debug;

use weakling::{Gc, Trace, Weak};

/// Prints what Python prints for `r()`: the object, or `None`.
fn call<T: Debug>(r: &Weak<T>) -> String {
    match r.upgrade() {
        Some(obj) => format!("{obj:?}"),
        None => "None".to_string(),
    }
}

#[derive(Trace, Debug)]
struct MyClass {
    name: String,
}

impl MyClass {
    fn method(&self) -> String {
        format!("method called on {}", self.name)
    }
}

fn set_example() {
    println!("# seed 000: a weak reference to a set");
    println!(">>> a_set = {{0, 1}}");
    // A BTreeSet prints in order, so the output matches Python's `{0, 1}` every run.
    let mut a_set = Gc::new(BTreeSet::from([0, 1]));
    println!(">>> a_ref = weakref.ref(a_set)");
    let a_ref = Gc::downgrade(&a_set);
    println!(">>> print(a_ref)");
    println!("{a_ref:?}");
    println!(">>> print(a_ref())");
    println!("{}", call(&a_ref));
    println!(">>> a_set = {{2, 3, 4}}");
    // The assignment drops the only strong handle to {0, 1}: it dies here.
    a_set = Gc::new(BTreeSet::from([2, 3, 4]));
    println!(">>> print(a_ref())");
    println!("{}", call(&a_ref));
    println!(">>> print(a_ref() is None)");
    println!("{}", pythonic(a_ref.upgrade().is_none()));
    println!(">>> print(a_ref)");
    println!("{a_ref:?}");
    println!(">>> print(a_set)");
    println!("{a_set:?}");
}

fn my_class_example() {
    println!("# seed 003: the basic example");
    println!(">>> obj = MyClass(\"example\")");
    let obj = Gc::new(MyClass { name: "example".into() });
    println!(">>> ref = weakref.ref(obj)");
    let r = Gc::downgrade(&obj);
    println!(">>> weakref.getweakrefcount(obj), sys.getrefcount(obj) - 1");
    // The weak reference is counted as weak only: the strong count stays at one name.
    println!("({}, {})", Gc::weak_count(&obj), Gc::strong_count(&obj));
    println!(">>> print(ref())");
    println!("{}", call(&r));
    println!(">>> print(ref().name)");
    // While `obj` is held the upgrade cannot fail; `expect` states that assumption.
    println!("{}", r.upgrade().expect("obj is still bound").name);
    println!(">>> del obj");
    drop(obj);
    println!(">>> print(ref())");
    println!("{}", call(&r));

    println!("# seed 003, common mistake 1: check the result before using it");
    println!(">>> obj = ref()");
    println!(">>> if obj is not None: obj.method()");
    match r.upgrade() {
        Some(obj) => println!("{}", obj.method()),
        None => println!("(obj is None: method not called)"),
    }
    let alive = Gc::new(MyClass { name: "still here".into() });
    let r2 = Gc::downgrade(&alive);
    println!("# the same check on a reference whose object is still bound:");
    if let Some(obj) = r2.upgrade() {
        println!("{}", obj.method());
    }
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
    set_example();
    my_class_example();
}
