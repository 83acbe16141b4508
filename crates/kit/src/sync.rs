//! In-process shared state: the locking and pruning rules of the maps that
//! subscriptions and budgets keep (the fanout's feeds, the dashboard's
//! snapshots, the router's per-user counts).

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, also after a panic elsewhere poisoned it: every map kept
/// this way is changed in single statements, so what a panicking holder
/// left is whole.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a map of `len` entries, some of which may be stale, is due a
/// sweep before its next insert: at each power of two from 64, so sweeping
/// costs O(1) per insert and the map stays within twice its live entries.
pub fn sweep_due(len: usize) -> bool {
    len >= 64 && len.is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_fall_at_powers_of_two_from_64() {
        let due: Vec<usize> = (0..=600).filter(|&len| sweep_due(len)).collect();
        assert_eq!(due, [64, 128, 256, 512]);
    }
}
