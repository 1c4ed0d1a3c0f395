//! Runs every example and checks what it prints.
//!
//! The examples mirror Python sessions from the seed posts: `>>>` lines are the Python
//! statements and the lines after them are what the Rust counterpart printed at that moment.
//! Comparing the transcript line by line checks *when* things happen (a destruction message
//! right after the statement that released the last reference, never later), not only
//! that they happen. Commentary lines (starting with `#`) are skipped, so the prose can
//! change freely. Addresses differ between runs and are replaced by labels; see
//! [`normalize`].
//!
//! The binaries are built with `cargo build --examples` in the target directory and profile
//! this test was built in: a no-op when `cargo test` already built them, and what makes
//! `cargo test --test examples` alone work on a clean target directory and never run a stale
//! binary.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every example, with the test below that checks it.
const EXAMPLES: &[&str] = &[
    "refcount",
    "rebinding",
    "weakref_basics",
    "weak_callback",
    "weak_temporary",
    "weak_friends",
    "weak_parent",
    "cycles",
    "generations",
    "leak_hunt",
    "finalizers",
    "weakref_finalize",
    "weakref_proxy",
    "observer",
    "event_bus",
    "tour",
    "weak_value_cache",
    "weak_key_extra",
    "weak_set_observers",
    "id_registry",
    "hitrate",
    "policy_pairs",
    "get_object",
    "cached_loader",
];

/// The directory of the profile this test binary belongs to: `<target>/[<triple>/]<profile>`.
/// Integration tests live in its `deps` folder.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <profile>/deps")
        .to_path_buf()
}

/// Cargo's arguments that select this test's target directory, target triple and profile,
/// so the examples are built with the same settings (and found up to date after
/// `cargo test`). Derived from where this binary is, which follows `CARGO_TARGET_DIR` and
/// `--target-dir` alike.
fn build_args() -> Vec<String> {
    let profile_dir = profile_dir();
    // `CARGO_TARGET_TMPDIR` is `<target>/tmp`; fall back to the layout if it ever is not.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| profile_dir.parent().unwrap().to_path_buf());
    let mut args = vec![
        "build".to_string(),
        "--examples".to_string(),
        "--message-format=json-render-diagnostics".to_string(),
        "--manifest-path".to_string(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml").display().to_string(),
        "--target-dir".to_string(),
        target_dir.display().to_string(),
    ];
    // A cross build puts profiles under `<target>/<triple>/`.
    if let Some(parent) = profile_dir.parent() {
        if parent != target_dir {
            if let Some(triple) = parent.file_name() {
                args.push("--target".to_string());
                args.push(triple.to_string_lossy().into_owned());
            }
        }
    }
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => args.push("--release".to_string()),
        Some(other) => {
            args.push("--profile".to_string());
            args.push(other.to_string());
        }
    }
    args
}

/// Reads one JSON string value that starts right after `key` in `line` (Cargo's messages
/// are one object per line; no JSON crate is needed for one field).
fn json_string_after(line: &str, key: &str) -> Option<String> {
    let start = line.find(key)? + key.len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other), // `\\`, `\"`, `\/`
            },
            c => out.push(c),
        }
    }
    None
}

/// Example name -> binary, built once per test process.
fn binaries() -> &'static HashMap<String, PathBuf> {
    static BINARIES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .args(build_args())
            .output()
            .expect("cargo can be run from the test");
        assert!(
            output.status.success(),
            "building the examples failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut found = HashMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if !line.contains(r#""reason":"compiler-artifact""#)
                || !line.contains(r#""kind":["example"]"#)
            {
                continue;
            }
            if let Some(exe) = json_string_after(line, r#""executable":""#) {
                let exe = PathBuf::from(exe);
                let name = exe.file_stem().unwrap().to_string_lossy().into_owned();
                found.insert(name, exe);
            }
        }
        found
    })
}

/// The example's binary: the one Cargo just reported, or else the one beside this test.
fn binary(name: &str) -> PathBuf {
    if let Some(path) = binaries().get(name) {
        return path.clone();
    }
    let beside =
        profile_dir().join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(beside.exists(), "no binary for example `{name}` (looked at {})", beside.display());
    beside
}

