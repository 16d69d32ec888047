//! [`PerOp`]: one value per [`Operation`], indexed by the operation itself — the one shape of
//! every per-operation table (tallies, times, timeline steps, mix weights, rate windows), so no
//! caller keeps a bare `[_; 4]` and its positions.
//!
//! Plain data: it knows the operations' order ([`Operation::ALL`]) and nothing else of the API.

use std::ops::{Index, IndexMut};

use serde::{Deserialize, Serialize};

use super::Operation;

/// One `T` per operation, in [`Operation::ALL`]'s order. Serialized as that list (as the array
/// it replaced was).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PerOp<T>([T; 4]);

impl<T> PerOp<T> {
    /// The value of each operation, from `f`.
    pub fn from_fn(mut f: impl FnMut(Operation) -> T) -> PerOp<T> {
        PerOp(Operation::ALL.map(&mut f))
    }

    /// Each operation with its value, in the API's order.
    pub fn iter(&self) -> impl Iterator<Item = (Operation, &T)> {
        Operation::ALL.into_iter().zip(self.0.iter())
    }

    /// Each operation with its value, mutable, in the API's order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Operation, &mut T)> {
        Operation::ALL.into_iter().zip(self.0.iter_mut())
    }

    /// The values, in the API's order.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The values, mutable, in the API's order.
    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }

    /// Each value through `f`.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerOp<U> {
        PerOp(self.0.map(&mut f))
    }

    /// A table of references to the values.
    pub fn each_ref(&self) -> PerOp<&T> {
        PerOp(self.0.each_ref())
    }
}

impl<T> Index<Operation> for PerOp<T> {
    type Output = T;

    fn index(&self, op: Operation) -> &T {
        &self.0[op.index()]
    }
}

impl<T> IndexMut<Operation> for PerOp<T> {
    fn index_mut(&mut self, op: Operation) -> &mut T {
        &mut self.0[op.index()]
    }
}

impl<T> IntoIterator for PerOp<T> {
    type Item = (Operation, T);
    type IntoIter = std::iter::Zip<std::array::IntoIter<Operation, 4>, std::array::IntoIter<T, 4>>;

    fn into_iter(self) -> Self::IntoIter {
        Operation::ALL.into_iter().zip(self.0)
    }
}

impl<'a, T> IntoIterator for &'a PerOp<T> {
    type Item = (Operation, &'a T);
    type IntoIter = std::iter::Zip<std::array::IntoIter<Operation, 4>, std::slice::Iter<'a, T>>;

    fn into_iter(self) -> Self::IntoIter {
        Operation::ALL.into_iter().zip(self.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_and_iterated_by_operation_in_the_apis_order() {
        let mut counts = PerOp::from_fn(|op| op.index() as u64 * 10);
        counts[Operation::Patch] += 1;
        assert_eq!(counts[Operation::Patch], 11);
        let ops: Vec<Operation> = counts.iter().map(|(op, _)| op).collect();
        assert_eq!(ops, Operation::ALL);
        assert_eq!(counts.values().sum::<u64>(), 61);
        assert!(!counts.map(|c| c > 10)[Operation::Get]);
    }

    #[test]
    fn serialized_as_the_array_it_replaced() {
        let table = PerOp::from_fn(|op| op.index());
        assert_eq!(serde_json::to_string(&table).unwrap(), "[0,1,2,3]");
        assert_eq!(
            serde_json::to_string(&table).unwrap(),
            serde_json::to_string(&[0, 1, 2, 3]).unwrap()
        );
        let back: PerOp<usize> = serde_json::from_str("[0,1,2,3]").unwrap();
        assert_eq!(back, table);
    }
}
