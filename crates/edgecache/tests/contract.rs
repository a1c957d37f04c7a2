//! The contract every binding keeps, checked against the core: each row of
//! `tests/contract/cases.tsv` (docs/contract.md explains it) is run here
//! and its `rust` column asserted.
//!
//! The file is read when the test runs. A row whose subject or outcome this
//! test does not know fails, in any column (so a new row cannot slip past
//! any suite); `n/a` in the `rust` column is skipped. Every case runs, and
//! the test then lists every case that failed, not only the first.
//!
//! "invalid" in Rust: the `try_` form returns `InvalidArgument` and the
//! plain form panics, where both exist; a constructor that already returns
//! a `Result` (`Group::new`, `WatchCache::watch`) returns the error. Nothing
//! is stored or registered by a rejected call.
//!
//! Every wait is bounded: threads report over channels read with a
//! deadline, and a getter that waits for the test gives up after [`HANG`].

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use edgecache::flight::Ticket;
use edgecache::watch::{CloseReason, DEFAULT_WATCH_BUFFER, Object, Selector, WatchCache, WatchError, WatchOptions};
use edgecache::{
    Cache, CacheType, Error, Flight, FlightError, GetterError, Group, GroupOptions, GroupTicket, Value, get_group,
};

/// The cases, from the crate's directory.
const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/contract/cases.tsv");

/// Long enough that a correct program never reaches it; only a hang would.
const HANG: Duration = Duration::from_secs(30);

/// What "at once" means for a call that must not wait: far below every
/// timeout the library would otherwise apply (3 s for freshness), far above
/// a call that returns without blocking.
const AT_ONCE: Duration = Duration::from_secs(1);

/// The columns each row has, in this order.
const COLUMNS: [&str; 7] = ["id", "subject", "input", "rust", "python", "c", "go"];

/// Every subject the contract knows (also those Rust marks `n/a`).
const SUBJECTS: [&str; 13] = [
    "cache.budget",
    "group.budget",
    "cache.ttl",
    "group.ttl",
    "watch.buffer",
    "flight.timeout",
    "fresh.timeout",
    "watcher.next_timeout",
    "getter.sets_nothing",
    "leader.leaves",
    "leader.error",
    "leader.panic",
    "getter.recursive",
];

/// Every outcome label the file's header defines.
const OUTCOMES: [&str; 12] = [
    "disabled",
    "ok",
    "never_expires",
    "invalid",
    "default",
    "no_wait",
    "waits",
    "no_value",
    "waiter_retries",
    "reaches_all",
    "recursive_load",
    "n/a",
];

/// One row of the file.
#[derive(Debug, Clone)]
struct Case {
    line: usize,
    id: String,
    subject: String,
    input: String,
    /// The outcomes, one per language column (`rust`, `python`, `c`, `go`).
    outcomes: Vec<String>,
}

impl Case {
    fn rust(&self) -> &str {
        &self.outcomes[0]
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (line {}: {} {} -> {})", self.id, self.line, self.subject, self.input, self.rust())
    }
}

/// Reads and checks the file: the header row, seven columns a row, unique
/// ids, known subjects and outcomes. Panics on anything else.
fn load() -> Vec<Case> {
    let text = std::fs::read_to_string(CASES).unwrap_or_else(|e| panic!("cannot read {CASES}: {e}"));
    let mut header = None;
    let mut cases: Vec<Case> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if header.is_none() {
            assert_eq!(cols, COLUMNS, "{CASES}:{line_no}: the header row must be exactly {COLUMNS:?}");
            header = Some(line_no);
            continue;
        }
        assert_eq!(cols.len(), COLUMNS.len(), "{CASES}:{line_no}: {} columns, expected {}", cols.len(), COLUMNS.len());
        let case = Case {
            line: line_no,
            id: cols[0].to_owned(),
            subject: cols[1].to_owned(),
            input: cols[2].to_owned(),
            outcomes: cols[3..].iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(!case.id.is_empty(), "{CASES}:{line_no}: empty id");
        assert!(cases.iter().all(|c| c.id != case.id), "{CASES}:{line_no}: id {} used twice", case.id);
        assert!(
            SUBJECTS.contains(&case.subject.as_str()),
            "{CASES}:{line_no}: unknown subject {:?} (case {})",
            case.subject,
            case.id
        );
        for (lang, outcome) in COLUMNS[3..].iter().zip(&case.outcomes) {
            assert!(
                OUTCOMES.contains(&outcome.as_str()),
                "{CASES}:{line_no}: unknown outcome {outcome:?} in column {lang} (case {})",
                case.id
            );
        }
        cases.push(case);
    }
    assert!(header.is_some(), "{CASES}: no header row");
    cases
}