/// Runs an example, checks it exits with 0, and returns its normalized transcript.
fn run(name: &str) -> Vec<String> {
    let output = Command::new(binary(name))
        .output()
        .unwrap_or_else(|e| panic!("running example `{name}`: {e}"));
    let stdout = String::from_utf8(output.stdout).expect("examples print UTF-8");
    assert!(
        output.status.success(),
        "example `{name}` failed with {}:\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    normalize(&stdout)
}

/// Drops commentary (`#` lines) and blank lines, and replaces each hexadecimal address with
/// a label: `<1>` for the first address seen in a section, `<2>` for the next, and so on,
/// the same label for the same address. Labels restart at each `#` line (the examples start
/// each section with one), and an address is forgotten after a line that reports its
/// object destroyed, because the allocator may hand it to a later object. So the
/// expectations can say "the object created first is the one destroyed here" without
/// depending on actual addresses.
fn normalize(stdout: &str) -> Vec<String> {
    let mut labels: HashMap<String, usize> = HashMap::new();
    let mut next = 1;
    let mut out = Vec::new();
    for line in stdout.lines() {
        if line.starts_with('#') {
            labels.clear();
            next = 1;
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut masked = String::new();
        let mut seen = Vec::new();
        let mut rest = line;
        while let Some(at) = rest.find("0x") {
            masked.push_str(&rest[..at]);
            let digits = rest[at + 2..]
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(rest.len() - at - 2);
            if digits == 0 {
                masked.push_str("0x");
                rest = &rest[at + 2..];
                continue;
            }
            let address = rest[at..at + 2 + digits].to_string();
            let label = *labels.entry(address.clone()).or_insert_with(|| {
                next += 1;
                next - 1
            });
            masked.push_str(&format!("<{label}>"));
            seen.push(address);
            rest = &rest[at + 2 + digits..];
        }
        masked.push_str(rest);
        if line.contains("destroy") {
            for address in seen {
                labels.remove(&address);
            }
        }
        out.push(masked);
    }
    out
}

/// Checks the whole transcript, showing both in full when they differ.
fn assert_transcript(name: &str, expected: &[&str]) {
    let actual = run(name);
    assert_eq!(actual, expected, "example `{name}` printed (normalized):\n{}\n", actual.join("\n"));
}

/// Checks that `expected` appear in the transcript in this order (others may come between),
/// and returns the transcript.
fn assert_in_order(name: &str, expected: &[&str]) -> Vec<String> {
    let actual = run(name);
    let mut lines = actual.iter();
    for want in expected {
        assert!(
            lines.any(|line| line == want),
            "example `{name}`: missing `{want}` (or out of order) in:\n{}\n",
            actual.join("\n")
        );
    }
    actual
}

#[test]
fn refcount_prints_python_counts_minus_one() {
    assert_transcript(
        "refcount",
        &[
            ">>> a = RefExam()",
            "create object",
            ">>> sys.getrefcount(a)",
            "count 1  (Python: 2)",
            ">>> b = a",
            "count 2  (Python: 3)",
            ">>> c = a",
            "count 3  (Python: 4)",
            ">>> c = 0",
            "count 2  (Python: 3)",
            ">>> b = 0",
            "count 1  (Python: 2)",
            "b is 0",
            "c is 0",
            "count via a by-value argument: 2",
            "count 1",
        ],
    );
}

#[test]
fn rebinding_destroys_at_the_rebinding_statement() {
    assert_transcript(
        "rebinding",
        &[
            // seed 001
            ">>> a = Foo()",
            "Object(<1>) is being created.",
            ">>> print('...')",
            "...",
            ">>> a = 1",
            "Object(<1>) is being destroyed.",
            ">>> print('end')",
            "end",
            ">>> a",
            "1",
            // seed 000: the first Foo dies at `a = b`, the second only at `a = 2`
            ">>> a = Foo()",
            "Object(<1>) is being created.",
            ">>> b = Foo()",
            "Object(<2>) is being created.",
            ">>> a = b",
            "Object(<1>) is being destroyed.",
            ">>> b = 1",
            ">>> a",
            "<Foo object at <2>, value 1>",
            ">>> a = 2",
            "Object(<2>) is being destroyed.",
            ">>> a, b",
            "(2, 1)",
            // seed 002
            ">>> a = RefExam()",
            "create object",
            ">>> a = 0",
            "destroy <1>",
            ">>> print('end .....')",
            "end .....",
            ">>> a",
            "0",
        ],
    );
}

#[test]
fn weakref_basics_sees_the_object_then_none() {
    assert_transcript(
        "weakref_basics",
        &[
            ">>> a_set = {0, 1}",
            ">>> a_ref = weakref.ref(a_set)",
            ">>> print(a_ref)",
            "(Weak at <1>; alive)",
            ">>> print(a_ref())",
            "{0, 1}",
            ">>> a_set = {2, 3, 4}",
            ">>> print(a_ref())",
            "None",
            ">>> print(a_ref() is None)",
            "True",
            ">>> print(a_ref)",
            "(Weak at <1>; dead)",
            ">>> print(a_set)",
            "{2, 3, 4}",
            ">>> obj = MyClass(\"example\")",
            ">>> ref = weakref.ref(obj)",
            ">>> weakref.getweakrefcount(obj), sys.getrefcount(obj) - 1",
            "(1, 1)",
            ">>> print(ref())",
            "MyClass { name: \"example\" }",
            ">>> print(ref().name)",
            "example",
            ">>> del obj",
            ">>> print(ref())",
            "None",
            ">>> obj = ref()",
            ">>> if obj is not None: obj.method()",
            "(obj is None: method not called)",
            "method called on still here",
        ],
    );
}

#[test]
fn weak_callback_runs_at_death_newest_first_unless_cancelled() {
    assert_transcript(
        "weak_callback",
        &[
            ">>> obj = Resource(\"data\")",
            ">>> ref = weakref.ref(obj, callback)",
            ">>> obj.name",
            "\"data\"",
            ">>> del obj",
            "Object was garbage collected!",
            "(inside the callback, ref() is None: True)",
            ">>> ref() is None",
            "True",
            ">>> obj = Resource(\"shared\")",
            ">>> r1 = weakref.ref(obj, lambda r: print('callback 1'))",
            ">>> r2 = weakref.ref(obj, lambda r: print('callback 2'))",
            ">>> r3 = weakref.ref(obj, lambda r: print('callback 3'))",
            ">>> weakref.getweakrefcount(obj)",
            "3",
            ">>> del obj",
            "callback 3",
            "callback 2",
            "callback 1",
            ">>> [r() for r in (r1, r2, r3)]",
            "[None, None, None]",
            ">>> obj = Resource(\"quiet\")",
            ">>> kept = weakref.ref(obj, lambda r: print('kept: obj died'))",
            ">>> gone = weakref.ref(obj, lambda r: print('gone: obj died'))",
            ">>> del gone",
            ">>> del obj",
            "kept: obj died",
            ">>> kept() is None",
            "True",
        ],
    );
}

#[test]
fn weak_temporary_dies_at_the_end_of_its_statement() {
    assert_transcript(
        "weak_temporary",
        &[
            ">>> ref = weakref.ref(SomeClass())",
            "SomeClass(temporary) destroyed",
            ">>> print(ref())",
            "None",
            ">>> obj = SomeClass()",
            ">>> ref = weakref.ref(obj)",
            ">>> print(ref())",
            "SomeClass { label: \"named\" }",
            ">>> del obj",
            "SomeClass(named) destroyed",
            ">>> print(ref())",
            "None",
            ">>> ref = weakref.ref(SomeClass(), lambda r: print('callback ran'))",
            "callback ran",
            "SomeClass(temporary) destroyed",
            ">>> print(ref())",
            "None",
            ">>> del obj",
            "callback of `_kept` ran",
            "SomeClass(watched) destroyed",
        ],
    );
}

#[test]
fn weak_friends_are_freed_by_reference_counting_alone() {
    assert_transcript(
        "weak_friends",
        &[
            // seed 001, a strong friend: b outlives func, and `del a` frees b, then a
            ">>> a = Foo()",
            "Object(<1>) is being created.",
            ">>> func(a)",
            ">>>   b = Foo()",
            "Object(<2>) is being created.",
            ">>>   print(a); print(b)",
            "<Foo object at <1>, value 1>",
            "<Foo object at <2>, value 1>",
            ">>>   a.friend = b",
            ">>> del a",
            "Object(<2>) is being destroyed.",
            "Object(<1>) is being destroyed.",
            // seed 001, weak friends: each dies with its own name
            ">>> a, b = Foo(), Foo()",
            "Object(<1>) is being created.",
            "Object(<2>) is being created.",
            ">>> a.friend = weakref.ref(b)",
            ">>> b.friend = weakref.ref(a)",
            ">>> b = None",
            "Object(<2>) is being destroyed.",
            ">>> a.friend()",
            "None",
            ">>> a = None",
            "Object(<1>) is being destroyed.",
            // seed 004, strong chain
            ">>> a, b, c = object(), object(), object()",
            ">>> a.b = b; b.c = c",
            ">>> sys.getrefcount(b) - 1, sys.getrefcount(c) - 1",
            "(2, 2)",
            ">>> a = b = c = None",
            "a destroyed",
            "b destroyed",
            "c destroyed",
            ">>> print(a_ref, b_ref, c_ref)",
            "(Weak at <1>; dead) (Weak at <2>; dead) (Weak at <3>; dead)",
            // seed 004, weak ring: all three dead at the end
            ">>> a, b, c = object(), object(), object()",
            ">>> a.b = weakref.ref(b); b.c = weakref.ref(c); c.a = weakref.ref(a)",
            ">>> a_ref, b_ref, c_ref = weakref.ref(a), weakref.ref(b), weakref.ref(c)",
            ">>> print(a_ref, b_ref, c_ref)",
            "(Weak at <1>; alive) (Weak at <2>; alive) (Weak at <3>; alive)",
            ">>> sys.getrefcount(a) - 1, sys.getrefcount(b) - 1, sys.getrefcount(c) - 1",
            "(1, 1, 1)",
            ">>> a = b = c = None",
            "a destroyed",
            "b destroyed",
            "c destroyed",
            ">>> print(a_ref, b_ref, c_ref)",
            "(Weak at <1>; dead) (Weak at <2>; dead) (Weak at <3>; dead)",
        ],
    );
}

#[test]
fn weak_parent_does_not_keep_the_parent_alive() {
    assert_transcript(
        "weak_parent",
        &[
            ">>> parent = Parent(\"Parent\")",
            ">>> child = Child(\"Child\", parent)",
            ">>> parent.children.append(child)",
            ">>> print(child.parent.name)",
            "Parent",
            ">>> sys.getrefcount(parent) - 1, sys.getrefcount(child) - 1",
            "(1, 2)",
            ">>> del parent",
            "Parent destroyed",
            ">>> print(child.parent)",
            "None",
            ">>> sys.getrefcount(child) - 1",
            "1",
            ">>> del child",
            "Child destroyed",
        ],
    );
}

#[test]
fn leak_hunt_finds_the_cycle_and_the_fix_removes_it() {
    assert_transcript(
        "leak_hunt",
        &[
            ">>> gc.disable()",
            ">>> for i in range(100): handle_request(i)",
            "(live objects on the heap: 200)",
            ">>> Counter(type(o).__name__ for o in gc.get_objects())",
            "Listener: 100",
            "Session: 100",
            ">>> gc.set_debug(gc.DEBUG_SAVEALL); gc.collect()",
            "200",
            ">>> Counter(type(o).__name__ for o in gc.garbage)",
            "Session: 100",
            "Listener: 100",
            ">>> session = next(o for o in gc.garbage if isinstance(o, Session))",
            ">>> [type(r).__name__ for r in gc.get_referrers(session)]",
            "[\"Listener\"]",
            ">>> gc.get_referrers(session)[0].session is session",
            "True",
            ">>> session.id",
            "0",
            ">>> gc.garbage.clear(); gc.set_debug(0); gc.collect()",
            "200",
            "(live objects on the heap: 0)",
            ">>> for i in range(100): handle_request_fixed(i)",
            "(live objects on the heap: 0)",
            ">>> Counter(type(o).__name__ for o in gc.get_objects())",
            "{}",
        ],
    );
}

#[test]
fn cycles_leak_until_collected() {
    assert_transcript(
        "cycles",
        &[
            ">>> gc.disable()",
            ">>> gc.isenabled()",
            "False",
            // seed 002: no `destroy` at `a = 0`, only inside gc.collect()
            ">>> a = RefExam()",
            "create object",
            ">>> a_ref = weakref.ref(a)",
            ">>> sys.getrefcount(a) - 1",
            "2",
            ">>> a = 0",
            ">>> print('end .....')",
            "end .....",
            ">>> print(a_ref)",
            "(Weak at <1>; alive)",
            "(live objects on the heap: 1)",
            ">>> gc.collect()",
            "destroy <2>",
            "1",
            "(live objects on the heap: 0)",
            ">>> print(a_ref)",
            "(Weak at <1>; dead)",
            // seed 001: two friends, freed together by the collection
            ">>> a, b = Foo(), Foo()",
            "Object(<1>) is being created.",
            "Object(<2>) is being created.",
            ">>> a.friend = b; b.friend = a",
            ">>> a_ref, b_ref = weakref.ref(a), weakref.ref(b)",
            ">>> print(a.value, b.friend.value)",
            "1 1",
            ">>> a = None; b = None",
            ">>> print(a_ref, b_ref)",
            "(Weak at <3>; alive) (Weak at <4>; alive)",
            "(live objects on the heap: 2)",
            ">>> gc.collect()",
            "Object(<1>) is being destroyed.",
            "Object(<2>) is being destroyed.",
            "2",
            "(live objects on the heap: 0)",
            ">>> print(a_ref, b_ref)",
            "(Weak at <3>; dead) (Weak at <4>; dead)",
            // seed 004: the strong ring a -> b -> c -> a
            ">>> a, b, c = object(), object(), object()",
            ">>> a.b = b; b.c = c; c.a = a",
            ">>> a_ref, b_ref, c_ref = weakref.ref(a), weakref.ref(b), weakref.ref(c)",
            ">>> sys.getrefcount(a) - 1, sys.getrefcount(b) - 1, sys.getrefcount(c) - 1",
            "(2, 2, 2)",
            ">>> a = b = c = None",
            ">>> print(a_ref, b_ref, c_ref)",
            "(Weak at <1>; alive) (Weak at <2>; alive) (Weak at <3>; alive)",
            ">>> a_ref().b.c.a is a_ref()",
            "True",
            ">>> sys.getrefcount(a_ref()) - 1   # only c.a is left",
            "1",
            "(live objects on the heap: 3)",
            ">>> gc.collect()",
            "a destroyed",
            "b destroyed",
            "c destroyed",
            "3",
            "(live objects on the heap: 0)",
            ">>> print(a_ref, b_ref, c_ref)",
            "(Weak at <1>; dead) (Weak at <2>; dead) (Weak at <3>; dead)",
        ],
    );
}

#[test]
fn generations_promote_survivors_and_keep_memory_flat() {
    assert_transcript(
        "generations",
        &[
            ">>> gc.get_threshold()",
            "(2000, 10, 10)",
            ">>> heap = Heap()   # an isolated heap, same defaults",
            ">>> heap.get_threshold()",
            "(2000, 10, 10)",
            ">>> gc.disable()   # on the isolated heap: explicit collections only",
            // the count rises in steps of 128, when the nursery is flushed
            ">>> gc.get_count()",
            "(0, 0, 0)",
            ">>> kept = [Node() for _ in range(100)]",
            ">>> gc.get_count()",
            "(0, 0, 0)",
            ">>> kept += [Node() for _ in range(28)]",
            ">>> gc.get_count()",
            "(128, 0, 0)",
            ">>> for _ in range(300): n = Node(); n.me = n; del n",
            ">>> gc.get_count()",
            "(384, 0, 0)",
            ">>> len(gc.get_objects())",
            "428",
            // generation 0 collected: cycles freed, survivors promoted
            ">>> gc.collect(0)",
            "300",
            "Collection { generation: 0, examined: 428, unreachable: 300, .. }",
            ">>> gc.get_count()",
            "(0, 1, 0)",
            ">>> len(gc.get_objects())",
            "128",
            ">>> gc.collect(0)",
            "0",
            "Collection { generation: 0, examined: 0, unreachable: 0, .. }",
            ">>> gc.get_count()",
            "(0, 2, 0)",
            ">>> gc.collect(1)",
            "0",
            "Collection { generation: 1, examined: 128, unreachable: 0, .. }",
            ">>> gc.get_count()",
            "(0, 0, 1)",
            ">>> gc.collect()   # every generation",
            "0",
            ">>> gc.get_count()",
            "(0, 0, 0)",
            ">>> gc.get_stats()",
            "generation 0: {'collections': 2, 'collected': 300, 'uncollectable': 0}",
            "generation 1: {'collections': 1, 'collected': 0, 'uncollectable': 0}",
            "generation 2: {'collections': 1, 'collected': 0, 'uncollectable': 0}",
            // automatic collection with the default thresholds
            ">>> gc.enable()",
            ">>> for _ in range(100_000): n = Node(); n.me = n; del n",
            "peak live objects: 2189",
            ">>> len(gc.get_objects())",
            "1828",
            ">>> gc.get_count()",
            "(1664, 0, 4)",
            ">>> gc.get_stats()",
            "generation 0: {'collections': 46, 'collected': 90368, 'uncollectable': 0}",
            "generation 1: {'collections': 5, 'collected': 8232, 'uncollectable': 0}",
            "generation 2: {'collections': 1, 'collected': 0, 'uncollectable': 0}",
            ">>> gc.collect()",
            "1700",
            // a lower threshold for generation 0: a lower peak
            ">>> gc.set_threshold(500, 10, 10)",
            ">>> gc.get_threshold()",
            "(500, 10, 10)",
            ">>> for _ in range(100_000): n = Node(); n.me = n; del n",
            "peak live objects: 665",
            ">>> gc.get_stats()",
            "generation 0: {'collections': 225, 'collected': 181837, 'uncollectable': 0}",
            "generation 1: {'collections': 21, 'collected': 16584, 'uncollectable': 0}",
            "generation 2: {'collections': 2, 'collected': 1700, 'uncollectable': 0}",
            // no automatic collection: every cycle stays until gc.collect()
            ">>> gc.collect(); gc.disable()",
            ">>> for _ in range(10_000): n = Node(); n.me = n; del n",
            "peak live objects: 10128",
            ">>> gc.collect()",
            "10000",
            ">>> len(gc.get_objects())",
            "128",
            ">>> del kept; len(gc.get_objects())",
            "0",
        ],
    );
}

#[test]
fn tour_shows_each_feature_and_the_overhead() {
    let transcript = assert_in_order(
        "tour",
        &[
            "1. Gc<T>: strong handles, counted like Python's names",
            "  a = Thing(); b = a -> strong_count(a) = 2",
            "  del b -> strong_count(a) = 1",
            "  del a ->",
            "  drop: thing is destroyed",
            "2. Weak<T>: observe without keeping alive",
            "  r = weakref.ref(a) -> r() is observed, weak_count(a) = 1, strong_count(a) = 1",
            "  drop: observed is destroyed",
            "  after del a -> r() is None",
            "3. death callbacks: weakref.ref(obj, callback)",
            "  del a ->",
            "  callback 2 (registered second)",
            "  callback 1 (registered first)",
            "  drop: watched is destroyed",
            "4. Heap: an isolated object space with counters",
            "  a u64 and a Vec<Gc<u64>>: allocations 2, live 2, tracked 1 (only the Vec can hold handles)",
            "  after dropping both: frees 2, live 0, tracked 0",
            "5. #[derive(Trace)] + GcCell: objects whose edges change",
            "  head.next = tail -> head.next.name = tail, strong_count(tail) = 2",
            "  gc.get_referents(head) -> 1 edge, to tail: true",
            "  del head -> strong_count(tail) = 1",
            "6. a chain of 1000000 nodes, dropped without a deep stack",
            "  built: live 1000000",
            "  dropped: live 0, frees 1000000",
            "7. memory: bytes per object beyond the value",
            "  leaf object (a u64, no handles inside): 16 bytes",
            "  tracked object (may hold handles):      32 bytes",
        ],
    );
    // The cancelled callback of step 3 must never print.
    assert!(!transcript.iter().any(|l| l.contains("never printed")));
}

#[test]
fn every_example_is_tested_and_listed_in_the_readme() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let tested: BTreeSet<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, tested, "examples/*.rs and EXAMPLES differ");

    let readme = std::fs::read_to_string(dir.join("README.md")).expect("examples/README.md");
    for name in EXAMPLES {
        assert!(
            readme.contains(&format!("`{name}.rs`")),
            "examples/README.md has no line for `{name}.rs`"
        );
    }
}

