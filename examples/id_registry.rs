//! An id-to-object registry: every live object can be found by its id from anywhere (a
//! debugger, a message handler on another thread), and leaves the registry by dying. In
//! Python this is a `WeakValueDictionary` keyed by `id(obj)` or by a counter.
//!
//! ```python
//! registry = weakref.WeakValueDictionary()
//! next_id = itertools.count(1)
//!
//! class Widget:
//!     def __init__(self, label):
//!         self.label = label
//!         self.id = next(next_id)
//!         registry[self.id] = self
//!
//! a = Widget("ok"); b = Widget("cancel")
//! print(registry[2].label)         # cancel
//! del b
//! print(registry.get(2))           # None
//! print(sorted(registry.keys()))   # [1]
//! ```
//!
//! The registry is shared by threads here: a worker thread looks objects up by id while the
//! main thread creates and drops them. Objects register themselves at construction and never
//! deregister: their death removes the entry.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use weakling::{Gc, Trace, WeakValueMap};

#[derive(Trace)]
struct Widget {
    #[trace(skip)]
    id: u64,
    label: String,
}

struct Registry {
    objects: WeakValueMap<u64, Widget>,
    next_id: AtomicU64,
}

impl Registry {
    fn widget(&self, label: &str) -> Gc<Widget> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let widget = Gc::new(Widget { id, label: label.to_string() });
        self.objects.insert(id, &widget);
        widget
    }

    fn label(&self, id: u64) -> String {
        self.objects.get(&id).map_or("None".to_string(), |w| w.label.clone())
    }
}

fn main() {
    println!("# an id-to-object registry shared by threads");
    println!(">>> registry = weakref.WeakValueDictionary()");
    let registry = Arc::new(Registry { objects: WeakValueMap::new(), next_id: AtomicU64::new(1) });
    println!(">>> a = Widget(\"ok\"); b = Widget(\"cancel\")");
    let a = registry.widget("ok");
    let b = registry.widget("cancel");
    println!(">>> print(registry[2].label)  # from another thread");
    let r = registry.clone();
    println!("{}", thread::spawn(move || r.label(2)).join().unwrap());
    println!(">>> del b");
    drop(b);
    println!(">>> print(registry.get(2))");
    println!("{}", registry.label(2));
    println!(">>> print(sorted(registry.keys()))");
    let mut keys: Vec<u64> = registry.objects.keys().collect();
    keys.sort();
    println!("{keys:?}");
    println!("# a hundred widgets made and dropped on a worker thread leave nothing behind");
    println!(">>> for i in range(100): Widget(str(i))");
    let r = registry.clone();
    thread::spawn(move || {
        for i in 0..100 {
            drop(r.widget(&i.to_string()));
        }
    })
    .join()
    .unwrap();
    println!(">>> print(len(registry), registry[a.id].label)");
    println!("{} {}", registry.objects.len(), registry.label(a.id));
}
