//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Runs `f` with a tracing subscriber that records ERROR events of this thread, and returns
/// them as text lines.
pub fn capture_errors<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    capture(tracing::Level::ERROR, f)
}

/// As [`capture_errors`], for WARN events and above.
pub fn capture_warnings<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    capture(tracing::Level::WARN, f)
}

fn capture<R>(level: tracing::Level, f: impl FnOnce() -> R) -> (R, Vec<String>) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(level)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (result, text.lines().map(str::to_owned).collect())
}

/// Counts how many times values made by it were dropped.
#[derive(Clone, Default)]
pub struct DropCounter(pub Arc<AtomicUsize>);

impl DropCounter {
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Increments its counter when dropped.
pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: a DropToken owns no handles.
unsafe impl weakling::Trace for DropToken {
    const LEAF: bool = true;
    fn trace(&self, _: &mut weakling::Tracer<'_>) {}
}

/// An append-only log shared by callbacks.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Scales iteration counts down when CI runs the tests under valgrind or a sanitizer.
pub fn scaled(n: usize) -> usize {
    match std::env::var("WEAKLING_TEST_SCALE").ok().and_then(|s| s.parse::<usize>().ok()) {
        Some(divisor) if divisor > 0 => (n / divisor).max(1),
        _ => n,
    }
}

/// A node of test graphs: named, with edges that can change, counting its drops.
#[derive(weakling::Trace)]
pub struct Node {
    pub name: &'static str,
    pub edges: weakling::GcCell<Vec<weakling::Gc<Node>>>,
    #[trace(skip)]
    pub token: Option<DropToken>,
}

/// A new node on `heap` whose drop `drops` counts.
pub fn node(heap: &weakling::Heap, name: &'static str, drops: &DropCounter) -> weakling::Gc<Node> {
    weakling::Gc::new_in(
        Node { name, edges: weakling::GcCell::new(Vec::new()), token: Some(drops.token()) },
        heap,
    )
}

/// Adds the edge `from → to`.
pub fn link(from: &weakling::Gc<Node>, to: &weakling::Gc<Node>) {
    from.edges.write().push(to.clone());
}

/// A heap whose automatic collections do not interfere with what a test counts.
pub fn quiet_heap() -> weakling::Heap {
    let heap = weakling::Heap::new();
    heap.set_automatic_collection(false);
    heap
}

/// Serialises the tests of one test binary that use process-wide state: a read pin held by a
/// test running beside another would hold that test's destructions back too, and the box
/// cache's depot takes in every thread's freed boxes.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
