//! A small event bus whose components come and go: each topic is a `Subject`, components
//! subscribe to the topics they care about, and a component that is dropped stops receiving
//! without anyone unsubscribing it. One component panics once; the bus reports it and the
//! others still receive.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use weakling::observer::{Observer, Subject};
use weakling::Gc;

#[derive(Debug)]
enum Event {
    UserJoined(&'static str),
    OrderPlaced { user: &'static str, amount: u32 },
}

/// Topics by name, each a subject.
#[derive(Default)]
struct Bus {
    topics: BTreeMap<&'static str, Subject<Event>>,
}

impl Bus {
    fn topic(&mut self, name: &'static str) -> &Subject<Event> {
        self.topics.entry(name).or_default()
    }

    fn publish(&mut self, name: &'static str, event: Event) {
        let delivered = self.topic(name).emit(&event);
        println!("  [{name}] {event:?} -> {delivered} component(s)");
    }
}

struct AuditLog;

impl Observer<Event> for AuditLog {
    fn notify(&self, event: &Event) {
        println!("  audit: {event:?}");
    }
}

struct Revenue {
    total: AtomicU32,
}

impl Observer<Event> for Revenue {
    fn notify(&self, event: &Event) {
        if let Event::OrderPlaced { user, amount } = event {
            let total = self.total.fetch_add(*amount, Ordering::SeqCst) + amount;
            println!("  revenue: {amount} from {user}, total {total}");
        }
    }
}

struct Welcomer {
    flaky: AtomicU32,
}

impl Observer<Event> for Welcomer {
    fn notify(&self, event: &Event) {
        if self.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("welcome mail service unavailable");
        }
        if let Event::UserJoined(user) = event {
            println!("  welcomer: hello, {user}");
        }
    }
}

fn main() {
    // Panics in subscribers are reported through `tracing`: print its events on stdout, and
    // keep the default panic message off stderr.
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .init();
    std::panic::set_hook(Box::new(|_| {}));
    let mut bus = Bus::default();

    println!("# the audit log listens to everything; revenue to orders; the welcomer to users");
    let audit = Gc::new_leaf(AuditLog);
    let revenue = Gc::new_leaf(Revenue { total: AtomicU32::new(0) });
    let welcomer = Gc::new_leaf(Welcomer { flaky: AtomicU32::new(0) });
    let _ = bus.topic("users").subscribe(&audit);
    let _ = bus.topic("orders").subscribe(&audit);
    let _ = bus.topic("orders").subscribe(&revenue);
    let _ = bus.topic("users").subscribe(&welcomer);

    bus.publish("users", Event::UserJoined("ann")); // the welcomer panics this once
    bus.publish("users", Event::UserJoined("bo"));
    bus.publish("orders", Event::OrderPlaced { user: "ann", amount: 30 });

    println!("# the revenue component is shut down: dropped, never unsubscribed");
    drop(revenue);
    bus.publish("orders", Event::OrderPlaced { user: "bo", amount: 12 });

    println!("# a new revenue component starts from zero");
    let revenue = Gc::new_leaf(Revenue { total: AtomicU32::new(0) });
    let _ = bus.topic("orders").subscribe(&revenue);
    bus.publish("orders", Event::OrderPlaced { user: "cy", amount: 7 });

    println!("# counters per topic");
    for (name, subject) in &bus.topics {
        let s = subject.stats();
        println!(
            "  {name}: {} live, delivered {}, pruned {}, panics {}",
            subject.len(),
            s.delivered,
            s.pruned,
            s.panics
        );
    }
    drop((audit, welcomer, revenue));
}
