//! Misuses of `#[derive(Trace)]` and `Gc::new` that must not compile, with readable errors.

#[test]
fn derive_and_gc_misuse_is_rejected() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
