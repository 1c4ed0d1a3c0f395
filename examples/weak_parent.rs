//! A child that refers to its parent weakly, so parent and child form no cycle (seed 003,
//! "preventing circular references").
//!
//! ```python
//! class Parent:
//!     def __init__(self, name):
//!         self.name = name
//!         self.children = []
//!
//! class Child:
//!     def __init__(self, name, parent):
//!         self.name = name
//!         self._parent_ref = weakref.ref(parent)   # weak: no cycle
//!
//!     @property
//!     def parent(self):
//!         return self._parent_ref()
//!
//! parent = Parent("Parent")
//! child = Child("Child", parent)
//! parent.children.append(child)
//! print(child.parent.name)  # Parent
//! ```
//!
//! The parent owns its children strongly (`GcCell<Vec<Gc<Child>>>`, because `children` grows
//! after construction); the child holds a `Weak<Parent>` and its `parent()` accessor returns
//! an `Option`, Python's `None` once the parent is gone. Going one step past the seed: when
//! the name `parent` goes, the parent dies at once (only a name held it), and with it its
//! strong reference to the child, while `child.parent` turns into `None`.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::{Gc, GcCell, Trace, Weak};

#[derive(Trace)]
struct Parent {
    name: String,
    children: GcCell<Vec<Gc<Child>>>,
}

#[derive(Trace)]
struct Child {
    name: String,
    parent_ref: Weak<Parent>,
}

impl Child {
    /// Python's `parent` property: the parent while it lives.
    fn parent(&self) -> Option<Gc<Parent>> {
        self.parent_ref.upgrade()
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        println!("{} destroyed", self.name);
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        println!("{} destroyed", self.name);
    }
}

fn main() {
    println!(">>> parent = Parent(\"Parent\")");
    let parent = Gc::new(Parent { name: "Parent".into(), children: GcCell::new(Vec::new()) });
    println!(">>> child = Child(\"Child\", parent)");
    let child = Gc::new(Child { name: "Child".into(), parent_ref: Gc::downgrade(&parent) });
    println!(">>> parent.children.append(child)");
    parent.children.write().push(child.clone());
    println!(">>> print(child.parent.name)");
    match child.parent() {
        Some(p) => println!("{}", p.name),
        None => println!("None"),
    }
    println!(">>> sys.getrefcount(parent) - 1, sys.getrefcount(child) - 1");
    // The child's weak reference does not count; the parent's list does.
    println!("({}, {})", Gc::strong_count(&parent), Gc::strong_count(&child));

    println!("# past the seed: dropping the parent's only name frees it at once");
    println!(">>> del parent");
    drop(parent);
    println!(">>> print(child.parent)");
    match child.parent() {
        Some(p) => println!("<Parent {}>", p.name),
        None => println!("None"),
    }
    println!(">>> sys.getrefcount(child) - 1");
    println!("{}", Gc::strong_count(&child));
    println!(">>> del child");
    drop(child);
}
