//! Helpers shared by the unit tests.

/// Stack of [`on_small_stack`]'s thread.
pub(crate) const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with a 256 KiB stack, where anything recursing once per level of a
/// deep value (JSON, ADF, MIME) would overflow (and abort the test binary) long before the
/// depths the tests use; returns its result, and fails the test if it panicked.
pub(crate) fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic")
}
