//! [`WeakSet`]: a concurrent set of weakly held objects (Python's `weakref.WeakSet`).

use std::fmt;
use std::hash::BuildHasher;

use super::keying::{ByIdentity, ByValue, Keying};
use super::snapshot::Snapshots;
use super::weak_keys::{KeyEntry, LiveKeys, PinnedKeys, Present, WeakKeys};
use crate::{Gc, PinnedRef, ReadPin, Weak};

/// A concurrent set of objects that it holds **weakly**: Python's `weakref.WeakSet`, for
/// threads.
///
/// The set never keeps a member alive. When a member's last strong handle goes, it leaves
/// the set right then, by a death callback: [`len`] counts live members and iteration yields
/// only live ones. The classic use is a subject's observers, which simply disappear when
/// their owners drop them.
///
/// ```
/// use weakling::{Gc, WeakSet};
///
/// let observers: WeakSet<String> = WeakSet::new();
/// let a = Gc::new(String::from("a"));
/// let b = Gc::new(String::from("b"));
/// observers.insert(&a);
/// observers.insert(&b);
/// drop(a);
/// let names: Vec<String> = observers.iter().map(|o| (*o).clone()).collect();
/// assert_eq!(names, ["b"]);
/// ```
///
/// # Members: by value or by identity
///
/// `WeakSet<T>` compares members by value ([`ByValue`]: `T`'s `Hash` and `Eq`), as Python
/// does: inserting an object equal to a member keeps the member already there (the first of
/// two equal objects) and returns `false`. [`WeakIdSet`] compares by identity
/// ([`ByIdentity`]): every object is a member of its own, `T` needs no `Hash` or `Eq`.
///
/// # Concurrency and reentrancy
///
/// Sharded; every method takes `&self`. A method holds at most one shard lock at a time and
/// runs no user code under it besides `Eq`; `Hash` runs before any lock. Death callbacks,
/// `Drop` impls and loop bodies may use the set freely; `Eq` must not (nor drop the last
/// handle to an object, nor create `Gc` objects: a death or an automatic collection started
/// under the lock could need it). A panic in `Hash` or
/// `Eq` propagates and leaves the set unchanged by the interrupted operation. The callbacks
/// hold the set only weakly.
///
/// # Iteration
///
/// As for [`WeakValueMap`](super::WeakValueMap#iteration): one shard at a time, strong
/// handles only, members present throughout yielded exactly once, changes during the
/// iteration allowed from anywhere.
///
/// # Set algebra
///
/// The operations that build a new set ([`union`](WeakSet::union) and the others) read both
/// sets as iteration does and give a set with a clone of `self`'s hasher; the in-place ones
/// (`*_with`) change `self` member by member. Neither is atomic with respect to other
/// threads changing the sets meanwhile.
///
/// [`len`]: WeakSet::len
pub struct WeakSet<T, S = ahash::RandomState, By = ByValue> {
    members: WeakKeys<T, (), S, By>,
}

/// A [`WeakSet`] whose members are compared by identity ([`ByIdentity`]): inserting another
/// object, even an equal one, adds a member; inserting the same object again does nothing.
pub type WeakIdSet<T, S = ahash::RandomState> = WeakSet<T, S, ByIdentity>;

impl<T, By> WeakSet<T, ahash::RandomState, By>
where
    T: Send + Sync + 'static,
    By: Keying<T>,
{
    /// An empty set with the default hasher (ahash).
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity_and_hasher(0, ahash::RandomState::new())
    }

    /// An empty set with room for `capacity` members.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, ahash::RandomState::new())
    }
}