#[test]
fn normalize_labels_addresses_per_section_and_forgets_the_destroyed() {
    let text = "# one\nObject(0xab) is being created.\n\nObject(0xcd) x\n\
                Object(0xab) is being destroyed.\nObject(0xab) again\n# two\n0xcd 0x";
    assert_eq!(
        normalize(text),
        [
            "Object(<1>) is being created.",
            "Object(<2>) x",
            "Object(<1>) is being destroyed.",
            "Object(<3>) again",
            "<1> 0x",
        ]
    );
}

#[test]
fn finalizers_see_their_cycle_whole_and_may_resurrect() {
    assert_transcript(
        "finalizers",
        &[
            ">>> a, b = Foo('a'), Foo('b'); a.friend = b; b.friend = a",
            ">>> a = b = None",
            ">>> gc.collect()",
            "a.__del__: friend b is whole",
            "b.__del__: friend a is whole",
            "a dropped",
            "b dropped",
            "2",
            ">>> p = Phoenix(); p = None",
            ">>> gc.collect()",
            "Phoenix.__del__: saving itself",
            "0",
            ">>> len(survivors)",
            "1",
            ">>> survivors.clear()",
            ">>> gc.collect()",
            "Phoenix dropped",
            "1",
            "(live objects on the heap: 0)",
        ],
    );
}

