//! A leak hunt with the `gc` tools: census, keep-garbage mode, referrers.
//!
//! Each request makes a `Session` and registers a `Listener` that points back at it: a cycle,
//! so dropping the session frees nothing. With automatic collection off (as when a service
//! turns it off for latency), memory grows. Python users hunt this with `gc.get_objects()`,
//! `gc.set_debug(gc.DEBUG_SAVEALL)`, `gc.garbage` and `gc.get_referrers()`:
//!
//! ```python
//! gc.disable()
//! for i in range(100): handle_request(i)
//! collections.Counter(type(o).__name__ for o in gc.get_objects())
//! gc.set_debug(gc.DEBUG_SAVEALL); gc.collect()
//! session = next(o for o in gc.garbage if isinstance(o, Session))
//! gc.get_referrers(session)
//! ```
//!
//! The fix: the listener holds its session through a weak reference.

use weakling::{Gc, GcCell, Heap, Trace, Weak};

#[derive(Trace)]
struct Session {
    #[trace(skip)]
    id: u32,
    listener: GcCell<Option<Gc<Listener>>>,
}

/// Holds its session strongly: the leak.
#[derive(Trace)]
struct Listener {
    session: GcCell<Option<Gc<Session>>>,
}

#[derive(Trace)]
struct FixedSession {
    #[trace(skip)]
    #[allow(dead_code)] // identifies the session, as in the leaking version
    id: u32,
    listener: GcCell<Option<Gc<FixedListener>>>,
}

/// Holds its session weakly: no cycle.
#[derive(Trace)]
struct FixedListener {
    #[allow(dead_code)] // what a real listener would use to reach its session
    session: Weak<FixedSession>,
}

fn handle_request(heap: &Heap, id: u32) {
    let session = Gc::new_in(Session { id, listener: GcCell::new(None) }, heap);
    let listener = Gc::new_in(Listener { session: GcCell::new(Some(session.clone())) }, heap);
    session.listener.set(Some(listener));
}

fn handle_request_fixed(heap: &Heap, id: u32) {
    let session = Gc::new_in(FixedSession { id, listener: GcCell::new(None) }, heap);
    let listener = Gc::new_in(FixedListener { session: Gc::downgrade(&session) }, heap);
    session.listener.set(Some(listener));
}

/// `leak_hunt::Session` → `Session`.
fn short(type_name: &str) -> &str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}

fn print_census(heap: &Heap) {
    let census = heap.census();
    if census.is_empty() {
        println!("{{}}");
    }
    for (name, count) in census {
        println!("{}: {count}", short(name));
    }
}

fn main() {
    let heap = Heap::new();
    heap.set_automatic_collection(false);

    println!("# The service handles requests; memory grows.");
    println!(">>> gc.disable()");
    println!(">>> for i in range(100): handle_request(i)");
    for id in 0..100 {
        handle_request(&heap, id);
    }
    println!("(live objects on the heap: {})", heap.counts().live);

    println!("# Step 1: who is there? Count the tracked objects by type.");
    println!(">>> Counter(type(o).__name__ for o in gc.get_objects())");
    print_census(&heap);

    println!("# Step 2: are they garbage? Keep what the collector finds instead of freeing it.");
    println!(">>> gc.set_debug(gc.DEBUG_SAVEALL); gc.collect()");
    heap.set_keep_garbage(true);
    println!("{}", heap.collect());
    let garbage = heap.garbage();
    println!(">>> Counter(type(o).__name__ for o in gc.garbage)");
    let sessions = garbage.iter().filter(|g| g.is::<Session>()).count();
    let listeners = garbage.iter().filter(|g| g.is::<Listener>()).count();
    println!("Session: {sessions}\nListener: {listeners}");

    println!("# Step 3: who holds a session? Ask for its referrers.");
    println!(">>> session = next(o for o in gc.garbage if isinstance(o, Session))");
    let session = garbage.iter().find(|g| g.is::<Session>()).cloned().expect("a session");
    let session = session.downcast::<Session>().expect("it is a Session");
    println!(">>> [type(r).__name__ for r in gc.get_referrers(session)]");
    let referrers = heap.referrers(&session);
    let names: Vec<_> = referrers.iter().map(|r| short(r.type_name())).collect();
    println!("{names:?}");
    println!(">>> gc.get_referrers(session)[0].session is session");
    let listener = referrers.into_iter().next().expect("one referrer").downcast::<Listener>();
    let listener = listener.expect("it is a Listener");
    let back = listener.session.get().expect("a listener has its session");
    println!("{}", if Gc::ptr_eq(&back, &session) { "True" } else { "False" });
    println!("# The listener holds its session strongly: session -> listener -> session.");
    println!(">>> session.id");
    println!("{}", session.id);
    drop((back, listener, session, garbage));

    println!("# Clean up: let the garbage list go and collect normally.");
    println!(">>> gc.garbage.clear(); gc.set_debug(0); gc.collect()");
    drop(heap.take_garbage());
    heap.set_keep_garbage(false);
    println!("{}", heap.collect());
    println!("(live objects on the heap: {})", heap.counts().live);

    println!("# The fix: the listener holds a weak reference to its session.");
    println!(">>> for i in range(100): handle_request_fixed(i)");
    for id in 0..100 {
        handle_request_fixed(&heap, id);
    }
    println!("(live objects on the heap: {})", heap.counts().live);
    println!(">>> Counter(type(o).__name__ for o in gc.get_objects())");
    print_census(&heap);
}
