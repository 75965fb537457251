//! Pre-initialised interpreters: a snapshot of an interpreter's linear
//! memory taken after its runtime glue has loaded, so a cold start restores
//! it instead of running that init again (issue 16; Lambda SnapStart's idea).
//!
//! Why our own snapshot and not `wasmtime-wizer`: wizer writes a new module,
//! and CPython's is 100 MB of code that takes Cranelift ~2.5 minutes and
//! ~2 GB to compile; every snapshot would pay that again although only the
//! data changed. A snapshot here is just the pages of linear memory that
//! differ from a fresh instance's, written back after instantiating the
//! same precompiled interpreter. That is sound because the snapshot is taken
//! between two calls of the interpreter's `turn` export, when no Wasm frame
//! is live: the interpreters' only mutable global is the shadow stack
//! pointer, which is back at its initial value then, and their tables are
//! fixed (wizer relies on the same facts and likewise restores no WASI state:
//! the glue opens no file it keeps across the snapshot).
//!
//! A language opts in with a [`Preinit`]: the code its interpreter's `turn`
//! export runs to load the glue (stopping before the handler is imported
//! or the environment read) and the code that resumes it in a fresh
//! instance. The snapshot file names what it was taken from (the
//! interpreter's `.wasm` hash and the glue's identity); a file taken from
//! anything else is stale and never restored. A second level, the
//! interpreter after the handler's import, is keyed also by what that
//! import depended on ([`handler_snapshot`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::io::Read as _;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use wasmtime::{AsContextMut, Extern, Instance, Memory, Store};

use super::RunFuture;
use super::bridge::InterpreterState;
use super::handler_snapshot::{self, FileRecord, ImportReads, ImportRecord, Location};
use crate::engine::split::rest::{self, RestLink};
use crate::engine::{compressed, source};
use crate::errors::LambdaError;
use crate::sandbox::Stdio;
use crate::settings::{FunctionSettings, PreinitLevel};
use crate::store::{self, GuestState, InstanceTemplate};

/// What a language needs to be pre-initialised.
pub struct Preinit {
    /// The interpreter's home.
    pub home: fn(&FunctionSettings) -> &Path,
    /// The precompiled interpreter in its home, whose source record names
    /// the module a snapshot belongs to.
    pub interpreter_cwasm: &'static str,
    /// The snapshot of the interpreter with its glue loaded, in its home.
    pub snapshot_file: &'static str,
    /// The runtime glue's identity (a hash of its source): a snapshot of
    /// other glue is stale.
    pub glue_identity: fn() -> String,
    /// What `turn` runs in a fresh instance to load the glue, stopping
    /// before anything reads the environment or imports the handler.
    pub load_runtime: fn() -> String,
    /// Code that makes the interpreter's environment these variables: its
    /// C library keeps the ones it read before the snapshot, and `turn`
    /// does not read them again.
    pub set_environment: fn(&[(String, String)]) -> String,
    /// What `turn` runs next to import the handler, recording which
    /// environment variables the import reads, and stop; its status is 0
    /// when the import succeeded.
    pub import_handler: &'static str,
    /// What `turn` runs after that to stop recording (the environment a
    /// plain mapping again) and report the variables read in a `V` frame.
    pub report_reads: &'static str,
    /// What `turn` runs in a restored instance: the rest of the glue (the
    /// handler's import unless done, then every event).
    pub resume: &'static str,
    /// How the snapshot's steps run code in the interpreter: [`turn_export`]
    /// for an interpreter with a `turn` export.
    pub turn: Turn,
}

/// Runs code in an interpreter instance, `fresh` when it is the first code
/// the instance runs; its status (0: done).
pub type Turn = for<'a> fn(
    &'a mut Store<GuestState<InterpreterState>>,
    &'a Instance,
    &'a str,
    bool,
) -> RunFuture<'a>;

impl Preinit {
    /// The key of the runtime's snapshot for this function: its interpreter
    /// (the `.wasm` its `.cwasm` was compiled from), the glue, and where the
    /// guest sees the task root (the C library keeps the preopened folders'
    /// names it found before the snapshot). `None` when the interpreter's
    /// `.cwasm` has no source record.
    fn runtime_key(&self, settings: &FunctionSettings) -> Option<[u8; 32]> {
        let cwasm = (self.home)(settings).join(self.interpreter_cwasm);
        // A package may hold the interpreter compressed, its record beside.
        let interpreter = [cwasm.with_extension(compressed::EXTENSION), cwasm]
            .iter()
            .find_map(|module| source::recorded_sha256(module))?;
        Some(key(&[
            interpreter.as_bytes(),
            (self.glue_identity)().as_bytes(),
            settings.guest_task_root.as_bytes(),
        ]))
    }