#[test]
fn every_case_of_the_contract_holds_in_rust() {
    quiet_expected_panics();
    let cases = load();
    assert!(!cases.is_empty(), "{CASES} has no cases");
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in &cases {
        if case.rust() == "n/a" {
            println!("skip  {case}");
            continue;
        }
        let start = Instant::now();
        match catch_unwind(AssertUnwindSafe(|| check(case))) {
            Ok(()) => {
                ran += 1;
                println!("ok    {case} in {:?}", start.elapsed());
            }
            Err(payload) => {
                let why = panic_text(&*payload);
                println!("FAIL  {case}: {why}");
                failures.push(format!("{case}: {why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} contract cases failed:\n  {}", failures.len(), ran + failures.len(), {
        failures.join("\n  ")
    });
    assert!(ran > 0, "no case has a Rust outcome");
}

/// Runs one case: the check for its subject and Rust outcome.
fn check(case: &Case) {
    let input = case.input.as_str();
    match (case.subject.as_str(), case.rust()) {
        ("cache.budget", "disabled") => cache_budget_disabled(budget(input)),
        ("cache.budget", "invalid") => cache_budget_invalid(budget(input)),
        ("group.budget", "disabled") => group_budget_disabled(budget(input)),
        ("group.budget", "invalid") => group_budget_invalid(budget(input)),
        ("cache.ttl", "never_expires") => cache_ttl_never_expires(ttl(input)),
        ("cache.ttl", "invalid") => cache_ttl_invalid(ttl(input)),
        ("group.ttl", "never_expires") => group_ttl_never_expires(ttl(input)),
        ("group.ttl", "invalid") => group_ttl_invalid(ttl(input)),
        ("watch.buffer", "default") => watch_buffer_default(buffer(input)),
        ("watch.buffer", "invalid") => watch_buffer_invalid(buffer(input)),
        ("flight.timeout", "no_wait") => flight_timeout_no_wait(timeout(input)),
        ("fresh.timeout", "no_wait") => fresh_timeout_no_wait(timeout(input)),
        ("watcher.next_timeout", "no_wait") => next_timeout_no_wait(timeout(input)),
        ("leader.leaves", "waiter_retries") => {
            behaviour(input);
            leader_leaves_waiter_retries();
        }
        ("leader.error", "reaches_all") => {
            behaviour(input);
            leader_error_reaches_all();
        }
        ("leader.panic", "reaches_all") => {
            behaviour(input);
            leader_panic_reaches_all();
        }
        ("getter.recursive", "recursive_load") => {
            behaviour(input);
            getter_recursive_load();
        }
        (subject, outcome) => panic!("this test has no check for outcome {outcome:?} of {subject:?} in Rust"),
    }
}

// ---- inputs, spelled the Rust way ----

/// A byte budget: an `i64`; Rust has no "unset" budget.
fn budget(input: &str) -> i64 {
    input.parse().unwrap_or_else(|_| panic!("input {input:?} is not a budget Rust can express"))
}

/// A TTL: `None` for unset, else whole seconds (`Duration` has no negative).
fn ttl(input: &str) -> Option<Duration> {
    if input == "unset" {
        return None;
    }
    let secs: u64 = input.parse().unwrap_or_else(|_| panic!("input {input:?} is not a TTL Rust can express"));
    Some(Duration::from_secs(secs))
}

/// A watch buffer: `None` for unset (the option is not set), else a count.
fn buffer(input: &str) -> Option<usize> {
    if input == "unset" {
        return None;
    }
    Some(input.parse().unwrap_or_else(|_| panic!("input {input:?} is not a buffer Rust can express")))
}

/// A timeout: whole seconds (a timeout is always given in Rust).
fn timeout(input: &str) -> Duration {
    Duration::from_secs(input.parse().unwrap_or_else(|_| panic!("input {input:?} is not a timeout Rust can express")))
}

/// A behaviour takes no input.
fn behaviour(input: &str) {
    assert_eq!(input, "-", "a behaviour's input is `-`");
}

// ---- helpers ----

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

thread_local! {
    /// Set while this thread runs code that panics on purpose.
    static PANIC_EXPECTED: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the panics the cases cause on purpose out of the output (the
/// default hook still reports every other one). This binary has one test,
/// so replacing the process-wide hook disturbs no other.
fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PANIC_EXPECTED.with(Cell::get) {
                default(info);
            }
        }));
    });
}

