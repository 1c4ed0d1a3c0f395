//! The `sys.getrefcount` walk of seeds 000 and 002, with `Gc::strong_count`.
//!
//! ```python
//! a = RefExam()
//! print(f'count {sys.getrefcount(a)}')   # count 2
//! b = a
//! print(f'count {sys.getrefcount(a)}')   # count 3
//! c = a
//! print(f'count {sys.getrefcount(a)}')   # count 4
//! c = 0
//! print(f'count {sys.getrefcount(a)}')   # count 3
//! b = 0
//! print(f'count {sys.getrefcount(a)}')   # count 2
//! ```
//!
//! weakling prints 1, 2, 3, 2, 1. Both count the same names; the difference is the call.
//! Python passes `a` to `getrefcount` as an argument, and the argument is one more reference
//! for as long as the call lasts (the seeds note it: "getrefcount's parameter is a temporary
//! reference"). `Gc::strong_count(&a)` borrows `a`: no handle is made, so nothing extra is
//! counted. The last part of the output passes a clone by value, like Python's call does,
//! and gets Python's numbers back.
//!
//! Python rebinds `c` and `b` to the int 0. A Rust variable has one type, so the names here
//! are a small enum that holds either an object or an int; assigning the `Int` variant drops
//! the handle the name held, at that statement, just as rebinding does in Python.
//!
//! Lines starting with `>>>` are the Python statements; the Rust code beside each print does
//! the same thing. Lines starting with `#` are commentary.

use weakling::{Gc, Trace};

#[derive(Trace)]
struct RefExam;

impl RefExam {
    fn new() -> Gc<RefExam> {
        println!("create object");
        Gc::new(RefExam)
    }
}

/// What a Python name is bound to in this walk: the object, or an int.
enum Name {
    // Held, never read: this handle is the reference being counted.
    Obj(#[allow(dead_code)] Gc<RefExam>),
    Int(i64),
}

/// `sys.getrefcount` as Python calls it: the argument is a reference of its own.
fn getrefcount_by_value(obj: Gc<RefExam>) -> usize {
    Gc::strong_count(&obj)
}

// `b` and `c` exist to hold references, as the Python names do; their first values are
// overwritten before anything reads them, which is the point being shown.
#[allow(unused_assignments)]
fn main() {
    println!("# Lines after `>>>` are what Python prints; weakling's count is one lower");
    println!("# because Gc::strong_count(&a) borrows `a` instead of taking an argument reference.");

    println!(">>> a = RefExam()");
    let a = RefExam::new();
    println!(">>> sys.getrefcount(a)");
    println!("count {}  (Python: 2)", Gc::strong_count(&a));

    println!(">>> b = a");
    let mut b = Name::Obj(a.clone());
    println!("count {}  (Python: 3)", Gc::strong_count(&a));

    println!(">>> c = a");
    let mut c = Name::Obj(a.clone());
    println!("count {}  (Python: 4)", Gc::strong_count(&a));

    println!(">>> c = 0");
    c = Name::Int(0);
    println!("count {}  (Python: 3)", Gc::strong_count(&a));

    println!(">>> b = 0");
    b = Name::Int(0);
    println!("count {}  (Python: 2)", Gc::strong_count(&a));

    // Reading the names back keeps the rebinding honest (and the compiler quiet): they
    // really hold ints now, and `a` is the only handle left.
    for (name, value) in [("b", &b), ("c", &c)] {
        match value {
            Name::Int(i) => println!("{name} is {i}"),
            Name::Obj(_) => unreachable!("{name} was rebound to an int"),
        }
    }

    println!("# Passing a clone by value, as Python passes its argument, adds the temporary back:");
    println!("count via a by-value argument: {}", getrefcount_by_value(a.clone()));
    println!("# ...and the clone is gone again once the call returns:");
    println!("count {}", Gc::strong_count(&a));
}
