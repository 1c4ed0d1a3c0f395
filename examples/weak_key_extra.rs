//! `WeakKeyDictionary`: extra data attached to objects, gone with them (seed 003, section 4),
//! and the shape that leaks in CPython (`d[k] = [k]`) freed by one collection.
//!
//! ```python
//! class User:
//!     def __init__(self, name):
//!         self.name = name
//!
//! extra_data = weakref.WeakKeyDictionary()
//!
//! user = User("Alice")
//! extra_data[user] = {"score": 100, "level": 5}
//!
//! print(extra_data[user])  # {'score': 100, 'level': 5}
//!
//! del user
//! print(dict(extra_data))  # {}
//! ```
//!
//! In CPython a value that refers back to its own key keeps the key alive for as long as
//! the dictionary lives (CPython issue 88846): `d[k] = [k]; del k` never frees `k`, not even
//! with `gc.collect()`. weakling attaches each value to its key object, so the collector sees
//! the value as the key's own field: key and value are an ordinary cycle, and
//! `gc.collect()` frees both and the entry.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use std::collections::BTreeMap;

use weakling::{gc, Gc, GcCell, Trace, WeakKeyIdMap, WeakKeyMap};

#[derive(Trace, Debug, PartialEq, Eq, Hash)]
struct User {
    name: String,
}

impl Drop for User {
    fn drop(&mut self) {
        println!("(User {} destroyed)", self.name);
    }
}

/// A session that may refer to other objects, its own key included.
#[derive(Trace)]
struct Session {
    owner: GcCell<Option<Gc<Node>>>,
}

/// A key type that may hold handles, so the collector tracks it.
#[derive(Trace)]
struct Node {
    #[trace(skip)]
    name: &'static str,
    next: GcCell<Option<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        println!("(Node {} destroyed)", self.name);
    }
}

fn extra_data() {
    println!("# seed 003, section 4: data attached to an object");
    println!(">>> extra_data = weakref.WeakKeyDictionary()");
    let extra_data: WeakKeyMap<User, BTreeMap<&str, u32>> = WeakKeyMap::new();
    println!(">>> user = User(\"Alice\")");
    let user = Gc::new(User { name: "Alice".into() });
    println!(">>> extra_data[user] = {{\"score\": 100, \"level\": 5}}");
    extra_data.insert(&user, Gc::new(BTreeMap::from([("score", 100), ("level", 5)])));
    println!(">>> print(extra_data[user])");
    println!("{:?}", extra_data.get(&user).unwrap());
    println!(">>> print(len(extra_data))");
    println!("{}", extra_data.len());
    println!(">>> del user");
    drop(user);
    println!(">>> print(dict(extra_data))");
    println!("{:?}", extra_data.to_map());
}

fn ephemeron() {
    println!("# a value that refers to its own key: CPython leaks it, weakling collects it");
    println!(">>> d = weakref.WeakKeyDictionary()");
    let d: WeakKeyIdMap<Node, Session> = WeakKeyIdMap::new();
    println!(">>> k = Node(\"k\")");
    let k = Gc::new(Node { name: "k", next: GcCell::new(None) });
    println!(">>> k_ref = weakref.ref(k)");
    let watch = Gc::downgrade(&k);
    println!(">>> d[k] = Session(owner=k)");
    d.insert(&k, Gc::new(Session { owner: GcCell::new(Some(k.clone())) }));
    println!(">>> del k");
    drop(k);
    println!(">>> print(len(d), k_ref() is None)");
    println!("{} {}", d.len(), if watch.upgrade().is_none() { "True" } else { "False" });
    println!(">>> gc.collect()");
    gc::collect();
    println!(">>> print(len(d), k_ref() is None)");
    println!("{} {}", d.len(), if watch.upgrade().is_none() { "True" } else { "False" });
}

fn main() {
    extra_data();
    ephemeron();
}
