//! Work spread over plain threads, for tasks that call polars.
//!
//! polars runs its operations on its own thread pool. A task on a rayon worker that calls polars
//! waits for it by running other queued tasks on the same stack; with a thousand indicators
//! queued that nesting overflowed a worker's stack (the scale-16 benchmark). Plain threads wait
//! for polars by blocking, so a task's stack holds that task only.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` of every item, in the items' order, on as many threads as rayon's pool has (the machine's
/// cores, or `RAYON_NUM_THREADS`) — the calling thread and that many less one spawned for the
/// call — each taking the next item when it is done with one. A panic in `f` is raised again
/// here once the other threads have stopped.
///
/// The caller works rather than waits: one thread fewer, and with glibc's allocator one arena
/// fewer (each thread that allocates gets an arena of its own, which keeps what it freed).
pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = rayon::current_num_threads().min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let n = items.len();
    let items: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = items.get(i) else {
                return done;
            };
            // Each slot is taken by exactly one thread (the one that drew its number).
            let item = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(item) = item {
                done.push((i, f(item)));
            }
        }
    };
    let mut results: Vec<(usize, R)> = Vec::with_capacity(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        // The caller's share (a panic in it leaves the scope once the spawned threads stopped).
        results.extend(worker());
        for handle in handles {
            match handle.join() {
                Ok(done) => results.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Results come back in the items' order, each item once, computed on several threads.
    #[test]
    fn results_keep_the_items_order() {
        let pool = pool(3);
        let out = pool.install(|| {
            map((0..200_u64).collect(), |i| {
                // Uneven work, so that threads finish items out of their order.
                std::thread::sleep(std::time::Duration::from_micros((i * 7919) % 2000));
                (2 * i, std::thread::current().id())
            })
        });
        let values: Vec<u64> = out.iter().map(|(v, _)| *v).collect();
        assert_eq!(values, (0..200).map(|i| 2 * i).collect::<Vec<u64>>());
        let threads: std::collections::HashSet<_> = out.iter().map(|(_, t)| *t).collect();
        assert_eq!(threads.len(), 3);
    }

    /// The calling thread works on items too, and a panic in an item, on whichever thread ran
    /// it, reaches the caller.
    #[test]
    fn the_caller_works_and_a_panic_reaches_it() {
        let pool = pool(2);
        let ran_here = pool.install(|| {
            let caller = std::thread::current().id();
            map((0..50_u64).collect(), |i| {
                std::thread::sleep(std::time::Duration::from_micros(200 + i));
                std::thread::current().id() == caller
            })
        });
        assert!(ran_here.iter().any(|here| *here));
        assert!(ran_here.iter().any(|here| !*here));
        for bad in [0_u64, 49] {
            // The pool holds no state a panicking item could leave half-changed.
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    map((0..50_u64).collect(), |i| {
                        assert!(i != bad, "item {i}");
                        i
                    })
                })
            }));
            let message = caught.expect_err("the panic reaches the caller");
            let text = message
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert_eq!(text, format!("item {bad}"));
        }
    }
}
