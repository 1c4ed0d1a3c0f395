//! Seed 003's `CachedLoader`, over `weakling::cache::Cache`.
//!
//! ```python
//! class CachedLoader:
//!     _cache = weakref.WeakValueDictionary()
//!
//!     @classmethod
//!     def load(cls, key):
//!         obj = cls._cache.get(key)
//!         if obj is None:
//!             obj = cls._expensive_load(key)
//!             cls._cache[key] = obj
//!         return obj
//!
//!     @staticmethod
//!     def _expensive_load(key):
//!         print(f"Loading {key}...")
//!         return {"data": key}
//!
//! data1 = CachedLoader.load("key1")  # Loading key1...
//! data2 = CachedLoader.load("key1")  # from the cache
//! del data1
//! data3 = CachedLoader.load("key1")  # still a hit: data2 holds it
//! ```
//!
//! The Python version has two gaps that `Cache` closes: after the last user lets go the next
//! load runs again (the strong tier keeps a bounded number of recent objects), and two threads
//! that miss at once both load (`get_with` runs one loader per key and hands its object to
//! every caller that waited). A loader that fails hands its error to every waiter and caches
//! nothing.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use std::sync::{Arc, Barrier};

use weakling::cache::Cache;
use weakling::Gc;

#[derive(Debug)]
struct Data {
    data: String,
}

struct CachedLoader {
    cache: Cache<String, Data>,
}

impl CachedLoader {
    fn new(capacity: u64) -> CachedLoader {
        CachedLoader { cache: Cache::new(capacity) }
    }

    fn load(&self, key: &str) -> Gc<Data> {
        self.cache.get_with(key.to_string(), || Self::expensive_load(key))
    }

    fn expensive_load(key: &str) -> Gc<Data> {
        println!("Loading {key}...");
        Gc::new_leaf(Data { data: key.to_string() })
    }

    /// A loader that can fail: the error is shared and not cached.
    fn try_load(&self, key: &str, up: bool) -> Result<Gc<Data>, Arc<String>> {
        self.cache.try_get_with(key.to_string(), || {
            println!("Loading {key}...");
            if up {
                Ok(Gc::new_leaf(Data { data: key.to_string() }))
            } else {
                Err(format!("{key}: backend unavailable"))
            }
        })
    }
}

fn show(d: &Gc<Data>) -> String {
    format!("{{'data': '{}'}}", d.data)
}

fn main() {
    println!("# seed 003, with only a weak tier (Python's behaviour)");
    let loader = CachedLoader::new(0);
    println!(">>> data1 = CachedLoader.load(\"key1\")");
    let data1 = loader.load("key1");
    println!(">>> data2 = CachedLoader.load(\"key1\")");
    let data2 = loader.load("key1");
    println!(">>> del data1");
    drop(data1);
    println!(">>> data3 = CachedLoader.load(\"key1\")");
    let data3 = loader.load("key1");
    println!(">>> data3");
    println!("{}", show(&data3));
    println!(">>> del data2, data3");
    drop((data2, data3));
    println!(">>> data4 = CachedLoader.load(\"key1\")");
    let data4 = loader.load("key1");
    println!("# loaded twice: nobody held it in between");
    drop(data4);

    println!("# weakling: a strong tier of 100 entries");
    let loader = CachedLoader::new(100);
    println!(">>> data1 = CachedLoader.load(\"key1\")");
    let data1 = loader.load("key1");
    println!(">>> del data1");
    drop(data1);
    println!(">>> data2 = CachedLoader.load(\"key1\")");
    let data2 = loader.load("key1");
    println!("{}", show(&data2));

    println!("# four threads miss \"key2\" at once: one load, one object");
    let barrier = Arc::new(Barrier::new(4));
    let results: Vec<Gc<Data>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (loader, barrier) = (&loader, barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    loader.load("key2")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    println!(">>> all four got the same object");
    let same = results.iter().all(|r| Gc::ptr_eq(r, &results[0]));
    println!("{}", if same { "True" } else { "False" });

    println!("# a failing load: the error is shared and not cached");
    println!(">>> CachedLoader.try_load(\"key3\") while the backend is down");
    match loader.try_load("key3", false) {
        Ok(d) => println!("{}", show(&d)),
        Err(e) => println!("error: {e}"),
    }
    println!(">>> CachedLoader.try_load(\"key3\") once it is back");
    match loader.try_load("key3", true) {
        Ok(d) => println!("{}", show(&d)),
        Err(e) => println!("error: {e}"),
    }
    let stats = loader.cache.stats();
    println!(">>> statistics");
    // Whether the threads that came late hit or waited depends on timing; the sum does not.
    println!(
        "lookups {} (hits + misses), loads {}, load failures {}",
        stats.hits() + stats.misses,
        stats.loads,
        stats.load_failures
    );
}
