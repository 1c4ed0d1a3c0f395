//! The seeds' observer list in a `WeakSet`: a deleted observer stops receiving without
//! unsubscribing (seed 003, "WeakSet").
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
//! subject.notify_all("Hello")
//! # Observer1 received: Hello
//! # Observer2 received: Hello
//! del obs1
//! subject.notify_all("World")
//! # Observer2 received: World   (obs1 was removed automatically)
//! ```
//!
//! `weakling::observer::Subject` is that `Subject`, with the order of subscription kept (a
//! `WeakSet` has none), an explicit unsubscribe handle, and counters. Going past the seed: a
//! weak method as subscriber, and an explicit unsubscribe.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::observer::{Observer, Subject};
use weakling::{Gc, WeakMethod};

struct Named {
    name: &'static str,
}

impl Observer<String> for Named {
    fn notify(&self, msg: &String) {
        println!("{} received: {msg}", self.name);
    }
}

struct Logger {
    prefix: &'static str,
}

impl Logger {
    fn log(&self, msg: &String) {
        println!("{}{msg}", self.prefix);
    }
}

fn main() {
    println!(">>> subject = Subject()");
    let subject = Subject::new();
    println!(">>> obs1 = Observer(\"Observer1\"); obs2 = Observer(\"Observer2\")");
    let obs1 = Gc::new_leaf(Named { name: "Observer1" });
    let obs2 = Gc::new_leaf(Named { name: "Observer2" });
    println!(">>> subject.register(obs1); subject.register(obs2)");
    let _ = subject.subscribe(&obs1);
    let _ = subject.subscribe(&obs2);
    println!(">>> subject.notify_all(\"Hello\")");
    subject.emit(&"Hello".to_string());
    println!(">>> del obs1");
    drop(obs1);
    println!(">>> subject.notify_all(\"World\")");
    subject.emit(&"World".to_string());

    println!("# a weak method subscribes too: weakref.WeakMethod(logger.log)");
    println!(">>> logger = Logger(\"log: \"); subject.register(WeakMethod(logger.log))");
    let logger = Gc::new_leaf(Logger { prefix: "log: " });
    let by_method = subject.subscribe_method(WeakMethod::new(&logger, Logger::log));
    println!(">>> subject.notify_all(\"again\")");
    subject.emit(&"again".to_string());
    println!("# an explicit unsubscribe");
    println!(">>> subject.unregister(logger.log)");
    println!("{}", by_method.unsubscribe());
    println!(">>> subject.notify_all(\"last\")");
    subject.emit(&"last".to_string());
    let stats = subject.stats();
    println!("(delivered {}, pruned {}, panics {})", stats.delivered, stats.pruned, stats.panics);
    drop(logger);
}