/// Panics with `msg`, a panic the case expects.
fn expected_panic(msg: &str) -> ! {
    PANIC_EXPECTED.with(|p| p.set(true));
    std::panic::panic_any(msg.to_owned())
}

/// Runs `f`, which must panic; returns the panic's text.
fn must_panic<R>(what: &str, f: impl FnOnce() -> R) -> String {
    PANIC_EXPECTED.with(|p| p.set(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    PANIC_EXPECTED.with(|p| p.set(false));
    match r {
        Ok(_) => panic!("{what} did not panic"),
        Err(p) => panic_text(&*p),
    }
}

/// A group name no other case uses (groups are registered process-wide).
fn name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("contract/{tag}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A getter answering `"v:" + key`, counting its calls.
fn counting_getter(calls: &Arc<AtomicUsize>) -> impl Fn(&[u8]) -> Result<Value, GetterError> + Send + Sync + 'static {
    let calls = Arc::clone(calls);
    move |key: &[u8]| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(Value::from([&b"v:"[..], key].concat()))
    }
}

/// Polls `done` every millisecond until it holds, for at most [`HANG`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Receives one message within [`HANG`].
fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(HANG).unwrap_or_else(|e| panic!("no {what} within {HANG:?}: {e}"))
}

/// A gate a getter waits at (for at most [`HANG`]) until the test opens it.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    /// True when opened, false when [`HANG`] passed first.
    fn pass(&self) -> bool {
        let (m, cv) = &*self.0;
        let guard = cv.wait_timeout_while(m.lock().unwrap(), HANG, |open| !*open).unwrap();
        *guard.0
    }
}

// ---- cache.budget / group.budget ----

/// Accepted; nothing is kept.
fn cache_budget_disabled(b: i64) {
    let c = Cache::try_new(b).unwrap_or_else(|e| panic!("Cache::try_new({b}) refused: {e}"));
    assert_eq!(c.max_bytes(), 0);
    assert!(!c.set(b"k", b"v".to_vec(), None), "a disabled cache kept an entry");
    assert!(c.get(b"k").is_none());
    assert!(c.is_empty());
    assert_eq!(c.stats().bytes, 0);
    // The plain form accepts it too.
    let c = Cache::new(b);
    assert!(!c.set(b"k", b"v".to_vec(), None));
    assert!(c.is_empty());
}

/// `try_new` errs with InvalidArgument; `new` (and `with_shards`) panic.
fn cache_budget_invalid(b: i64) {
    match Cache::try_new(b) {
        Err(Error::InvalidArgument(_)) => {}
        other => panic!("Cache::try_new({b}): expected InvalidArgument, got {other:?}"),
    }
    must_panic("Cache::new", || Cache::new(b));
    must_panic("Cache::with_shards", || Cache::with_shards(b, 4));
}