    /// Takes the runtime's snapshot with `template` (a function's sandbox,
    /// whose task root the guest sees where Lambda shows it) and saves it in
    /// the interpreter's home, where the bootstrap finds it; returns its path.
    pub async fn prepare(
        &self,
        template: &InstanceTemplate<InterpreterState>,
    ) -> anyhow::Result<PathBuf> {
        let settings = &template.settings;
        let home = (self.home)(settings);
        let key = self.runtime_key(settings).with_context(|| {
            format!(
                "{} has no source record; compile the interpreter with `lambda-wasm compile` first",
                home.join(self.interpreter_cwasm).display()
            )
        })?;
        let snapshot = self.take(template).await?;
        let path = home.join(self.snapshot_file);
        snapshot.save(&path, &key)?;
        Ok(path)
    }

    /// How a new environment of this function starts from a snapshot: the
    /// handler's ([`handler_snapshot`]) when one can serve it (in test mode,
    /// which has a module cache, taken now with `template()` when missing;
    /// else the one a package ships), else the runtime's (the home's, or
    /// for another task root the cache's). `None` (start from scratch) when
    /// snapshots are off or none can be had. `env` is what the sandbox adds
    /// to the function's variables.
    pub async fn resume_for(
        &self,
        settings: &FunctionSettings,
        env: &[(String, String)],
        template: impl Fn() -> Result<InstanceTemplate<InterpreterState>, LambdaError>,
    ) -> Option<Arc<Resume>> {
        if settings.preinit == PreinitLevel::Off {
            return None;
        }
        let Some(runtime_key) = self.runtime_key(settings) else {
            let in_home = (self.home)(settings).join(self.snapshot_file);
            if in_home.is_file() {
                tracing::warn!(
                    "not using {}: the interpreter's {} has no .source record to check the snapshot against; starting from scratch (`lambda-wasm package` ships both)",
                    in_home.display(),
                    self.interpreter_cwasm
                );
            }
            return None;
        };
        let variables: Vec<_> = settings.guest_env.iter().chain(env).cloned().collect();
        let set_environment = (self.set_environment)(&variables);
        let cache = settings
            .module_cache_dir
            .as_ref()
            .map(|dir| dir.join("snapshots"));
        let mut snapshot = None;
        if settings.preinit == PreinitLevel::Handler {
            snapshot = match &cache {
                Some(cache) => {
                    self.cached_handler_snapshot(
                        cache,
                        runtime_key,
                        settings,
                        &variables,
                        &template,
                    )
                    .await
                }
                None => handler_snapshot::packaged(
                    (self.home)(settings),
                    &runtime_key,
                    &settings.task_root,
                    &variables,
                ),
            };
        }
        if snapshot.is_none() {
            snapshot = self
                .runtime_snapshot(settings, runtime_key, cache, &template)
                .await;
        }
        Some(Arc::new(Resume {
            snapshot: snapshot?,
            code: set_environment + self.resume,
        }))
    }

    /// Takes the handler's snapshot with `template` (whose settings hold
    /// the function's variables, task root and homes) and saves it and its
    /// record at `location`; `files` are the task root's as the function
    /// will see them. An error when the handler's module does not import.
    pub async fn prepare_handler(
        &self,
        template: &InstanceTemplate<InterpreterState>,
        env: &[(String, String)],
        files: Vec<FileRecord>,
        location: &Location,
    ) -> anyhow::Result<()> {
        let settings = &template.settings;
        let runtime_key = self.runtime_key(settings).with_context(|| {
            format!(
                "{} has no source record; compile the interpreter with `lambda-wasm compile` first",
                (self.home)(settings).join(self.interpreter_cwasm).display()
            )
        })?;
        let variables: Vec<_> = settings.guest_env.iter().chain(env).cloned().collect();
        let (snapshot, record) = self.take_handler(template, &variables, files).await?;
        location.save(&snapshot, &record, &runtime_key)
    }

