//! `#[derive(Trace)]`: which handles a derived type reports, and when it is a leaf.
//!
//! Everything is observed through the public surface: `Referents::of`, `Trace::LEAF` and the
//! `tracked` counter of an isolated heap.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use weakling::{Gc, GcCell, Heap, Referents, Trace, Weak};

/// `T::LEAF`, as a function so that the assertions read naturally.
fn leaf<T: Trace + ?Sized>() -> bool {
    T::LEAF
}

/// A few distinct handles to tell reported edges apart.
fn handles<const N: usize>() -> [Gc<u32>; N] {
    std::array::from_fn(|i| Gc::new(i as u32))
}

#[derive(Trace)]
struct Named {
    first: Gc<u32>,
    label: String,
    maybe: Option<Gc<u32>>,
    // A raw identifier must survive the generated field pattern.
    r#type: Gc<u32>,
}

#[derive(Trace)]
struct Tuple(Gc<u32>, u8, Gc<u32>);

#[derive(Trace)]
struct Unit;

#[derive(Trace)]
struct EmptyBraces {}

#[derive(Trace)]
struct EmptyParens();

#[derive(Trace)]
struct Plain {
    n: u64,
    text: String,
    list: Vec<(u8, char)>,
}

#[test]
fn named_struct_reports_each_handle_field() {
    let [a, b, c] = handles();
    let value =
        Named { first: a.clone(), label: "x".into(), maybe: Some(b.clone()), r#type: c.clone() };
    let seen = Referents::of(&value);
    assert_eq!(seen.len(), 3);
    assert_eq!((seen.count(&a), seen.count(&b), seen.count(&c)), (1, 1, 1));
    assert!(!seen.is_opaque());
    assert!(!leaf::<Named>());

    // `None` holds no handle, so only the two others are reported.
    let value = Named { maybe: None, ..value };
    let seen = Referents::of(&value);
    assert_eq!(seen.len(), 2);
    assert!(!seen.contains(&b));
}

#[test]
fn tuple_struct_reports_positional_fields() {
    let [a, b] = handles();
    let seen = Referents::of(&Tuple(a.clone(), 7, b.clone()));
    assert_eq!(seen.len(), 2);
    assert_eq!((seen.count(&a), seen.count(&b)), (1, 1));
    assert!(!leaf::<Tuple>());
}

#[test]
fn structs_without_handles_are_leaves_and_report_nothing() {
    assert!(leaf::<Unit>());
    assert!(leaf::<EmptyBraces>());
    assert!(leaf::<EmptyParens>());
    assert!(leaf::<Plain>());
    assert!(Referents::of(&Unit).is_empty());
    assert!(Referents::of(&EmptyBraces {}).is_empty());
    assert!(Referents::of(&EmptyParens()).is_empty());
    let plain = Plain { n: 1, text: "t".into(), list: vec![(1, 'a')] };
    let seen = Referents::of(&plain);
    assert!(seen.is_empty() && !seen.is_opaque());
}

#[test]
fn the_same_handle_in_two_fields_is_two_edges() {
    // Two owned handles to one object: both references must be counted.
    let [a] = handles();
    let seen = Referents::of(&Tuple(a.clone(), 0, a.clone()));
    assert_eq!(seen.len(), 2);
    assert_eq!(seen.count(&a), 2);
}

#[derive(Trace)]
enum Shape {
    Empty,
    One(Gc<u32>),
    Two { left: Gc<u32>, right: Gc<u32>, tag: u8 },
    Count(u32),
}

#[derive(Trace)]
enum LeafOnly {
    A,
    B(u8, String),
    C { x: f64 },
}

#[derive(Trace)]
enum Never {}

#[test]
fn enum_reports_only_the_handles_of_the_live_variant() {
    let [a, b, c] = handles();
    assert!(Referents::of(&Shape::Empty).is_empty());
    assert!(Referents::of(&Shape::Count(3)).is_empty());

    let seen = Referents::of(&Shape::One(a.clone()));
    assert_eq!((seen.len(), seen.count(&a)), (1, 1));

    let seen = Referents::of(&Shape::Two { left: b.clone(), right: c.clone(), tag: 1 });
    assert_eq!(seen.len(), 2);
    assert_eq!((seen.count(&b), seen.count(&c)), (1, 1));
    assert!(!seen.contains(&a));
    assert!(!leaf::<Shape>());
}

#[test]
fn enums_without_handles_are_leaves() {
    assert!(leaf::<LeafOnly>());
    for value in [LeafOnly::A, LeafOnly::B(1, "b".into()), LeafOnly::C { x: 0.5 }] {
        assert!(Referents::of(&value).is_empty());
    }
    // No value of an empty enum exists; the derive must still compile and call it a leaf.
    assert!(leaf::<Never>());
}

#[derive(Trace)]
struct Wrapper<T> {
    inner: T,
}

/// Every kind of generic parameter, a where-clause, and a lifetime that is only a marker.
#[derive(Trace)]
struct Mixed<'a, K, V, const N: usize>
where
    K: Clone,
{
    keys: [K; N],
    map: BTreeMap<u8, V>,
    name: &'static str,
    marker: PhantomData<&'a ()>,
}

/// The derive is generic over `T: Trace`, so this compiles only if the bound was added.
fn referents_of_wrapped<T: Trace>(value: T) -> Referents {
    Referents::of(&Wrapper { inner: value })
}

#[test]
fn generics_follow_their_arguments() {
    assert!(leaf::<Wrapper<u32>>());
    assert!(!leaf::<Wrapper<Gc<u32>>>());
    assert!(leaf::<Wrapper<Wrapper<String>>>());
    assert!(!leaf::<Wrapper<Vec<Gc<u32>>>>());

    let [a] = handles();
    let seen = referents_of_wrapped(a.clone());
    assert_eq!((seen.len(), seen.count(&a)), (1, 1));
    assert!(referents_of_wrapped(5_u8).is_empty());
}

#[test]
fn lifetimes_const_generics_and_where_clauses() {
    assert!(leaf::<Mixed<'static, u8, String, 4>>());
    assert!(!leaf::<Mixed<'static, Gc<u32>, u8, 2>>());
    assert!(!leaf::<Mixed<'static, u8, Gc<u32>, 0>>());

    let [a, b, c] = handles();
    let value: Mixed<'_, Gc<u32>, Gc<u32>, 2> = Mixed {
        keys: [a.clone(), b.clone()],
        map: BTreeMap::from([(1, c.clone())]),
        name: "m",
        marker: PhantomData::<&()>,
    };
    let seen = Referents::of(&value);
    assert_eq!(seen.len(), 3);
    assert_eq!((seen.count(&a), seen.count(&b), seen.count(&c)), (1, 1, 1));
}

#[derive(Trace)]
struct Outer {
    named: Named,
    shapes: Vec<Shape>,
    wrapped: Wrapper<Option<Gc<u32>>>,
}

#[test]
fn nested_derived_types_report_through_every_level() {
    let [a, b, c, d, e, f] = handles();
    let outer = Outer {
        named: Named { first: a.clone(), label: String::new(), maybe: None, r#type: b.clone() },
        shapes: vec![
            Shape::One(c.clone()),
            Shape::Empty,
            Shape::Two { left: d.clone(), right: e.clone(), tag: 0 },
        ],
        wrapped: Wrapper { inner: Some(f.clone()) },
    };
    let seen = Referents::of(&outer);
    assert_eq!(seen.len(), 6);
    for h in [&a, &b, &c, &d, &e, &f] {
        assert_eq!(seen.count(h), 1);
    }
}

// Skipped fields are only held, never read.
#[allow(dead_code)]
#[derive(Trace)]
struct Skipping {
    shown: Gc<u32>,
    #[trace(skip)]
    hidden: Gc<u32>,
}

// Skipped fields are only held, never read.
#[allow(dead_code)]
#[derive(Trace)]
struct OnlyHandleSkipped {
    n: u32,
    #[trace(skip)]
    cache: Option<Gc<u32>>,
}

/// A skipped field need not implement `Trace` at all.
#[derive(Trace)]
struct SkipsUntraceable {
    #[trace(skip)]
    _local: std::rc::Rc<u8>,
    kept: Gc<u32>,
}

// Skipped fields are only held, never read.
#[allow(dead_code)]
#[derive(Trace)]
enum SkipInVariant {
    Pair(#[trace(skip)] Gc<u32>, Gc<u32>),
    Named {
        #[trace(skip)]
        a: Gc<u32>,
    },
}

#[test]
fn skipped_fields_are_not_reported() {
    let [a, b] = handles();
    let seen = Referents::of(&Skipping { shown: a.clone(), hidden: b.clone() });
    assert_eq!(seen.len(), 1);
    assert!(seen.contains(&a) && !seen.contains(&b));

    let seen = Referents::of(&SkipsUntraceable { _local: std::rc::Rc::new(1), kept: a.clone() });
    assert_eq!((seen.len(), seen.count(&a)), (1, 1));

    let seen = Referents::of(&SkipInVariant::Pair(a.clone(), b.clone()));
    assert_eq!(seen.len(), 1);
    assert!(seen.contains(&b) && !seen.contains(&a));
    assert!(Referents::of(&SkipInVariant::Named { a: a.clone() }).is_empty());
}

#[test]
fn leaf_ignores_skipped_fields() {
    assert!(leaf::<OnlyHandleSkipped>());
    assert!(!leaf::<Skipping>());
    assert!(!leaf::<SkipInVariant>());
    let [a] = handles();
    let value = OnlyHandleSkipped { n: 0, cache: Some(a.clone()) };
    assert!(Referents::of(&value).is_empty());
}

#[derive(Trace)]
struct Linked {
    id: u32,
    next: GcCell<Option<Gc<Linked>>>,
}

#[test]
fn a_write_locked_cell_makes_the_value_opaque() {
    let tail = Gc::new(Linked { id: 2, next: GcCell::new(None) });
    let head = Linked { id: 1, next: GcCell::new(Some(tail.clone())) };
    let seen = Referents::of(&head);
    assert!(!seen.is_opaque());
    assert_eq!((seen.len(), seen.count(&tail)), (1, 1));

    {
        let _guard = head.next.write();
        let seen = Referents::of(&head);
        assert!(seen.is_opaque(), "contents behind a held write lock are unreadable");
        assert!(seen.is_empty());
    }
    {
        // A shared reader does not stop the tracer, which only needs to read too.
        let _guard = head.next.read();
        let seen = Referents::of(&head);
        assert!(!seen.is_opaque());
        assert!(seen.contains(&tail));
    }
    // Released again: back to normal.
    assert!(!Referents::of(&head).is_opaque());
    assert_eq!(head.id + tail.id, 3);
}

#[test]
fn only_derived_containers_are_tracked() {
    let heap = Heap::new();
    let plain = Gc::new_in(Plain { n: 1, text: String::new(), list: vec![] }, &heap);
    let skipped = Gc::new_in(OnlyHandleSkipped { n: 0, cache: None }, &heap);
    let counts = heap.counts();
    assert_eq!((counts.live, counts.tracked), (2, 0));

    let node = Gc::new_in(Linked { id: 0, next: GcCell::new(None) }, &heap);
    let counts = heap.counts();
    assert_eq!((counts.live, counts.tracked), (3, 1));
    drop(node);
    assert_eq!(heap.counts().tracked, 0);
    drop((plain, skipped));
    assert_eq!(heap.counts().live, 0);
}

// Types that mention themselves. Asking for `<Vec<Tree> as Trace>::LEAF` while defining
// `Tree::LEAF` used to be a const-evaluation cycle, so none of these compiled.

#[derive(Trace)]
struct Tree {
    value: u32,
    children: Vec<Tree>,
}

#[derive(Trace)]
struct HandleTree {
    value: Gc<u32>,
    children: Vec<Self>,
}

#[derive(Trace)]
struct List<T> {
    item: T,
    next: Option<Box<List<T>>>,
}

#[derive(Trace)]
enum Expr {
    Num(i64),
    Neg(Box<Expr>),
    Add(Box<Self>, Box<Self>),
}

/// The recursion shares a field with a handle: the field must still count.
#[derive(Trace)]
struct Tagged {
    kids: Vec<(Tagged, Gc<u32>)>,
}

/// A weak self-reference owns nothing.
#[derive(Trace)]
struct SelfWeak {
    me: Weak<SelfWeak>,
}

#[test]
fn recursive_types_compile_and_get_the_right_leaf() {
    assert!(leaf::<Tree>());
    assert!(leaf::<Expr>());
    assert!(leaf::<List<u8>>());
    assert!(!leaf::<List<Gc<u32>>>());
    assert!(!leaf::<HandleTree>());
    assert!(!leaf::<Tagged>());
    assert!(leaf::<SelfWeak>());
    assert!(!leaf::<Linked>());

    let heap = Heap::new();
    let tree =
        Gc::new_in(Tree { value: 1, children: vec![Tree { value: 2, children: vec![] }] }, &heap);
    let weak = Gc::new_cyclic_in(|w| SelfWeak { me: w.clone() }, &heap);
    assert_eq!(heap.counts().tracked, 0);
    assert_eq!(tree.children[0].value + tree.value, 3);
    assert!(Gc::ptr_eq(&weak.me.upgrade().unwrap(), &weak));
}

#[test]
fn recursive_types_report_handles_at_every_depth() {
    let [a, b, c, d] = handles();
    let tree = HandleTree {
        value: a.clone(),
        children: vec![
            HandleTree {
                value: b.clone(),
                children: vec![HandleTree { value: c.clone(), children: vec![] }],
            },
            HandleTree { value: d.clone(), children: vec![] },
        ],
    };
    let seen = Referents::of(&tree);
    assert_eq!(seen.len(), 4);
    for h in [&a, &b, &c, &d] {
        assert_eq!(seen.count(h), 1);
    }

    let list = List { item: a.clone(), next: Some(Box::new(List { item: a.clone(), next: None })) };
    assert_eq!(Referents::of(&list).count(&a), 2);

    let tagged = Tagged { kids: vec![(Tagged { kids: vec![] }, b.clone())] };
    assert_eq!(Referents::of(&tagged).count(&b), 1);
    let expr = Expr::Add(Box::new(Expr::Num(1)), Box::new(Expr::Neg(Box::new(Expr::Num(2)))));
    assert!(Referents::of(&expr).is_empty());
}

/// Names the derive must not pick up from the caller's scope.
mod shadowing {
    #![allow(dead_code, non_camel_case_types)]

    pub trait Trace {}
    pub struct Tracer;
    pub struct bool;

    #[derive(weakling::Trace)]
    pub struct Shadowed {
        pub handle: weakling::Gc<u32>,
        // Named like the generated tracer argument.
        pub __tracer: u8,
    }
}

/// Field types from a macro's caller, with the derive inside the macro: the generated tracer
/// must stay visible to the per-field calls.
macro_rules! holder {
    ($name:ident, $ty:ty) => {
        #[derive(Trace)]
        struct $name {
            held: $ty,
        }
    };
}

holder!(MacroHolder, Option<Gc<u32>>);

#[test]
fn generated_code_is_hygienic() {
    let [a] = handles();
    let value = shadowing::Shadowed { handle: a.clone(), __tracer: 0 };
    assert!(!leaf::<shadowing::Shadowed>());
    assert_eq!(Referents::of(&value).count(&a), 1);

    let held = MacroHolder { held: Some(a.clone()) };
    assert_eq!(Referents::of(&held).count(&a), 1);
}