#[test]
fn weakref_finalize_cleans_up_once_and_at_exit() {
    assert_transcript(
        "weakref_finalize",
        &[
            ">>> obj = Resource(\"data\")",
            ">>> f = weakref.finalize(obj, cleanup, obj.name)",
            ">>> f.alive",
            "true",
            ">>> del obj",
            "Cleaning up data",
            ">>> f.alive",
            "false",
            ">>> f()",
            "Cleaning up early",
            "Some(\"done\")",
            ">>> f()",
            "None",
            ">>> del obj",
            ">>> obj2, func = f.detach()[:2]; obj2 is obj",
            "true",
            ">>> del obj, obj2",
            ">>> del obj",
            "finalizer 3",
            "finalizer 2",
            "finalizer 1",
            ">>> exit()",
            "at exit: second",
            "at exit: first",
        ],
    );
}

#[test]
fn weakref_proxy_reads_while_alive_then_reports_reference_error() {
    assert_transcript(
        "weakref_proxy",
        &[
            ">>> obj = Data(42)",
            ">>> proxy = weakref.proxy(obj)",
            ">>> print(proxy.value)",
            "42",
            ">>> print(proxy.get())",
            "42",
            ">>> print(proxy.value + proxy.get())",
            "Ok(84)",
            ">>> del obj",
            ">>> print(proxy.value)",
            "ReferenceError: weakly-referenced object no longer exists (a `weakref_proxy::Data`)",
            ">>> print(proxy.value + proxy.get())",
            "ReferenceError: weakly-referenced object no longer exists (a `weakref_proxy::Data`)",
        ],
    );
}