/// Accepted; every get loads (still once per key at a time), nothing is
/// kept.
fn group_budget_disabled(b: i64) {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("budget"), b, counting_getter(&calls))
        .unwrap_or_else(|e| panic!("Group::new with budget {b} refused: {e}"));
    assert_eq!(g.cache_bytes(), 0);
    for _ in 0..2 {
        assert_eq!(&*g.get(b"k").expect("loads still work"), b"v:k");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "nothing was kept, so each get loads");
    assert_eq!(g.cache_stats(CacheType::Main).items, 0);
    assert_eq!(g.cache_stats(CacheType::Hot).items, 0);
    assert!(g.get_cached(b"k").is_none());
    g.close();
}

/// `Group::new` returns InvalidArgument; no group is registered.
fn group_budget_invalid(b: i64) {
    let n = name("budget");
    let calls = Arc::new(AtomicUsize::new(0));
    match Group::new(&n, b, counting_getter(&calls)) {
        Err(Error::InvalidArgument(_)) => {}
        other => panic!("Group::new with budget {b}: expected InvalidArgument, got {other:?}"),
    }
    assert!(get_group(&n).is_none(), "a refused group was registered");
}

// ---- cache.ttl / group.ttl ----

/// How long a control entry with a 1 ms TTL takes to go; the entry under
/// test must still be there afterwards.
const SHORT_TTL: Duration = Duration::from_millis(1);

/// Accepted; the entry outlives one whose 1 ms TTL ran out.
fn cache_ttl_never_expires(t: Option<Duration>) {
    let c = Cache::new(1 << 10);
    assert!(c.set(b"k", b"v".to_vec(), t), "the entry was not kept");
    assert!(c.set(b"short", b"v".to_vec(), Some(SHORT_TTL)));
    wait_until("an entry with a 1 ms TTL to expire", || c.get(b"short").is_none());
    assert_eq!(c.get(b"k").as_deref(), Some(&b"v"[..]), "the entry expired");
}

/// `Cache::set` panics (there is no `try_` form of `set`); nothing is
/// stored, and an older entry for the key is left as it was.
fn cache_ttl_invalid(t: Option<Duration>) {
    let c = Cache::new(1 << 10);
    assert!(c.set(b"old", b"before".to_vec(), None));
    must_panic("Cache::set of a new key", || c.set(b"k", b"v".to_vec(), t));
    must_panic("Cache::set of a held key", || c.set(b"old", b"after".to_vec(), t));
    assert!(c.get(b"k").is_none(), "the rejected entry was stored");
    assert_eq!(c.get(b"old").as_deref(), Some(&b"before"[..]), "the rejected set changed the held entry");
    assert_eq!(c.len(), 1);
    assert_eq!(c.stats().bytes, 3 + 6);
    c.check_invariants();
}

/// Accepted; a loaded entry outlives one whose 1 ms TTL ran out (in another
/// group), and is not loaded again.
fn group_ttl_never_expires(t: Option<Duration>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::with_options(&name("ttl"), 1 << 10, counting_getter(&calls), GroupOptions::default().ttl(t))
        .unwrap_or_else(|e| panic!("GroupOptions::ttl({t:?}) refused: {e}"));
    let control_calls = Arc::new(AtomicUsize::new(0));
    let control = Group::with_options(
        &name("ttl-control"),
        1 << 10,
        counting_getter(&control_calls),
        GroupOptions::default().ttl(Some(SHORT_TTL)),
    )
    .unwrap();
    assert_eq!(&*g.get(b"k").unwrap(), b"v:k");
    assert_eq!(&*control.get(b"k").unwrap(), b"v:k");
    wait_until("a group entry with a 1 ms TTL to expire", || control.get_cached(b"k").is_none());
    assert_eq!(g.get_cached(b"k").as_deref(), Some(&b"v:k"[..]), "the entry expired");
    assert_eq!(&*g.get(b"k").unwrap(), b"v:k");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the entry was loaded again");
    g.close();
    control.close();
}

