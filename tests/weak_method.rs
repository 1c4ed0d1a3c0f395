//! Weak methods and proxy-style access (`WeakMethod`, `WeakProxy`).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{capture_errors, Log};
use weakling::{Gc, ReferenceError, WeakMethod, WeakProxy};

struct Greeter {
    name: &'static str,
    calls: AtomicU32,
}

impl Greeter {
    fn greet(&self, whom: &str) -> String {
        self.calls.fetch_add(1, Ordering::SeqCst);
        format!("{} greets {whom}", self.name)
    }

    fn shout(&self, whom: &str) -> String {
        self.greet(whom).to_uppercase()
    }
}

type Method = fn(&Greeter, &'static str) -> String;

fn greeter(name: &'static str) -> Gc<Greeter> {
    Gc::new_leaf(Greeter { name, calls: AtomicU32::new(0) })
}

#[test]
fn a_weak_method_calls_while_its_receiver_lives_and_not_after() {
    let g = greeter("ann");
    let m = WeakMethod::new(&g, Greeter::greet as Method);
    assert!(m.is_alive());
    assert_eq!(m.call("bob").as_deref(), Some("ann greets bob"));
    let bound = m.upgrade().unwrap();
    assert_eq!(bound.call("cy"), "ann greets cy");
    assert!(Gc::ptr_eq(bound.receiver(), &g));
    drop(bound);
    assert_eq!(g.calls.load(Ordering::SeqCst), 2);
    drop(g);
    assert!(!m.is_alive());
    assert!(m.upgrade().is_none());
    assert_eq!(m.call("dee"), None);
}

#[test]
fn the_weak_method_does_not_keep_its_receiver_alive() {
    let g = greeter("ann");
    let m = WeakMethod::new(&g, Greeter::greet as Method);
    assert_eq!(Gc::strong_count(&g), 1);
    let w = Gc::downgrade(&g);
    drop(g);
    assert!(w.upgrade().is_none());
    drop(m);
}

#[test]
fn the_callback_fires_once_when_the_receiver_dies() {
    let log = Log::default();
    let g = greeter("ann");
    let l = log.clone();
    let m = WeakMethod::with_callback(&g, Greeter::greet as Method, move |dead| {
        assert!(dead.upgrade().is_none());
        l.push("receiver gone");
    });
    let copy = m.clone();
    drop(m);
    drop(g);
    assert_eq!(log.take(), ["receiver gone"], "clones share one callback");
    assert!(!copy.is_alive());
}

#[test]
fn equality_and_hashing_compare_receiver_identity_and_function() {
    let (a, b) = (greeter("ann"), greeter("bo"));
    let greet_a = WeakMethod::new(&a, Greeter::greet as Method);
    let greet_a2 = WeakMethod::new(&a, Greeter::greet as Method);
    let shout_a = WeakMethod::new(&a, Greeter::shout as Method);
    let greet_b = WeakMethod::new(&b, Greeter::greet as Method);
    assert_eq!(greet_a, greet_a2);
    assert_ne!(greet_a, shout_a);
    assert_ne!(greet_a, greet_b);
    let set: HashSet<_> = [greet_a.clone(), greet_a2, shout_a, greet_b].into_iter().collect();
    assert_eq!(set.len(), 3);
    drop(a);
    assert!(set.contains(&greet_a), "equality does not change when the receiver dies");
}

#[test]
fn a_panicking_weak_method_callback_is_contained() {
    let g = greeter("ann");
    let _m = WeakMethod::with_callback(&g, Greeter::greet as Method, |_| panic!("callback fails"));
    let ((), errors) = capture_errors(|| drop(g));
    assert!(errors.iter().any(|e| e.contains("callback fails")), "{errors:?}");
}

struct Data {
    value: u32,
}

impl Data {
    fn get(&self) -> u32 {
        self.value
    }
}

fn doubled(proxy: &WeakProxy<Data>) -> Result<u32, ReferenceError> {
    let value = proxy.with(Data::get)?;
    Ok(value * 2)
}

#[test]
fn a_proxy_reads_while_alive_and_reports_a_reference_error_after() {
    let obj = Gc::new_leaf(Data { value: 42 });
    let proxy = WeakProxy::new(&obj);
    assert!(proxy.is_alive());
    assert_eq!(proxy.with(|d| d.value), Ok(42));
    assert_eq!(doubled(&proxy), Ok(84));
    assert!(Gc::ptr_eq(&proxy.get().unwrap(), &obj));
    drop(obj);
    assert!(!proxy.is_alive());
    let err = doubled(&proxy).unwrap_err();
    assert_eq!(err.type_name(), std::any::type_name::<Data>());
    assert_eq!(
        err.to_string(),
        format!(
            "weakly-referenced object no longer exists (a `{}`)",
            std::any::type_name::<Data>()
        )
    );
    assert!(proxy.get().is_err());
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().contains("no longer exists"));
}

#[test]
fn a_proxy_callback_runs_at_death() {
    let log = Log::default();
    let obj = Gc::new_leaf(Data { value: 1 });
    let l = log.clone();
    let proxy = WeakProxy::with_callback(&obj, move |_| l.push("gone"));
    drop(obj);
    assert_eq!(log.take(), ["gone"]);
    assert!(proxy.get().is_err());
}