    /// Test mode's handler snapshot: the cache's when its record matches
    /// the function now, else taken now and filed there (replacing one
    /// whose variables differ).
    async fn cached_handler_snapshot(
        &self,
        cache: &Path,
        runtime_key: [u8; 32],
        settings: &FunctionSettings,
        variables: &[(String, String)],
        template: impl Fn() -> Result<InstanceTemplate<InterpreterState>, LambdaError>,
    ) -> Option<Snapshot> {
        let task_root = &settings.task_root;
        let location = Location::in_cache(cache, &runtime_key, &settings.handler.raw, task_root)
            .inspect_err(|error| tracing::info!("no handler snapshot: {error:#}"))
            .ok()?;
        match location.load(&runtime_key) {
            Ok(Some((snapshot, record))) => {
                match record.mismatch(task_root, variables, "the snapshot") {
                    None => return Some(snapshot),
                    Some(reason) => tracing::info!("taking the handler snapshot again: {reason}"),
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!("replacing the cached handler snapshot: {error:#}"),
        }
        let taken = async {
            let template =
                template().map_err(|error| anyhow::anyhow!("{}", error.error_message))?;
            let files = test_mode_files(task_root)?;
            self.take_handler(&template, variables, files).await
        };
        let (snapshot, record) = taken
            .await
            .inspect_err(|error| tracing::info!("no handler snapshot: {error:#}"))
            .ok()?;
        if let Err(error) = location.save(&snapshot, &record, &runtime_key) {
            tracing::warn!("cannot cache the handler snapshot: {error:#}");
        }
        Some(snapshot)
    }

    /// The runtime's snapshot: the home's when it was taken for this task
    /// root, else the cache's (taken now when missing), if there is a cache.
    async fn runtime_snapshot(
        &self,
        settings: &FunctionSettings,
        key: [u8; 32],
        cache: Option<PathBuf>,
        template: impl Fn() -> Result<InstanceTemplate<InterpreterState>, LambdaError>,
    ) -> Option<Snapshot> {
        let in_home = (self.home)(settings).join(self.snapshot_file);
        match Snapshot::load(&in_home, &key) {
            Ok(Some(snapshot)) => return Some(snapshot),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(
                    "not using the interpreter's snapshot: {error:#}; starting from scratch"
                );
                return None;
            }
        }
        let path = cache?.join(format!("{}.snapshot", source::hex(&key)));
        match Snapshot::load(&path, &key) {
            Ok(Some(snapshot)) => return Some(snapshot),
            Ok(None) => {}
            Err(error) => tracing::warn!("replacing the cached snapshot: {error:#}"),
        }
        let taken = async {
            let template =
                template().map_err(|error| anyhow::anyhow!("{}", error.error_message))?;
            self.take(&template).await
        };
        let snapshot = taken
            .await
            .inspect_err(|error| tracing::info!("no snapshot: {error:#}; starting from scratch"))
            .ok()?;
        if let Err(error) = snapshot.save(&path, &key) {
            tracing::warn!("cannot cache the interpreter's snapshot: {error:#}");
        }
        Some(snapshot)
    }

    /// Instantiates the interpreter in a store of `template` and loads the
    /// glue with `turn`: the store and instance, and the memory of a fresh
    /// instance (what a snapshot is the difference from).
    async fn load_glue(
        &self,
        template: &InstanceTemplate<InterpreterState>,
    ) -> anyhow::Result<(Store<GuestState<InterpreterState>>, Instance, Vec<u8>)> {
        let mut store = template.new_store(Stdio::Reactor, &[])?;
        store::begin_init(&mut store);
        let instance = template.pre().instantiate_async(&mut store).await?;
        let fresh = memory_of(&mut store, &instance)?.data(&store).to_vec();
        let status = (self.turn)(&mut store, &instance, &(self.load_runtime)(), true).await?;
        if status != 0 {
            anyhow::bail!(
                "the interpreter could not load its runtime glue (status {status}); see its output above"
            );
        }
        Ok((store, instance, fresh))
    }

    /// The runtime's snapshot, taken in a store of `template`.
    async fn take(
        &self,
        template: &InstanceTemplate<InterpreterState>,
    ) -> anyhow::Result<Snapshot> {
        let (mut store, instance, fresh) = self.load_glue(template).await?;
        let memory = memory_of(&mut store, &instance)?;
        Ok(Snapshot::capture(&fresh, memory.data(&store)))
    }

    /// The handler's snapshot, taken in a store of `template` with the
    /// function's `variables`, and the record of what its import read.
    async fn take_handler(
        &self,
        template: &InstanceTemplate<InterpreterState>,
        variables: &[(String, String)],
        files: Vec<FileRecord>,
    ) -> anyhow::Result<(Snapshot, ImportRecord)> {
        let (mut store, instance, fresh) = self.load_glue(template).await?;
        let code = format!(
            "{}{}",
            (self.set_environment)(variables),
            self.import_handler
        );
        if (self.turn)(&mut store, &instance, &code, false).await? != 0 {
            anyhow::bail!("the handler's module did not import; the function imports it at init");
        }
        if (self.turn)(&mut store, &instance, self.report_reads, false).await? != 0 {
            anyhow::bail!("the runtime glue could not report the variables the import read");
        }
        let reads = store.data_mut().kind.import_reads.take().with_context(
            || "the runtime glue did not report the variables the handler's import read",
        )?;
        let loads_rest = store.data().rest.as_ref().is_some_and(RestLink::is_loaded);
        let record = ImportRecord::new(&ImportReads::parse(&reads)?, variables, files, loads_rest);
        let memory = memory_of(&mut store, &instance)?;
        let snapshot = Snapshot::capture(&fresh, memory.data(&store)).loading_rest(loads_rest);
        Ok((snapshot, record))
    }
}

/// Test mode's record of the task root's files: every file, with its time.
fn test_mode_files(task_root: &Path) -> anyhow::Result<Vec<FileRecord>> {
    source::files_under(task_root)?
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(task_root).unwrap_or(file);
            FileRecord::of(file, relative.to_string_lossy().into_owned(), None)
        })
        .collect()
}