/// `Group::with_options` returns InvalidArgument; no group is registered.
fn group_ttl_invalid(t: Option<Duration>) {
    let n = name("ttl");
    let calls = Arc::new(AtomicUsize::new(0));
    match Group::with_options(&n, 1 << 10, counting_getter(&calls), GroupOptions::default().ttl(t)) {
        Err(Error::InvalidArgument(_)) => {}
        other => panic!("GroupOptions::ttl({t:?}): expected InvalidArgument, got {other:?}"),
    }
    assert!(get_group(&n).is_none(), "a refused group was registered");
}

// ---- watch.buffer ----

fn watch_options(buffer: Option<usize>) -> WatchOptions {
    let opts = WatchOptions::new();
    match buffer {
        None => opts,
        Some(n) => opts.buffer(n),
    }
}

fn add(wc: &WatchCache, key: &str, rv: u64) {
    wc.add(Object::new(key, &b"{}"[..]), rv).unwrap_or_else(|e| panic!("add {key} at {rv}: {e}"));
}

/// Accepted; the watcher holds exactly [`DEFAULT_WATCH_BUFFER`] unread live
/// events and is closed as fallen behind by the next one.
fn watch_buffer_default(buffer: Option<usize>) {
    let opts = watch_options(buffer);
    assert_eq!(opts.buffer, DEFAULT_WATCH_BUFFER);
    let wc = WatchCache::new(16).unwrap();
    let all = Selector::everything();
    let w = wc.watch(0, &all, &all, opts).unwrap_or_else(|e| panic!("watch with buffer {buffer:?} refused: {e}"));
    let n = u64::try_from(DEFAULT_WATCH_BUFFER).unwrap();
    for rv in 1..=n {
        add(&wc, &format!("k{rv}"), rv);
    }
    assert_eq!(w.close_reason(), None, "closed before its default buffer was full");
    assert_eq!(w.pending(), DEFAULT_WATCH_BUFFER);
    add(&wc, "one-more", n + 1);
    assert_eq!(w.close_reason(), Some(CloseReason::FellBehind { buffer: DEFAULT_WATCH_BUFFER }));
}

/// `WatchCache::watch` returns InvalidArgument; no watcher is registered.
fn watch_buffer_invalid(buffer: Option<usize>) {
    let wc = WatchCache::new(16).unwrap();
    let all = Selector::everything();
    match wc.watch(0, &all, &all, watch_options(buffer)) {
        Err(WatchError::InvalidArgument(_)) => {}
        other => panic!("watch with buffer {buffer:?}: expected InvalidArgument, got {other:?}"),
    }
    assert_eq!(wc.window_stats().watchers, 0);
}

// ---- timeouts ----

/// Runs `f` on a thread of its own and returns its result and how long it
/// took; fails if it takes longer than [`AT_ONCE`] (and gives up waiting
/// for it after [`HANG`], so a call that blocks for good fails the case
/// rather than hanging the test).
fn at_once<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let r = f();
        let _ = tx.send((r, start.elapsed()));
    });
    let (r, took) = recv(&rx, what);
    assert!(took < AT_ONCE, "{what} waited {took:?}");
    r
}

/// `Flight::run_timeout` with a load in flight times out at once without
/// running its loader; the load goes on; with no load in flight the same
/// call runs its loader.
fn flight_timeout_no_wait(t: Duration) {
    let f: Flight<String, u32, String> = Flight::new();
    let Ticket::Leader(leader) = f.begin("k".to_owned()) else { panic!("the first begin leads") };
    let ran = Arc::new(AtomicUsize::new(0));
    let (f2, ran2) = (f.clone(), Arc::clone(&ran));
    let r = at_once(&format!("run_timeout({t:?}) with a load in flight"), move || {
        f2.run_timeout("k".to_owned(), t, || {
            ran2.fetch_add(1, Ordering::SeqCst);
            Ok(2)
        })
    });
    assert_eq!(r, Err(FlightError::Timeout));
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the timed-out caller ran a loader");
    assert_eq!(f.in_flight(), 1, "the load goes on");
    assert_eq!(leader.complete(Ok(1)).map(|(v, _)| v), Ok(1));
    assert_eq!(f.in_flight(), 0);
    // Accepted: with nothing in flight the caller leads.
    assert_eq!(f.run_timeout("k".to_owned(), t, || Ok(3)), Ok((3, false)));
}

