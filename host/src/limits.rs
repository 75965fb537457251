//! Per-environment limits: a memory cap from the function's memory size, and
//! deadlines enforced with wasmtime's epoch interruption (one ticker per
//! engine, each tick checking the clock) plus a host-side timer for a guest
//! blocked in a host call.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Engine, ResourceLimiter, UpdateDeadline};

/// How often the engine's epoch advances; a deadline is exact to this.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Extra time past the deadline before the host abandons a guest blocked in
/// a host call (epoch interruption only stops running Wasm code).
pub const BLOCKED_CALL_GRACE: Duration = Duration::from_millis(50);

/// Lambda's limit on a function's init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// `work` bounded by `remaining` plus [`BLOCKED_CALL_GRACE`] (`Err` when
/// that passed). The epoch deadline stops running Wasm code on time; this
/// stops the wait for a guest blocked in a host call. (Timeout polls `work`
/// before its timer: a call that never blocks never registers it. It is
/// returned as is, not wrapped in another future, so that the guest call's
/// large future is not moved once more on the warm path.)
#[inline(always)]
pub fn until_deadline<F: Future>(remaining: Duration, work: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(remaining + BLOCKED_CALL_GRACE, work)
}

/// Awaits `work` for at most [`INIT_TIMEOUT`]; `None` when that passed.
pub async fn within_init<F: Future>(work: F) -> Option<F::Output> {
    tokio::time::timeout(INIT_TIMEOUT, work).await.ok()
}

/// The message for an init phase that ran out of time.
pub fn init_timed_out() -> String {
    format!(
        "init did not finish within {} seconds",
        INIT_TIMEOUT.as_secs()
    )
}

/// A memory or table grow larger than this many elements is refused.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// Caps a store's linear memory and remembers a refused grow, so a trap that
/// follows can be reported as out-of-memory rather than as a crash.
#[derive(Debug)]
pub struct MemoryLimiter {
    max_bytes: usize,
    peak_bytes: usize,
    refused: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `limit_mb` MiB of linear memory.
    pub fn new(limit_mb: u32) -> Self {
        Self {
            max_bytes: limit_mb as usize * 1024 * 1024,
            peak_bytes: 0,
            refused: false,
        }
    }

    /// Whether a grow was refused since the last `reset_refused`.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Forgets a refused grow (at the start of each invocation).
    pub fn reset_refused(&mut self) {
        self.refused = false;
    }

    /// The largest linear memory this store has had, in bytes.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Advances an engine's epoch every [`EPOCH_TICK`] on a background thread
/// until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("lambda-wasm-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("the epoch thread starts");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a store's epoch deadline callback answers at each tick: trap once
/// `stop_at` has passed, else look again at the next tick.
///
/// Why every tick and the clock, rather than one epoch deadline `remaining`
/// ticks ahead: compiled Wasm caches its store's epoch deadline in each
/// function activation and reloads it only when the epoch passes the cached
/// value. An activation that lives across invocations keeps the deadline it
/// saw first: CPython runs its runtime loop and the handler it calls in one
/// `_PyEval_EvalFrameDefault` activation (Python-to-Python calls do not nest
/// C frames), entered during init, so a `while True: pass` handler, which
/// calls no C function that would load the new deadline, ran on to the init
/// deadline (10 s after init) instead of its own. With a deadline one tick
/// ahead no cached value is more than a tick stale. The clock also keeps a
/// deadline exact when the ticker thread falls behind on a busy machine.
pub fn on_epoch_tick(stop_at: Instant) -> UpdateDeadline {
    if Instant::now() >= stop_at {
        UpdateDeadline::Interrupt
    } else {
        UpdateDeadline::Continue(1)
    }
}

/// An invocation's deadline, and the warning to log when the platform's was unusable.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    /// When the invocation must end.
    pub at: SystemTime,
    /// Set when the header's value could not be an epoch time.
    pub warning: Option<String>,
}

/// The deadline for `deadline_ms` (the `Lambda-Runtime-Deadline-Ms` value),
/// or `now + fallback` with a warning when it cannot be an epoch time
/// (missing, more than a day away from now, e.g. a duration such as `600000`).
pub fn deadline_from_header(
    deadline_ms: Option<u64>,
    now: SystemTime,
    fallback: Duration,
) -> Deadline {
    const PLAUSIBLE: Duration = Duration::from_secs(24 * 60 * 60);
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let plausible_ms = PLAUSIBLE.as_millis() as u64;
    match deadline_ms {
        Some(ms) if ms.abs_diff(now_ms) <= plausible_ms => Deadline {
            at: UNIX_EPOCH + Duration::from_millis(ms),
            warning: None,
        },
        other => Deadline {
            at: now + fallback,
            warning: Some(format!(
                "Lambda-Runtime-Deadline-Ms {} is not an epoch time near now ({now_ms}); using the configured timeout of {:.2} s (LAMBDA_WASM_TIMEOUT)",
                other.map_or("(missing)".to_string(), |ms| ms.to_string()),
                fallback.as_secs_f64()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INLINE_GROW: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;

    #[test]
    fn refuses_memory_past_the_limit_and_remembers_it() {
        let engine = Engine::default();
        let module = wasmtime::Module::new(&engine, INLINE_GROW).unwrap();
        let mut store = wasmtime::Store::new(&engine, MemoryLimiter::new(1));
        store.limiter(|limiter| limiter);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let grow = instance
            .get_typed_func::<i32, i32>(&mut store, "grow")
            .unwrap();
        assert_eq!(
            grow.call(&mut store, 15).unwrap(),
            1,
            "1 MiB = 16 pages fits"
        );
        assert!(!store.data().refused());
        assert_eq!(
            grow.call(&mut store, 1).unwrap(),
            -1,
            "a 17th page does not"
        );
        assert!(store.data().refused());
        assert_eq!(store.data().peak_bytes(), 1024 * 1024);
    }

    #[test]
    fn an_epoch_deadline_interrupts_a_busy_loop() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).unwrap();
        let _ticker = EpochTicker::start(&engine);
        let module =
            wasmtime::Module::new(&engine, r#"(module (func (export "spin") (loop (br 0))))"#)
                .unwrap();
        let stop_at = Instant::now() + Duration::from_millis(20);
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| Ok(on_epoch_tick(stop_at)));
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let spin = instance
            .get_typed_func::<(), ()>(&mut store, "spin")
            .unwrap();
        let error = spin.call(&mut store, ()).unwrap_err();
        assert_eq!(
            error.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::Interrupt)
        );
    }

    #[test]
    fn an_implausible_deadline_falls_back_to_the_timeout() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let real = deadline_from_header(Some(1_795_000_003_000), now, Duration::from_secs(3));
        assert_eq!(
            real.at,
            UNIX_EPOCH + Duration::from_millis(1_795_000_003_000)
        );
        assert!(real.warning.is_none());
        let emulator = deadline_from_header(Some(600_000), now, Duration::from_secs(3));
        assert_eq!(emulator.at, now + Duration::from_secs(3));
        assert!(emulator.warning.unwrap().contains("600000"));
        assert!(
            deadline_from_header(None, now, Duration::from_secs(3))
                .warning
                .is_some()
        );
    }

    #[test]
    fn a_tick_interrupts_only_past_the_deadline() {
        let now = Instant::now();
        assert!(matches!(
            on_epoch_tick(now + Duration::from_secs(1)),
            UpdateDeadline::Continue(1)
        ));
        assert!(matches!(on_epoch_tick(now), UpdateDeadline::Interrupt));
    }
}