/// A snapshot and the code that resumes the interpreter from it.
pub struct Resume {
    snapshot: Snapshot,
    code: String,
}

impl Resume {
    /// Restores the snapshot into a fresh `instance` and runs the rest of
    /// the glue; its status once the host has no more events.
    pub async fn run<T: Send>(
        &self,
        store: &mut Store<GuestState<T>>,
        instance: &Instance,
    ) -> wasmtime::Result<i32> {
        let code = self.restore(&mut *store, instance)?;
        if self.snapshot.loads_rest {
            rest::load_rest(&mut *store, instance, |state| state.rest.as_mut()).await?;
        }
        turn(store, instance, code).await
    }

    /// Restores the snapshot into a fresh `instance`; the code that
    /// resumes the glue, for an interpreter the host drives itself.
    pub fn restore(
        &self,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> wasmtime::Result<&str> {
        let memory = memory_of(&mut store, instance)?;
        self.snapshot.restore(&mut store, memory)?;
        Ok(&self.code)
    }
}

/// [`Preinit::turn`] of an interpreter with a `turn` export, which starts
/// the interpreter itself when `fresh`.
pub fn turn_export<'a>(
    store: &'a mut Store<GuestState<InterpreterState>>,
    instance: &'a Instance,
    code: &'a str,
    _fresh: bool,
) -> RunFuture<'a> {
    Box::pin(turn(store, instance, code))
}

/// Runs `code` in the interpreter with its `turn` export (the code is
/// copied into memory the interpreter allocates); its status.
async fn turn<T: Send>(
    store: &mut Store<GuestState<T>>,
    instance: &Instance,
    code: &str,
) -> wasmtime::Result<i32> {
    let alloc = instance.get_typed_func::<i32, i32>(&mut *store, "host_alloc")?;
    let turn = instance.get_typed_func::<(i32, i32), i32>(&mut *store, "turn")?;
    let len = i32::try_from(code.len())?;
    let ptr = alloc.call_async(&mut *store, len).await?;
    memory_of(&mut *store, instance)?.write(&mut *store, ptr as u32 as usize, code.as_bytes())?;
    // Above 255 the interpreter says it was asked to quit; the low byte is
    // the exit status, as `run` returns it.
    Ok(turn.call_async(&mut *store, (ptr, len)).await? & 0xff)
}

