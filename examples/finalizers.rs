//! `__del__` on objects in cycles (PEP 442), after seed 001's `Foo`, whose `__del__` reads and
//! deletes `self.friend`.
//!
//! ```python
//! class Foo:
//!   def __del__(self):
//!     print(f'{self.name}.__del__: friend {self.friend.name} is whole')
//!
//! a, b = Foo('a'), Foo('b')
//! a.friend = b; b.friend = a
//! a = b = None
//! gc.collect()       # both __del__ run, each sees its friend whole; returns 2
//!
//! class Phoenix:
//!   def __init__(self): self.me = self
//!   def __del__(self): survivors.append(self)   # resurrection
//!
//! p = Phoenix(); p = None
//! gc.collect()       # __del__ saves the object: returns 0
//! survivors.clear()
//! gc.collect()       # freed now, without a second __del__: returns 1
//! ```
//!
//! In weakling, `Drop` runs for every object, but during a collection it may find other
//! members of its cycle already torn down. Code that needs them whole goes in a finalizer,
//! `#[trace(finalize = f)]`: the collector runs every finalizer of the garbage first, with all
//! members intact, then checks the garbage again, so a finalizer that stores a handle
//! *resurrects* what it reaches. Each object's finalizer runs at most once. The printed
//! figures are CPython 3.11's for the script above.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use std::sync::Mutex;

use weakling::{Gc, GcCell, Heap, Trace};

/// Seed 001's `Foo`, with a name to tell the two apart.
#[derive(Trace)]
#[trace(finalize = Foo::finalize)]
struct Foo {
    name: &'static str,
    friend: GcCell<Option<Gc<Foo>>>,
}

impl Foo {
    /// `__del__`: runs before any member of the garbage is torn down.
    fn finalize(this: &Gc<Foo>) {
        let friend = this.friend.read();
        let friend = friend.as_ref().map_or("-", |f| f.name);
        println!("{}.__del__: friend {friend} is whole", this.name);
    }
}

impl Drop for Foo {
    fn drop(&mut self) {
        println!("{} dropped", self.name);
    }
}

/// Where `Phoenix::finalize` saves its object.
static SURVIVORS: Mutex<Vec<Gc<Phoenix>>> = Mutex::new(Vec::new());

#[derive(Trace)]
#[trace(finalize = Phoenix::finalize)]
struct Phoenix {
    me: GcCell<Option<Gc<Phoenix>>>,
}

impl Phoenix {
    fn finalize(this: &Gc<Phoenix>) {
        println!("Phoenix.__del__: saving itself");
        SURVIVORS.lock().unwrap().push(this.clone());
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        println!("Phoenix dropped");
    }
}

/// Python's `gc.collect()`: prints the returned count.
fn collect(heap: &Heap) {
    println!(">>> gc.collect()");
    let found = heap.collect();
    println!("{found}");
}

fn main() {
    let heap = Heap::new();
    heap.set_automatic_collection(false);

    println!("# seed 001's friends, with a __del__ that reads the friend");
    println!(">>> a, b = Foo('a'), Foo('b'); a.friend = b; b.friend = a");
    let a = Gc::new_in(Foo { name: "a", friend: GcCell::new(None) }, &heap);
    let b = Gc::new_in(Foo { name: "b", friend: GcCell::new(Some(a.clone())) }, &heap);
    a.friend.set(Some(b.clone()));
    println!(">>> a = b = None");
    drop((a, b));
    collect(&heap);

    println!("# a __del__ that resurrects its object");
    println!(">>> p = Phoenix(); p = None");
    let p = Gc::new_in(Phoenix { me: GcCell::new(None) }, &heap);
    p.me.set(Some(p.clone()));
    drop(p);
    collect(&heap);
    println!(">>> len(survivors)");
    println!("{}", SURVIVORS.lock().unwrap().len());
    println!(">>> survivors.clear()");
    let saved = std::mem::take(&mut *SURVIVORS.lock().unwrap());
    drop(saved);
    println!("# the finalizer does not run again");
    collect(&heap);
    println!("(live objects on the heap: {})", heap.counts().live);
}