impl<T, S, By> WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<T>,
{
    /// An empty set that hashes members with `hasher`.
    #[must_use]
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty set with room for `capacity` members, hashing them with `hasher`.
    #[must_use]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        WeakSet { members: WeakKeys::new(capacity, hasher) }
    }

    /// The set's hasher. Takes no lock.
    pub fn hasher(&self) -> &S {
        self.members.hasher()
    }

    /// Adds `member` (Python's `s.add(member)`); `true` if it was not in the set. An equal
    /// member already present (by the set's [`Keying`]) stays, and `false` is returned.
    ///
    /// Locking: one shard's write lock, around the member's `Eq`.
    pub fn insert(&self, member: &Gc<T>) -> bool {
        match self.members.insert(member, (), Present::Keep) {
            Ok((added, leftover)) => {
                drop(leftover);
                added
            }
            // A member the collector is tearing down is dead: nothing is added.
            Err(()) => false,
        }
    }

    /// Whether `member` is in the set (Python's `member in s`).
    ///
    /// Locking: one shard's read lock, around the member's `Eq`.
    #[must_use]
    pub fn contains(&self, member: &Gc<T>) -> bool {
        self.members.find(member, |e| e.key.strong_count() > 0).unwrap_or(false)
    }

    /// The member stored for `member`: under [`ByValue`], the equal object that was inserted
    /// first.
    ///
    /// Locking: as [`contains`](WeakSet::contains).
    #[must_use]
    pub fn get(&self, member: &Gc<T>) -> Option<Gc<T>> {
        self.members.stored_key(member)
    }

    /// Removes `member` (Python's `s.discard(member)`); `true` if it was in the set.
    ///
    /// Locking: one shard's write lock, around the member's `Eq`.
    pub fn remove(&self, member: &Gc<T>) -> bool {
        self.members.remove(member).is_some_and(|e| e.key.strong_count() > 0)
    }

    /// Removes some live member and returns it (Python's `s.pop()`), or `None` if there is
    /// none.
    ///
    /// Locking: one shard's write lock at a time; no user code runs under it.
    pub fn pop_any(&self) -> Option<Gc<T>> {
        self.members.pop_any().map(|(member, _)| member)
    }

    /// The number of members: live ones, except that a member whose death is in progress on
    /// another thread may be counted until its callback has removed it.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set has no member.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Removes every member.
    ///
    /// Locking: each shard's write lock in turn.
    pub fn clear(&self) {
        drop(self.members.take_all());
    }

    /// The live members, as strong handles; see the [type's docs](WeakSet#iteration).
    ///
    /// Locking: one shard's read lock at a time, never while the caller's code runs.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter(self.members.snapshots())
    }

    /// The live members, borrowed under `pin` instead of upgraded: no write to a member
    /// that is a leaf (see [`ReadPin`] for what being read under a pin changes for it).
    /// Otherwise as [`iter`](WeakSet::iter), with the guarantees of
    /// [`WeakValueMap`'s pinned iteration](super::WeakValueMap#iteration).
    ///
    /// ```
    /// use weakling::{read_pin, Gc, WeakSet};
    ///
    /// let members: Vec<Gc<u64>> = (1..=3).map(Gc::new_leaf).collect();
    /// let set: WeakSet<u64> = members.iter().collect();
    /// let pin = read_pin();
    /// assert_eq!(set.iter_pinned(&pin).map(|m| *m).sum::<u64>(), 6);
    /// ```
    ///
    /// Locking: as [`iter`](WeakSet::iter).
    pub fn iter_pinned<'a>(&'a self, pin: &'a ReadPin) -> IterPinned<'a, T> {
        IterPinned(self.members.pinned_snapshots(pin))
    }

    /// Weak handles to the live members, without the set's callbacks.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn refs(&self) -> Vec<Weak<T>> {
        self.members.keyrefs()
    }

    /// Keeps only the members for which `keep` returns `true`. `keep` runs with no lock
    /// held and may use the set.
    ///
    /// Locking: one shard's read lock to read it, then a write lock per removed member.
    pub fn retain(&self, mut keep: impl FnMut(&Gc<T>) -> bool) {
        for shard in 0..self.members.shard_count() {
            for member in self.members.read_shard(shard, |e| e.key.upgrade()) {
                if !keep(&member) {
                    drop(self.members.remove_object(&member));
                }
            }
        }
    }

    /// Adds every member of `members` (Python's `s.update(...)`).
    ///
    /// Locking: as [`insert`](WeakSet::insert), once per member.
    pub fn update<'a>(&self, members: impl IntoIterator<Item = &'a Gc<T>>) {
        for member in members {
            self.insert(member);
        }
    }

    /// Whether every member of `self` is in `other` (Python's `s <= t`).
    ///
    /// Locking: `self` as [`iter`](WeakSet::iter) does, `other` as [`contains`](WeakSet::contains).
    #[must_use]
    pub fn is_subset<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) -> bool {
        self.iter().all(|m| other.contains(&m))
    }

    /// Whether every member of `other` is in `self` (Python's `s >= t`).
    ///
    /// Locking: as [`is_subset`](WeakSet::is_subset), the roles swapped.
    #[must_use]
    pub fn is_superset<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) -> bool {
        other.is_subset(self)
    }

    /// Whether `self` and `other` have no member in common (Python's `s.isdisjoint(t)`).
    ///
    /// Locking: as [`is_subset`](WeakSet::is_subset).
    #[must_use]
    pub fn is_disjoint<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) -> bool {
        !self.iter().any(|m| other.contains(&m))
    }

    /// Adds the members of `other` (Python's `s |= t`).
    ///
    /// Locking: `other` as [`iter`](WeakSet::iter) does, then one insert at a time; no lock is
    /// held between members.
    pub fn union_with<S2: BuildHasher + Send + Sync + 'static>(&self, other: &WeakSet<T, S2, By>) {
        for member in other.iter() {
            self.insert(&member);
        }
    }

    /// Keeps only the members that are also in `other` (Python's `s &= t`).
    ///
    /// Locking: as [`retain`](WeakSet::retain), with a lookup in `other` per member.
    pub fn intersect_with<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) {
        self.retain(|m| other.contains(m));
    }

    /// Removes the members of `other` (Python's `s -= t`).
    ///
    /// Locking: as [`union_with`](WeakSet::union_with), removing instead.
    pub fn difference_with<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) {
        for member in other.iter() {
            self.remove(&member);
        }
    }

    /// Keeps the members in exactly one of the two sets (Python's `s ^= t`).
    ///
    /// Locking: as [`union_with`](WeakSet::union_with).
    pub fn symmetric_difference_with<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) {
        for member in other.iter() {
            if !self.remove(&member) {
                self.insert(&member);
            }
        }
    }
}