/// A Wasm page, the unit a snapshot stores; also the alignment of the pages
/// in a snapshot file, so that they can be mapped (host pages are 4 KiB, or
/// 16/64 KiB on some arm64 kernels: all divide it).
const PAGE: usize = 64 * 1024;
/// The first bytes of a snapshot file; bumped when its layout changes (v2:
/// the pages start at a `PAGE`-aligned offset, to be mapped).
const MAGIC: &[u8; 24] = b"lambda-wasm snapshot v2\n";
/// The header's fixed part: the magic, the key, the memory's size and the
/// number of pages (their indices follow).
const HEADER: usize = MAGIC.len() + 32 + 8 + 4;

/// The pages of an interpreter's memory that differ from a fresh instance's.
#[derive(Debug)]
pub struct Snapshot {
    /// The memory's size in bytes when it was taken.
    memory_bytes: u64,
    /// The indices of the stored pages, ascending.
    pages: Vec<u32>,
    /// Their contents, `PAGE` bytes each, in the same order.
    contents: Contents,
    /// Whether the interpreter had loaded its rest (a split module's)
    /// when the snapshot was taken; a restore then loads it too. Kept in a
    /// handler snapshot's record, not in the snapshot's file.
    loads_rest: bool,
}

/// Where a snapshot's pages are.
#[derive(Debug)]
enum Contents {
    /// Captured by this process.
    Captured(Vec<u8>),
    /// In a snapshot file from `offset` on: restores map them from there
    /// copy-on-write, so a page costs memory only once the interpreter
    /// touches it and the host keeps no copy of them for later restores.
    File { file: std::fs::File, offset: u64 },
}

impl Snapshot {
    /// The pages of `memory` that differ from `fresh` (what a new instance
    /// holds); past `fresh`'s end, the pages that are not all zeros.
    pub fn capture(fresh: &[u8], memory: &[u8]) -> Self {
        let mut pages = Vec::new();
        let mut data = Vec::new();
        for (index, page) in memory.chunks(PAGE).enumerate() {
            let start = index * PAGE;
            let unchanged = match fresh.get(start..start + page.len()) {
                Some(before) => before == page,
                None => page.iter().all(|&byte| byte == 0),
            };
            if !unchanged {
                pages.push(u32::try_from(index).expect("a 32-bit memory has < 2^32 pages"));
                data.extend_from_slice(page);
                data.resize(pages.len() * PAGE, 0);
            }
        }
        Self {
            memory_bytes: memory.len() as u64,
            pages,
            contents: Contents::Captured(data),
            loads_rest: false,
        }
    }

    /// The snapshot, restored with the interpreter's rest loaded when `loads_rest`.
    pub fn loading_rest(self, loads_rest: bool) -> Self {
        Self { loads_rest, ..self }
    }

    /// How many bytes of memory the snapshot writes at restore.
    pub fn stored_bytes(&self) -> usize {
        self.pages.len() * PAGE
    }

    /// Writes the snapshot into `memory` of a fresh instance of the same
    /// module, growing it to the snapshot's size first. A loaded snapshot's
    /// pages are mapped from its file rather than copied.
    pub fn restore(&self, mut store: impl AsContextMut, memory: Memory) -> wasmtime::Result<()> {
        let current = memory.data_size(&store) as u64;
        if current < self.memory_bytes {
            let grow = (self.memory_bytes - current).div_ceil(PAGE as u64);
            memory.grow(&mut store, grow).map_err(|error| {
                wasmtime::format_err!(
                    "cannot grow the interpreter's memory to its snapshot's size: {error}"
                )
            })?;
        }
        let bytes = memory.data_mut(&mut store);
        for run in runs(&self.pages) {
            let target = &mut bytes[run.first_page * PAGE..(run.first_page + run.pages) * PAGE];
            let stored = run.position * PAGE;
            match &self.contents {
                Contents::Captured(data) => {
                    target.copy_from_slice(&data[stored..stored + target.len()])
                }
                Contents::File { file, offset } => {
                    // SAFETY: `target` lies in the accessible part of a
                    // linear memory of this host's engine (its on-demand
                    // allocator: an mmap reservation of its own, unmapped
                    // whole when the instance is dropped, never reset in
                    // place as the pooling allocator's slots are), and no
                    // Wasm code runs in this fresh instance yet, so nothing
                    // holds references into it.
                    let mapped = unsafe { map_private(file, offset + stored as u64, target) };
                    mapped.map_err(|error| {
                        wasmtime::format_err!("cannot map the interpreter's snapshot: {error}")
                    })?
                }
            }
        }
        Ok(())
    }