/// `wait_until_fresh` for a resourceVersion not seen yet fails at once with
/// TooLargeResourceVersion; for one already seen it succeeds.
fn fresh_timeout_no_wait(t: Duration) {
    let wc = Arc::new(WatchCache::new(16).unwrap());
    add(&wc, "a", 1);
    let wc2 = Arc::clone(&wc);
    let r = at_once(&format!("wait_until_fresh(5, {t:?}) at 1"), move || wc2.wait_until_fresh(5, t));
    assert_eq!(r, Err(WatchError::TooLargeResourceVersion { requested: 5, current: 1 }));
    let wc2 = Arc::clone(&wc);
    let r = at_once(&format!("wait_until_fresh(1, {t:?}) at 1"), move || wc2.wait_until_fresh(1, t));
    assert_eq!(r, Ok(()), "a seen resourceVersion needs no wait");
}

/// `next_timeout` with nothing to read returns `None` at once (not a
/// close); with an event ready it returns it.
fn next_timeout_no_wait(t: Duration) {
    let wc = WatchCache::new(16).unwrap();
    let all = Selector::everything();
    let w = Arc::new(wc.watch(0, &all, &all, WatchOptions::new()).unwrap());
    let w2 = Arc::clone(&w);
    let r =
        at_once(&format!("next_timeout({t:?}) on an idle watcher"), move || w2.next_timeout(t).map(|e| e.is_some()));
    assert_eq!(r, Ok(false), "next_timeout({t:?}) on an idle watcher");
    assert_eq!(w.close_reason(), None, "a timeout is not a close");
    add(&wc, "a", 1);
    let w2 = Arc::clone(&w);
    let ev = at_once(&format!("next_timeout({t:?}) with an event ready"), move || w2.next_timeout(t));
    assert_eq!(ev.expect("open").expect("the event is ready").resource_version(), 1);
}

// ---- behaviours ----

/// Spawns a thread running `Group::get(key)`; its result arrives on the
/// returned channel.
fn spawn_get(g: &Group, key: &'static [u8]) -> Receiver<Result<Value, Error>> {
    let (tx, rx) = mpsc::channel();
    let g = g.clone();
    thread::spawn(move || {
        let _ = tx.send(g.get(key));
    });
    rx
}

/// Spawns a thread running `Group::get_waiting(key)`, whose wait step
/// (run only by a caller that found the key's load in flight) sends on
/// `joined`: a waiter the test can see join. Its result arrives on the
/// returned channel.
fn spawn_seen_get(g: &Group, key: &'static [u8], joined: &mpsc::Sender<()>) -> Receiver<Result<Value, Error>> {
    let (tx, rx) = mpsc::channel();
    let g = g.clone();
    let joined = joined.clone();
    thread::spawn(move || {
        let r = g.get_waiting(key, |_| {
            let _ = joined.send(());
            Ok::<(), std::convert::Infallible>(())
        });
        let _ = tx.send(r.unwrap_or_else(|never| match never {}));
    });
    rx
}