#[test]
fn observer_a_deleted_observer_stops_receiving() {
    assert_transcript(
        "observer",
        &[
            ">>> subject = Subject()",
            ">>> obs1 = Observer(\"Observer1\"); obs2 = Observer(\"Observer2\")",
            ">>> subject.register(obs1); subject.register(obs2)",
            ">>> subject.notify_all(\"Hello\")",
            "Observer1 received: Hello",
            "Observer2 received: Hello",
            ">>> del obs1",
            ">>> subject.notify_all(\"World\")",
            "Observer2 received: World",
            ">>> logger = Logger(\"log: \"); subject.register(WeakMethod(logger.log))",
            ">>> subject.notify_all(\"again\")",
            "Observer2 received: again",
            "log: again",
            ">>> subject.unregister(logger.log)",
            "true",
            ">>> subject.notify_all(\"last\")",
            "Observer2 received: last",
            "(delivered 6, pruned 1, panics 0)",
        ],
    );
}

#[test]
fn event_bus_components_come_and_go() {
    assert_transcript(
        "event_bus",
        &[
            "  audit: UserJoined(\"ann\")",
            "ERROR panic in user code contained context=\"observer\" welcome mail service unavailable",
            "  [users] UserJoined(\"ann\") -> 1 component(s)",
            "  audit: UserJoined(\"bo\")",
            "  welcomer: hello, bo",
            "  [users] UserJoined(\"bo\") -> 2 component(s)",
            "  audit: OrderPlaced { user: \"ann\", amount: 30 }",
            "  revenue: 30 from ann, total 30",
            "  [orders] OrderPlaced { user: \"ann\", amount: 30 } -> 2 component(s)",
            "  audit: OrderPlaced { user: \"bo\", amount: 12 }",
            "  [orders] OrderPlaced { user: \"bo\", amount: 12 } -> 1 component(s)",
            "  audit: OrderPlaced { user: \"cy\", amount: 7 }",
            "  revenue: 7 from cy, total 7",
            "  [orders] OrderPlaced { user: \"cy\", amount: 7 } -> 2 component(s)",
            "  orders: 2 live, delivered 5, pruned 1, panics 0",
            "  users: 2 live, delivered 3, pruned 0, panics 1",
        ],
    );
}