    /// Writes the snapshot to `path`, beside and renamed into place, marked
    /// with `key` (what it was taken from). Only a captured snapshot has its
    /// pages at hand; one loaded from a file is already saved.
    pub fn save(&self, path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
        let Contents::Captured(data) = &self.contents else {
            anyhow::bail!("only a snapshot taken by this process can be saved");
        };
        let mut out = Vec::with_capacity(data_offset(self.pages.len()) + data.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(key);
        out.extend_from_slice(&self.memory_bytes.to_le_bytes());
        out.extend_from_slice(&(self.pages.len() as u32).to_le_bytes());
        for index in &self.pages {
            out.extend_from_slice(&index.to_le_bytes());
        }
        out.resize(data_offset(self.pages.len()), 0);
        out.extend_from_slice(data);
        crate::engine::write_replacing(path, &out)
    }

    /// The snapshot in `path` if it was taken from what `key` names; `None`
    /// when there is none or it is stale. Reads its header only: the file
    /// stays open and its pages are mapped at each restore.
    pub fn load(path: &Path, key: &[u8; 32]) -> anyhow::Result<Option<Self>> {
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let mut header = [0; HEADER];
        if file.read_exact(&mut header).is_err() || &header[..MAGIC.len()] != MAGIC {
            anyhow::bail!(
                "{} is not a lambda-wasm snapshot (or one of another version)",
                path.display()
            );
        }
        if &header[MAGIC.len()..MAGIC.len() + 32] != key {
            return Ok(None);
        }
        let at = MAGIC.len() + 32;
        let memory_bytes = u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
        let count = u32::from_le_bytes(header[at + 8..].try_into().expect("4 bytes")) as usize;
        let size = file
            .metadata()
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        if size != (data_offset(count) + count * PAGE) as u64 {
            anyhow::bail!("{} is truncated or corrupt", path.display());
        }
        let mut indices = vec![0; count * 4];
        file.read_exact(&mut indices)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let pages: Vec<u32> = indices
            .chunks(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let ascending = pages.windows(2).all(|pair| pair[0] < pair[1]);
        let past_end = pages
            .last()
            .is_some_and(|&page| (page as u64 + 1) * PAGE as u64 > memory_bytes);
        if !ascending || past_end {
            anyhow::bail!(
                "{} names pages out of order or past its memory's size",
                path.display()
            );
        }
        Ok(Some(Self {
            memory_bytes,
            pages,
            contents: Contents::File {
                file,
                offset: data_offset(count) as u64,
            },
            loads_rest: false,
        }))
    }
}

/// `variables` as a JSON object of strings, which [`Preinit::set_environment`]
/// code embeds (it is a Python dict and a JavaScript object literal too).
pub fn variables_object(variables: &[(String, String)]) -> serde_json::Value {
    variables
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Where the pages start in a snapshot file of `count` pages: after the
/// header and the indices, at the next `PAGE` boundary.
fn data_offset(count: usize) -> usize {
    (HEADER + count * 4).next_multiple_of(PAGE)
}

/// Consecutive stored pages, restored with one mapping (or copy) each.
struct Run {
    /// The first one's position among the stored pages.
    position: usize,
    /// Its index in memory.
    first_page: usize,
    /// How many pages.
    pages: usize,
}

/// `pages` (ascending indices) as runs of consecutive ones.
fn runs(pages: &[u32]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (position, &page) in pages.iter().enumerate() {
        let page = page as usize;
        match runs.last_mut() {
            Some(run) if run.first_page + run.pages == page => run.pages += 1,
            _ => runs.push(Run {
                position,
                first_page: page,
                pages: 1,
            }),
        }
    }
    runs
}

/// Maps `target.len()` bytes of `file` from `offset` over `target`,
/// private and copy-on-write: reads see the file, writes stay in this
/// process.
///
/// # Safety
/// `target` must be page-aligned memory of a mapping the caller owns and may
/// replace, which nothing else references while this runs.
unsafe fn map_private(file: &std::fs::File, offset: u64, target: &mut [u8]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let offset = libc::off_t::try_from(offset).map_err(std::io::Error::other)?;
    // SAFETY: the caller's promise; MAP_FIXED replaces exactly `target`.
    let mapped = unsafe {
        libc::mmap(
            target.as_mut_ptr().cast(),
            target.len(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            file.as_raw_fd(),
            offset,
        )
    };
    if mapped == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The key a snapshot is filed under: SHA-256 of its parts, each
/// length-prefixed so that no two lists of parts collide.
pub fn key(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The instance's exported memory.
fn memory_of(mut store: impl AsContextMut, instance: &Instance) -> wasmtime::Result<Memory> {
    match instance.get_export(&mut store, "memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the interpreter exports no memory"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_and_new_nonzero_pages_are_stored() {
        let fresh = vec![0u8; 3 * PAGE];
        let mut memory = fresh.clone();
        memory[PAGE + 5] = 1;
        memory.resize(5 * PAGE, 0);
        memory[4 * PAGE] = 7;
        let snapshot = Snapshot::capture(&fresh, &memory);
        assert_eq!(snapshot.pages, vec![1, 4]);
        assert_eq!(snapshot.stored_bytes(), 2 * PAGE);
        assert_eq!(snapshot.memory_bytes, 5 * PAGE as u64);
    }

    #[test]
    fn consecutive_pages_restore_as_one_run() {
        let runs = runs(&[1, 2, 3, 7, 9, 10]);
        let shape: Vec<_> = runs
            .iter()
            .map(|run| (run.position, run.first_page, run.pages))
            .collect();
        assert_eq!(shape, vec![(0, 1, 3), (3, 7, 1), (4, 9, 2)]);
    }

    #[test]
    fn a_saved_snapshot_loads_only_under_its_key_with_aligned_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snapshot");
        let mut memory = vec![0u8; 3 * PAGE];
        memory[3] = 9;
        memory[2 * PAGE + 1] = 8;
        let snapshot = Snapshot::capture(&[0; 3 * PAGE], &memory);
        let key_a = key(&[b"interpreter", b"glue a"]);
        snapshot.save(&path, &key_a).unwrap();
        let loaded = Snapshot::load(&path, &key_a).unwrap().unwrap();
        assert_eq!(
            (loaded.memory_bytes, &loaded.pages),
            (snapshot.memory_bytes, &snapshot.pages)
        );
        let Contents::File { offset, .. } = loaded.contents else {
            panic!("a loaded snapshot maps its file");
        };
        assert_eq!(offset % PAGE as u64, 0);
        let file = std::fs::read(&path).unwrap();
        let at = offset as usize;
        assert_eq!((file[at + 3], file[at + PAGE + 1]), (9, 8));
        assert!(loaded.save(&path, &key_a).is_err(), "nothing to save");
        assert!(
            Snapshot::load(&path, &key(&[b"interpreter", b"glue b"]))
                .unwrap()
                .is_none()
        );
        assert!(
            Snapshot::load(&dir.path().join("none"), &key_a)
                .unwrap()
                .is_none()
        );
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        let truncated = Snapshot::load(&path, &key_a).unwrap_err();
        assert!(format!("{truncated}").contains("truncated"), "{truncated}");
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Snapshot::load(&path, &key_a).is_err());
    }

    #[test]
    fn a_loaded_snapshot_is_mapped_into_a_fresh_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snapshot");
        let mut memory = vec![0u8; 4 * PAGE];
        memory[5] = 1;
        memory[2 * PAGE + 6] = 2;
        memory[3 * PAGE + 7] = 3;
        let key = key(&[b"m"]);
        Snapshot::capture(&[0; PAGE], &memory)
            .save(&path, &key)
            .unwrap();
        let snapshot = Snapshot::load(&path, &key).unwrap().unwrap();

        let engine = crate::engine::new_engine().unwrap();
        let module =
            wasmtime::Module::new(&engine, r#"(module (memory (export "memory") 1))"#).unwrap();
        for _ in 0..2 {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let memory = memory_of(&mut store, &instance).unwrap();
            snapshot.restore(&mut store, memory).unwrap();
            let bytes = memory.data_mut(&mut store);
            assert_eq!(bytes.len(), 4 * PAGE);
            assert_eq!(
                (bytes[5], bytes[2 * PAGE + 6], bytes[3 * PAGE + 7]),
                (1, 2, 3)
            );
            bytes[5] = 42; // a private copy: the next restore sees the file's byte
        }
        assert_eq!(std::fs::read(&path).unwrap()[PAGE + 5], 1);
    }
}