/// A leader that leaves without a result (through `run` with its own
/// reason, or dropped) fails no waiter: the waiters, blocked in
/// `Group::get`, take the key over, one of them loads, all get the value,
/// and the getter runs once.
fn leader_leaves_waiter_retries() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("leaves"), 1 << 10, counting_getter(&calls)).unwrap();
    for (round, key) in [(0, &b"run"[..]), (1, &b"drop"[..])] {
        let key: &'static [u8] = key;
        let before = calls.load(Ordering::SeqCst);
        let loads_before = g.stats().loads;
        let GroupTicket::Leader(leader) = g.begin(key).unwrap() else { panic!("the first miss leads") };
        let (joined_tx, joined_rx) = mpsc::channel();
        let waiters = [spawn_get(&g, key), spawn_get(&g, key), spawn_seen_get(&g, key, &joined_tx)];
        // The seen waiter is in the load; the two plain ones have missed
        // (counted) and are a few instructions from joining it. A plain one
        // that joins late leads the next load itself: the outcome is the
        // same, and the seen one always takes the retry path.
        recv(&joined_rx, "join of the seen waiter");
        wait_until("all three waiters to miss", || g.stats().loads >= loads_before + 4);
        thread::sleep(Duration::from_millis(50));
        if round == 0 {
            let r = leader.run(|_| Err("the caller was interrupted"));
            assert_eq!(r.err(), Some("the caller was interrupted"), "the leader's caller sees its own reason");
        } else {
            drop(leader);
        }
        for (i, rx) in waiters.iter().enumerate() {
            let r = recv(rx, "waiter's result");
            let want = [&b"v:"[..], key].concat();
            assert_eq!(r.as_deref().ok(), Some(&want[..]), "waiter {i} after the leader left ({round}): {r:?}");
        }
        assert_eq!(calls.load(Ordering::SeqCst) - before, 1, "one getter call for the take-over");
    }
    g.close();
}

#[derive(Debug)]
struct UpstreamDown;

impl fmt::Display for UpstreamDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("upstream down")
    }
}

impl std::error::Error for UpstreamDown {}

/// How a gated getter ends once the gate opens.
#[derive(Clone, Copy)]
enum Ending {
    Fail,
    Panic,
}

/// A group whose getter reports entering on `entered`, waits at the gate,
/// then fails or panics. Returns the group, the gate and the call count.
fn gated_group(ending: Ending) -> (Group, Gate, Receiver<()>, Arc<AtomicUsize>) {
    let gate = Gate::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered_rx) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let (g2, c2) = (gate.clone(), Arc::clone(&calls));
    let getter = move |_: &[u8]| -> Result<Value, GetterError> {
        c2.fetch_add(1, Ordering::SeqCst);
        let _ = entered_tx.lock().unwrap().send(());
        if !g2.pass() {
            return Err(Arc::from(Box::<dyn std::error::Error + Send + Sync>::from("the gate never opened")));
        }
        match ending {
            Ending::Fail => Err(Arc::new(UpstreamDown)),
            // The leader's thread ends after this load: the flag goes with it.
            Ending::Panic => expected_panic("the upstream client exploded"),
        }
    };
    (Group::new(&name("gated"), 1 << 10, getter).unwrap(), gate, entered_rx, calls)
}

/// Runs one load that ends as `ending` with a leader (a thread in
/// `Group::get`), three waiters in `Group::get` that are seen to join, and
/// a waiter ticket from `Group::begin`; returns every caller's result,
/// leader first, after checking the getter ran once.
fn shared_failure(ending: Ending) -> Vec<Result<Value, Error>> {
    let (g, gate, entered, calls) = gated_group(ending);
    let leader = spawn_get(&g, b"k");
    recv(&entered, "getter call");
    let (joined_tx, joined_rx) = mpsc::channel();
    let waiters: Vec<_> = (0..3).map(|_| spawn_seen_get(&g, b"k", &joined_tx)).collect();
    for _ in 0..3 {
        recv(&joined_rx, "join of a waiter");
    }
    let GroupTicket::Waiter(ticket) = g.begin(b"k").unwrap() else { panic!("a load is in flight: begin waits") };
    gate.open();
    let mut results = vec![recv(&leader, "leader's result")];
    for rx in &waiters {
        results.push(recv(rx, "waiter's result"));
    }
    results.push(ticket.wait_timeout(HANG));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the getter ran once for everyone");
    assert_eq!(g.cache_stats(CacheType::Main).items, 0, "a failure is not cached");
    g.close();
    results
}