#[test]
fn weak_value_cache_returns_the_same_object_then_a_fresh_one() {
    assert_transcript(
        "weak_value_cache",
        &[
            ">>> cache = weakref.WeakValueDictionary()",
            ">>> obj1 = get_object(1)",
            "Created 1",
            ">>> obj2 = get_object(1)",
            ">>> print(obj1 is obj2)",
            "True",
            ">>> obj3 = get_object(2)",
            "Created 2",
            ">>> print(dict(cache))",
            "{1: <ExpensiveObject 1>, 2: <ExpensiveObject 2>}",
            ">>> del obj1",
            ">>> print(len(cache))",
            "2",
            ">>> del obj2",
            "(ExpensiveObject 1 destroyed)",
            ">>> print(dict(cache))",
            "{2: <ExpensiveObject 2>}",
            ">>> obj1 = get_object(1)",
            "Created 1",
            ">>> print(dict(cache))",
            "{1: <ExpensiveObject 1>, 2: <ExpensiveObject 2>}",
            ">>> del obj1, obj3",
            "(ExpensiveObject 1 destroyed)",
            "(ExpensiveObject 2 destroyed)",
            ">>> print(dict(cache))",
            "{}",
        ],
    );
}

#[test]
fn weak_key_extra_data_goes_with_its_key_and_the_self_reference_is_collected() {
    assert_transcript(
        "weak_key_extra",
        &[
            ">>> extra_data = weakref.WeakKeyDictionary()",
            ">>> user = User(\"Alice\")",
            ">>> extra_data[user] = {\"score\": 100, \"level\": 5}",
            ">>> print(extra_data[user])",
            "{\"level\": 5, \"score\": 100}",
            ">>> print(len(extra_data))",
            "1",
            ">>> del user",
            "(User Alice destroyed)",
            ">>> print(dict(extra_data))",
            "{}",
            ">>> d = weakref.WeakKeyDictionary()",
            ">>> k = Node(\"k\")",
            ">>> k_ref = weakref.ref(k)",
            ">>> d[k] = Session(owner=k)",
            ">>> del k",
            ">>> print(len(d), k_ref() is None)",
            "1 False",
            ">>> gc.collect()",
            "(Node k destroyed)",
            ">>> print(len(d), k_ref() is None)",
            "0 True",
        ],
    );
}

