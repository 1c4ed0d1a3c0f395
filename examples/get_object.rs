//! The `get_object(id)` cache of seed 003, over `weakling::cache::Cache`.
//!
//! ```python
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
//! print(dict(cache))    # {}: the entry went with the last strong reference
//! ```
//!
//! A `Cache` whose strong tier holds nothing behaves exactly like that dictionary: only its
//! weak tier remembers objects, and only while someone holds them. Give the strong tier room
//! and the same code keeps the object between uses, so "load, use, drop, load again" stops
//! creating it twice; an object pushed out of the strong tier while still in use is still
//! found, and it is never duplicated.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::cache::{Cache, Policy};
use weakling::Gc;

struct ExpensiveObject {
    id: u32,
}

impl Drop for ExpensiveObject {
    fn drop(&mut self) {
        println!("ExpensiveObject {} destroyed", self.id);
    }
}

/// `get_object(id)`: one object per id, shared by every caller.
fn get_object(cache: &Cache<u32, ExpensiveObject>, id: u32) -> Gc<ExpensiveObject> {
    cache.get_with(id, || {
        println!("Created {id}");
        Gc::new_leaf(ExpensiveObject { id })
    })
}

fn python_semantics() {
    println!("# seed 003: only a weak tier, like WeakValueDictionary");
    let cache: Cache<u32, ExpensiveObject> = Cache::new(0);
    println!(">>> obj1 = get_object(1)");
    let obj1 = get_object(&cache, 1);
    println!(">>> obj2 = get_object(1)");
    let obj2 = get_object(&cache, 1);
    println!(">>> print(obj1 is obj2)");
    println!("{}", if Gc::ptr_eq(&obj1, &obj2) { "True" } else { "False" });
    println!(">>> del obj1, obj2");
    drop((obj1, obj2));
    println!(">>> print(dict(cache))");
    println!("{{}}  (strong {}, weak {})", cache.entry_count(), cache.weak_count());
    println!(">>> obj1 = get_object(1)");
    let obj1 = get_object(&cache, 1);
    println!("# the object was made twice");
    drop(obj1);
}

fn two_tiers() {
    println!("# weakling: a strong tier of two entries keeps objects between uses");
    let cache: Cache<u32, ExpensiveObject> = Cache::builder(2).policy(Policy::Lru).build();
    println!(">>> obj1 = get_object(1)");
    let obj1 = get_object(&cache, 1);
    println!(">>> del obj1");
    drop(obj1);
    println!(">>> obj1 = get_object(1)");
    let obj1 = get_object(&cache, 1);
    println!("# no \"Created\": the strong tier kept it");
    println!(">>> obj2, obj3 = get_object(2), get_object(3)");
    let (obj2, obj3) = (get_object(&cache, 2), get_object(&cache, 3));
    println!("# 1 left the strong tier of two, but obj1 still holds it");
    println!(">>> get_object(1) is obj1");
    let again = get_object(&cache, 1);
    println!("{}", if Gc::ptr_eq(&obj1, &again) { "True" } else { "False" });
    let stats = cache.stats();
    println!(">>> cache statistics");
    println!(
        "strong hits {}, weak hits {}, misses {}, loads {}",
        stats.strong_hits, stats.weak_hits, stats.misses, stats.loads
    );
    println!(">>> del obj1, again, obj2, obj3");
    drop((obj1, again, obj2, obj3));
    println!("# 1 and 3 are in the strong tier; 2 was pushed out and nobody holds it");
    println!(">>> (strong entries, weak entries alive)");
    println!("({}, {})", cache.entry_count(), cache.weak_count());
    println!(">>> cache.invalidate(3); cache.invalidate(1)");
    cache.invalidate(&3);
    cache.invalidate(&1);
}

fn main() {
    python_semantics();
    two_tiers();
}
