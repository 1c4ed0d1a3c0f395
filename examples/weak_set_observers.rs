//! `WeakSet` of observers: a subject notifies whoever is still alive, and an observer that
//! is dropped simply stops being notified, without unsubscribing (seed 003, section 5).
//!
//! ```python
//! class Observer:
//!     def __init__(self, name):
//!         self.name = name
//!     def notify(self, msg):
//!         print(f"{self.name} received: {msg}")
//!
//! class Subject:
//!     def __init__(self):
//!         self._observers = weakref.WeakSet()
//!     def register(self, observer):
//!         self._observers.add(observer)
//!     def notify_all(self, msg):
//!         for observer in self._observers:
//!             observer.notify(msg)
//!
//! subject = Subject()
//! obs1 = Observer("Observer1")
//! obs2 = Observer("Observer2")
//! subject.register(obs1)
//! subject.register(obs2)
//! subject.notify_all("Hello")   # Observer1 received: Hello / Observer2 received: Hello
//! del obs1
//! subject.notify_all("World")   # Observer2 received: World
//! ```
//!
//! A set has no order (in Python either), so `notify_all` here sorts by name to print the
//! same transcript every run. Observers are compared by identity (`WeakIdSet`): two
//! observers with the same name are still two subscribers. An observer may drop itself or
//! others while being notified; the iteration hands out strong handles and holds no lock.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::{Gc, Trace, WeakIdSet};

#[derive(Trace)]
struct Observer {
    name: String,
}

impl Observer {
    fn notify(&self, msg: &str) {
        println!("{} received: {msg}", self.name);
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        println!("({} destroyed)", self.name);
    }
}

#[derive(Default)]
struct Subject {
    observers: WeakIdSet<Observer>,
}

impl Subject {
    fn register(&self, observer: &Gc<Observer>) {
        self.observers.insert(observer);
    }

    fn notify_all(&self, msg: &str) {
        let mut alive: Vec<Gc<Observer>> = self.observers.iter().collect();
        alive.sort_by(|a, b| a.name.cmp(&b.name));
        for observer in alive {
            observer.notify(msg);
        }
    }
}

fn main() {
    println!("# seed 003, section 5: a WeakSet of observers");
    println!(">>> subject = Subject()");
    let subject = Subject::default();
    println!(">>> obs1 = Observer(\"Observer1\")");
    let obs1 = Gc::new(Observer { name: "Observer1".into() });
    println!(">>> obs2 = Observer(\"Observer2\")");
    let obs2 = Gc::new(Observer { name: "Observer2".into() });
    println!(">>> subject.register(obs1); subject.register(obs2)");
    subject.register(&obs1);
    subject.register(&obs2);
    println!(">>> subject.notify_all(\"Hello\")");
    subject.notify_all("Hello");
    println!(">>> del obs1");
    drop(obs1);
    println!(">>> print(len(subject._observers))");
    println!("{}", subject.observers.len());
    println!(">>> subject.notify_all(\"World\")");
    subject.notify_all("World");
    println!(">>> del obs2");
    drop(obs2);
    println!(">>> subject.notify_all(\"Anyone?\")");
    subject.notify_all("Anyone?");
}
