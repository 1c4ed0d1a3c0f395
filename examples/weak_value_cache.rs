//! `WeakValueDictionary` as a cache of shared objects: `get_object(id)` returns the same
//! object while anyone holds it, and a fresh one after everyone let go (seed 003, section 3).
//!
//! ```python
//! class ExpensiveObject:
//!     def __init__(self, id):
//!         self.id = id
//!         print(f"Created {id}")
//!
//! cache = weakref.WeakValueDictionary()
//!
//! def get_object(id):
//!     if id not in cache:
//!         cache[id] = ExpensiveObject(id)
//!     return cache[id]
//!
//! obj1 = get_object(1)  # Created 1
//! obj2 = get_object(1)  # from the cache
//! print(obj1 is obj2)   # True
//!
//! del obj1, obj2
//! print(dict(cache))    # {}
//! ```
//!
//! The Python version has a race even without threads: between `id not in cache` and
//! `return cache[id]` the object may die (a collection may run), and `cache[id]` then raises
//! `KeyError`. `get_or_insert_with` is one step: it returns the live object or stores and
//! returns the new one, and the map is safe to share between threads.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use std::collections::BTreeMap;

use weakling::{Gc, Trace, WeakValueMap};

#[derive(Trace, Debug)]
struct ExpensiveObject {
    id: u32,
}

impl ExpensiveObject {
    fn new(id: u32) -> ExpensiveObject {
        println!("Created {id}");
        ExpensiveObject { id }
    }
}

impl Drop for ExpensiveObject {
    fn drop(&mut self) {
        println!("(ExpensiveObject {} destroyed)", self.id);
    }
}

fn get_object(cache: &WeakValueMap<u32, ExpensiveObject>, id: u32) -> Gc<ExpensiveObject> {
    cache.get_or_insert_with(id, || Gc::new(ExpensiveObject::new(id)))
}

/// `dict(cache)`, in key order.
fn show(cache: &WeakValueMap<u32, ExpensiveObject>) -> String {
    let sorted: BTreeMap<u32, u32> = cache.iter().map(|(k, v)| (k, v.id)).collect();
    let items: Vec<String> =
        sorted.iter().map(|(k, v)| format!("{k}: <ExpensiveObject {v}>")).collect();
    format!("{{{}}}", items.join(", "))
}

fn main() {
    println!("# seed 003, section 3: an automatically cleaned cache");
    println!(">>> cache = weakref.WeakValueDictionary()");
    let cache: WeakValueMap<u32, ExpensiveObject> = WeakValueMap::new();
    println!(">>> obj1 = get_object(1)");
    let obj1 = get_object(&cache, 1);
    println!(">>> obj2 = get_object(1)");
    let obj2 = get_object(&cache, 1);
    println!(">>> print(obj1 is obj2)");
    println!("{}", if Gc::ptr_eq(&obj1, &obj2) { "True" } else { "False" });
    println!(">>> obj3 = get_object(2)");
    let obj3 = get_object(&cache, 2);
    println!(">>> print(dict(cache))");
    println!("{}", show(&cache));
    println!(">>> del obj1");
    drop(obj1);
    println!(">>> print(len(cache))");
    println!("{}", cache.len());
    println!(">>> del obj2");
    drop(obj2);
    println!(">>> print(dict(cache))");
    println!("{}", show(&cache));
    println!("# the entry went at the moment of the death, not at a later insert");
    println!(">>> obj1 = get_object(1)");
    let obj1 = get_object(&cache, 1);
    println!(">>> print(dict(cache))");
    println!("{}", show(&cache));
    println!(">>> del obj1, obj3");
    drop(obj1);
    drop(obj3);
    println!(">>> print(dict(cache))");
    println!("{}", show(&cache));
}