/// The getter's error reaches the leader and every waiter: the same error
/// object, of the getter's own type.
fn leader_error_reaches_all() {
    let results = shared_failure(Ending::Fail);
    let first = match &results[0] {
        Err(Error::Getter(e)) => Arc::clone(e),
        other => panic!("the leader got {other:?}, expected the getter's error"),
    };
    assert!(first.downcast_ref::<UpstreamDown>().is_some(), "the error lost its type: {first}");
    for (i, r) in results.iter().enumerate() {
        match r {
            Err(Error::Getter(e)) => assert!(Arc::ptr_eq(e, &first), "caller {i} got another error object: {e}"),
            other => panic!("caller {i} got {other:?}, expected the getter's error"),
        }
    }
}

/// The getter's panic reaches the leader and every waiter as
/// LoaderPanicked with its message.
fn leader_panic_reaches_all() {
    for (i, r) in shared_failure(Ending::Panic).iter().enumerate() {
        match r {
            Err(Error::LoaderPanicked(m)) => {
                assert!(m.contains("the upstream client exploded"), "caller {i}: the message is lost: {m:?}")
            }
            other => panic!("caller {i} got {other:?}, expected LoaderPanicked"),
        }
    }
}

/// A getter that gets its own key, directly or through another key's
/// load, fails at once with RecursiveLoad; the outer load goes on.
fn getter_recursive_load() {
    type Seen = Mutex<Vec<(Vec<u8>, Result<Value, Error>, Duration)>>;
    let holder: Arc<OnceLock<Group>> = Arc::new(OnceLock::new());
    let seen: Arc<Seen> = Arc::default();
    let (h, s) = (Arc::clone(&holder), Arc::clone(&seen));
    let getter = move |key: &[u8]| -> Result<Value, GetterError> {
        let g = h.get().expect("the group is set before any get");
        // "self" asks for itself; "a" asks for "b", which asks for "a".
        let inner: &[u8] = match key {
            b"self" => b"self",
            b"a" => b"b",
            _ => b"a",
        };
        let start = Instant::now();
        let r = g.get(inner);
        s.lock().unwrap().push((key.to_vec(), r.clone(), start.elapsed()));
        match r {
            Ok(v) => Ok(v),
            Err(Error::RecursiveLoad) => Ok(Value::from(&b"outer"[..])),
            Err(e) => Err(Arc::new(e)),
        }
    };
    let g = Group::new(&name("recursive"), 1 << 10, getter).unwrap();
    holder.set(g.clone()).unwrap();

    // On threads, read with a deadline: a deadlock fails instead of hanging.
    assert_eq!(recv(&spawn_get(&g, b"self"), "outer get").as_deref().ok(), Some(&b"outer"[..]));
    assert_eq!(recv(&spawn_get(&g, b"a"), "outer get of a chain").as_deref().ok(), Some(&b"outer"[..]));
    let seen = seen.lock().unwrap();
    let inner: Vec<_> = seen.iter().map(|(k, r, _)| (String::from_utf8_lossy(k).into_owned(), r.clone())).collect();
    assert_eq!(seen.len(), 3, "three getter calls (self; a, then b): {inner:?}");
    for (key, r, took) in [&seen[0], &seen[1]] {
        let key = String::from_utf8_lossy(key);
        assert!(matches!(r, Err(Error::RecursiveLoad)), "the getter of {key:?}: inner get gave {r:?}");
        assert!(*took < AT_ONCE, "the getter of {key:?}: RecursiveLoad took {took:?}");
    }
    assert_eq!(&*seen[0].0, b"self");
    assert_eq!(&*seen[1].0, b"b", "in the chain, b's get of a is the recursive one");
    drop(seen);
    // Nothing is stuck: the keys are free and cached.
    assert_eq!(g.get_cached(b"self").as_deref(), Some(&b"outer"[..]));
    g.close();
}
