//! Process-wide shutdown of the finalize registry: one test per binary, since nothing runs
//! after it.

mod common;

use common::{capture_errors, Log};
use weakling::{finalize, Gc};

#[test]
fn shutdown_runs_live_atexit_finalizers_newest_first_then_nothing_ever_again() {
    let log = Log::default();
    let a = Gc::new(1_u8);
    let b = Gc::new(2_u8);
    let c = Gc::new(3_u8);
    let l = log.clone();
    let _fa = finalize(&a, move || l.push("a"));
    let _fb = finalize(&b, || panic!("b fails at exit"));
    let (l, keep) = (log.clone(), a.clone());
    let _fc = finalize(&c, move || {
        l.push("c registers one more");
        let l2 = l.clone();
        let _ = finalize(&keep, move || l2.push("registered during exit"));
    });
    let dead = Gc::new(4_u8);
    let l = log.clone();
    let _fd = finalize(&dead, move || l.push("died before exit"));
    drop(dead);
    assert_eq!(log.take(), ["died before exit"]);

    let ((), errors) = capture_errors(|| {
        let _guard = weakling::ShutdownGuard::new();
    });
    assert_eq!(log.take(), ["c registers one more", "registered during exit", "a"]);
    assert!(errors.iter().any(|e| e.contains("b fails at exit")), "{errors:?}");

    // After shutdown nothing runs: not at death, not by call, not for new registrations.
    let e = Gc::new(5_u8);
    let l = log.clone();
    let fe = finalize(&e, move || l.push("never"));
    assert_eq!(fe.call(), None);
    drop((a, b, c, e));
    weakling::shutdown();
    assert!(log.take().is_empty());
}