impl<T, S, By> WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
    By: Keying<T>,
{
    /// A new set of the members of either set (Python's `s | t`).
    ///
    /// Locking: each set as [`iter`](WeakSet::iter) does; no lock of the new set is shared.
    #[must_use]
    pub fn union<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) -> Self {
        let out = self.clone();
        out.union_with(other);
        out
    }

    /// A new set of the members of both sets (Python's `s & t`).
    ///
    /// Locking: as [`union`](WeakSet::union), with a lookup in `other` per member.
    #[must_use]
    pub fn intersection<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) -> Self {
        let out = Self::with_hasher(self.hasher().clone());
        for member in self.iter().filter(|m| other.contains(m)) {
            out.insert(&member);
        }
        out
    }

    /// A new set of the members of `self` not in `other` (Python's `s - t`).
    ///
    /// Locking: as [`intersection`](WeakSet::intersection).
    #[must_use]
    pub fn difference<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) -> Self {
        let out = Self::with_hasher(self.hasher().clone());
        for member in self.iter().filter(|m| !other.contains(m)) {
            out.insert(&member);
        }
        out
    }

    /// A new set of the members in exactly one of the sets (Python's `s ^ t`).
    ///
    /// Locking: as [`intersection`](WeakSet::intersection), for both sets.
    #[must_use]
    pub fn symmetric_difference<S2: BuildHasher + Send + Sync + 'static>(
        &self,
        other: &WeakSet<T, S2, By>,
    ) -> Self {
        let out = self.difference(other);
        for member in other.iter().filter(|m| !self.contains(m)) {
            out.insert(&member);
        }
        out
    }
}