#[test]
fn weak_set_observers_stop_being_notified_when_dropped() {
    assert_transcript(
        "weak_set_observers",
        &[
            ">>> subject = Subject()",
            ">>> obs1 = Observer(\"Observer1\")",
            ">>> obs2 = Observer(\"Observer2\")",
            ">>> subject.register(obs1); subject.register(obs2)",
            ">>> subject.notify_all(\"Hello\")",
            "Observer1 received: Hello",
            "Observer2 received: Hello",
            ">>> del obs1",
            "(Observer1 destroyed)",
            ">>> print(len(subject._observers))",
            "1",
            ">>> subject.notify_all(\"World\")",
            "Observer2 received: World",
            ">>> del obs2",
            "(Observer2 destroyed)",
            ">>> subject.notify_all(\"Anyone?\")",
        ],
    );
}

#[test]
fn id_registry_finds_live_objects_from_any_thread() {
    assert_transcript(
        "id_registry",
        &[
            ">>> registry = weakref.WeakValueDictionary()",
            ">>> a = Widget(\"ok\"); b = Widget(\"cancel\")",
            ">>> print(registry[2].label)  # from another thread",
            "cancel",
            ">>> del b",
            ">>> print(registry.get(2))",
            "None",
            ">>> print(sorted(registry.keys()))",
            "[1]",
            ">>> for i in range(100): Widget(str(i))",
            ">>> print(len(registry), registry[a.id].label)",
            "1 ok",
        ],
    );
}

/// Runs the hit-rate tool with `args`; returns (success, stdout, stderr).
fn run_hitrate(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let output = Command::new(binary("hitrate")).args(args).output().expect("hitrate runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The cells of the table row for `capacity` under the table that follows `heading`, by
/// column name.
fn hitrate_row(stdout: &str, heading: &str, capacity: u64) -> HashMap<String, String> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(&format!("## {heading}")));
    let header = lines.find(|l| l.starts_with("| capacity")).expect("a table header");
    let names: Vec<&str> = header.trim_matches('|').split('|').map(str::trim).collect();
    let row = lines
        .take_while(|l| l.starts_with('|'))
        .find(|l| {
            l.trim_matches('|').split('|').next().map(str::trim) == Some(&capacity.to_string())
        })
        .unwrap_or_else(|| panic!("no row for capacity {capacity} under {heading}:\n{stdout}"));
    names
        .into_iter()
        .map(String::from)
        .zip(row.trim_matches('|').split('|').map(|c| c.trim().to_string()))
        .collect()
}