impl<T, By> Default for WeakSet<T, ahash::RandomState, By>
where
    T: Send + Sync + 'static,
    By: Keying<T>,
{
    fn default() -> Self {
        Self::new()
    }
}

/// A new set with the same live members and a clone of the hasher (Python's `s.copy()`).
impl<T, S, By> Clone for WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
    By: Keying<T>,
{
    fn clone(&self) -> Self {
        let copy = Self::with_capacity_and_hasher(self.len(), self.hasher().clone());
        for member in self.iter() {
            copy.insert(&member);
        }
        copy
    }
}

impl<'a, T, S, By> Extend<&'a Gc<T>> for WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<T>,
{
    fn extend<I: IntoIterator<Item = &'a Gc<T>>>(&mut self, members: I) {
        self.update(members);
    }
}

/// Adds each member; one that nobody else holds dies (and leaves the set) as soon as the
/// iterator drops it.
impl<T, S, By> Extend<Gc<T>> for WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<T>,
{
    fn extend<I: IntoIterator<Item = Gc<T>>>(&mut self, members: I) {
        for member in members {
            self.insert(&member);
        }
    }
}

impl<'a, T, S, By> FromIterator<&'a Gc<T>> for WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Default + Send + Sync + 'static,
    By: Keying<T>,
{
    fn from_iter<I: IntoIterator<Item = &'a Gc<T>>>(members: I) -> Self {
        let set = Self::with_hasher(S::default());
        set.update(members);
        set
    }
}

/// Builds a set from members: another collection's iterator, a plain collection's
/// `into_iter()`.
impl<T, S, By> FromIterator<Gc<T>> for WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Default + Send + Sync + 'static,
    By: Keying<T>,
{
    fn from_iter<I: IntoIterator<Item = Gc<T>>>(members: I) -> Self {
        let mut set = Self::with_hasher(S::default());
        set.extend(members);
        set
    }
}

/// Equal when each set's live members are all in the other (Python's `s == t`), each read
/// as by [`iter`](WeakSet::iter): only meaningful while neither changes.
impl<T, S, By> PartialEq for WeakSet<T, S, By>
where
    T: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<T>,
{
    fn eq(&self, other: &Self) -> bool {
        self.is_subset(other) && other.is_subset(self)
    }
}

impl<T, S, By> fmt::Debug for WeakSet<T, S, By>
where
    T: fmt::Debug + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<T>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The live members of a [`WeakSet`], from [`WeakSet::iter`].
pub struct Iter<'a, T>(Snapshots<'a, KeyEntry<T, ()>, Gc<T>, LiveKeys>);

impl<T> Iterator for Iter<'_, T> {
    type Item = Gc<T>;
    #[inline]
    fn next(&mut self) -> Option<Gc<T>> {
        self.0.next()
    }
}

/// The live members of a [`WeakSet`], borrowed under a read pin, from
/// [`WeakSet::iter_pinned`].
pub struct IterPinned<'a, T>(
    Snapshots<'a, KeyEntry<T, ()>, PinnedRef<'a, T>, PinnedKeys, &'a ReadPin>,
);

impl<'a, T> Iterator for IterPinned<'a, T> {
    type Item = PinnedRef<'a, T>;
    #[inline]
    fn next(&mut self) -> Option<PinnedRef<'a, T>> {
        self.0.next()
    }
}

impl<T> fmt::Debug for IterPinned<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IterPinned { .. }")
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter { .. }")
    }
}

// SAFETY: the set owns no strong edge (its members are held weakly); a set stored in a `Gc`
// is a leaf.
unsafe impl<T, S, By> crate::Trace for WeakSet<T, S, By> {
    const LEAF: bool = true;
    fn trace(&self, _: &mut crate::Tracer<'_>) {}
}