#[test]
fn hitrate_replays_tiny_traces_in_every_format() {
    use std::io::Write;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hitrate_smoke");
    std::fs::create_dir_all(&dir).unwrap();
    // 1 2 1 3 1 2: LRU of 2 hits twice (33.33 %); the optimum also hits the last 2, having
    // left 3 out (50.00 %). With one entry LRU never hits and the optimum hits 1 twice.
    let text = dir.join("tiny.txt");
    std::fs::write(&text, "1\n2\n1\n3\n1\n2\n").unwrap();
    // The same requests as an ARC trace (ranges) compressed with gzip.
    let lis = dir.join("tiny.lis.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"1 2 0 0\n1 1 0 0\n3 1 0 0\n1 2 0 0\n").unwrap();
    std::fs::write(&lis, gz.finish().unwrap()).unwrap();
    // And as cache2k's big-endian binary.
    let bin = dir.join("tiny.bin");
    let keys: Vec<u8> = [1u32, 2, 1, 3, 1, 2].iter().flat_map(|k| k.to_be_bytes()).collect();
    std::fs::write(&bin, keys).unwrap();
    let svg = dir.join("chart.svg");
    let _ = std::fs::remove_file(&svg);
    let (ok, stdout, stderr) = run_hitrate(&[
        "-q".as_ref(),
        "-c".as_ref(),
        "1,2".as_ref(),
        "--svg".as_ref(),
        svg.as_os_str(),
        text.as_os_str(),
        lis.as_os_str(),
        bin.as_os_str(),
    ]);
    assert!(ok, "hitrate failed:\n{stdout}\n{stderr}");
    for heading in ["tiny.txt", "tiny.lis", "tiny.bin"] {
        assert!(stdout.contains(&format!("## {heading}: 6 requests, 3 keys")), "{stdout}");
        let one = hitrate_row(&stdout, heading, 1);
        assert_eq!((one["lru"].as_str(), one["belady"].as_str()), ("0.00", "33.33"), "{heading}");
        let two = hitrate_row(&stdout, heading, 2);
        assert_eq!((two["lru"].as_str(), two["belady"].as_str()), ("33.33", "50.00"), "{heading}");
        for column in [
            "s3-fifo",
            "w-tinylfu",
            "sieve",
            "arc",
            "adaptive",
            "moka",
            "quick_cache",
            "two-tier k=1000",
        ] {
            let r: f64 =
                two[column].parse().unwrap_or_else(|_| panic!("{column}: {}", two[column]));
            assert!((0.0..=50.0).contains(&r), "{heading} {column}: {r} exceeds the optimum");
        }
    }
    let chart = std::fs::read_to_string(&svg).expect("the chart was written");
    assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
    assert_eq!(chart.matches("<polyline").count(), 3 * 10, "ten series in each of three panels");

    // A malformed trace is an error naming the file and the line, and the tool fails.
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "1\n2x\n").unwrap();
    let (ok, _, stderr) = run_hitrate(&["-q".as_ref(), bad.as_os_str()]);
    assert!(!ok);
    assert!(stderr.contains("bad.txt:2: key `2x` is not a non-negative integer"), "{stderr}");
    // A file named .gz that is not gzip is refused by name.
    let fake = dir.join("fake.gz");
    std::fs::write(&fake, "1\n").unwrap();
    let (ok, _, stderr) = run_hitrate(&["-q".as_ref(), fake.as_os_str()]);
    assert!(!ok && stderr.contains("fake.gz: named .gz but not in that format"), "{stderr}");
}

#[test]
fn get_object_creates_once_per_use_in_python_and_once_in_all_with_two_tiers() {
    assert_transcript(
        "get_object",
        &[
            ">>> obj1 = get_object(1)",
            "Created 1",
            ">>> obj2 = get_object(1)",
            ">>> print(obj1 is obj2)",
            "True",
            ">>> del obj1, obj2",
            "ExpensiveObject 1 destroyed",
            ">>> print(dict(cache))",
            "{}  (strong 0, weak 0)",
            ">>> obj1 = get_object(1)",
            "Created 1",
            "ExpensiveObject 1 destroyed",
            ">>> obj1 = get_object(1)",
            "Created 1",
            ">>> del obj1",
            ">>> obj1 = get_object(1)",
            ">>> obj2, obj3 = get_object(2), get_object(3)",
            "Created 2",
            "Created 3",
            ">>> get_object(1) is obj1",
            "True",
            ">>> cache statistics",
            "strong hits 1, weak hits 1, misses 3, loads 3",
            ">>> del obj1, again, obj2, obj3",
            "ExpensiveObject 2 destroyed",
            ">>> (strong entries, weak entries alive)",
            "(2, 0)",
            ">>> cache.invalidate(3); cache.invalidate(1)",
            "ExpensiveObject 3 destroyed",
            "ExpensiveObject 1 destroyed",
        ],
    );
}

#[test]
fn cached_loader_loads_once_per_key_across_threads_and_shares_errors() {
    assert_transcript(
        "cached_loader",
        &[
            ">>> data1 = CachedLoader.load(\"key1\")",
            "Loading key1...",
            ">>> data2 = CachedLoader.load(\"key1\")",
            ">>> del data1",
            ">>> data3 = CachedLoader.load(\"key1\")",
            ">>> data3",
            "{'data': 'key1'}",
            ">>> del data2, data3",
            ">>> data4 = CachedLoader.load(\"key1\")",
            "Loading key1...",
            ">>> data1 = CachedLoader.load(\"key1\")",
            "Loading key1...",
            ">>> del data1",
            ">>> data2 = CachedLoader.load(\"key1\")",
            "{'data': 'key1'}",
            "Loading key2...",
            ">>> all four got the same object",
            "True",
            ">>> CachedLoader.try_load(\"key3\") while the backend is down",
            "Loading key3...",
            "error: key3: backend unavailable",
            ">>> CachedLoader.try_load(\"key3\") once it is back",
            "Loading key3...",
            "{'data': 'key3'}",
            ">>> statistics",
            "lookups 8 (hits + misses), loads 3, load failures 1",
        ],
    );
}

#[test]
fn policy_pairs_names_what_it_cannot_replay() {
    // The replays themselves need the shared traces (checked by tests/cache_simulate.rs); here,
    // the tool's failures: an unknown policy, and a traces directory without the files.
    let output = Command::new(binary("policy_pairs")).arg("mru").output().expect("it runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown policy `mru`") && stderr.contains("adaptive"), "{stderr}");

    let empty = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy_pairs_no_traces");
    std::fs::create_dir_all(&empty).expect("a scratch directory");
    let output = Command::new(binary("policy_pairs"))
        .args(["--only", "gli"])
        .env("WEAKLING_TRACES", &empty)
        .output()
        .expect("it runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gli.trace.gz"), "{stderr}");
}
