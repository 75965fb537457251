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
//! anything else is stale and never restored.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::io::Read as _;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use wasmtime::{AsContextMut, Extern, Instance, Memory, Store};

use super::RunFuture;
use super::bridge::InterpreterState;
use crate::engine::source;
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
    /// What `turn` runs next to import the handler and stop; its status is
    /// 0 when the import succeeded.
    pub import_handler: &'static str,
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

/// A snapshot's key and where it is kept.
struct Filed {
    key: [u8; 32],
    path: PathBuf,
}

impl Preinit {
    /// The key of the runtime's snapshot for this function: its interpreter
    /// (the `.wasm` its `.cwasm` was compiled from), the glue, and where the
    /// guest sees the task root (the C library keeps the preopened folders'
    /// names it found before the snapshot). `None` when the interpreter's
    /// `.cwasm` has no source record.
    fn runtime_key(&self, settings: &FunctionSettings) -> Option<[u8; 32]> {
        let cwasm = (self.home)(settings).join(self.interpreter_cwasm);
        let interpreter = source::recorded_sha256(&cwasm)?;
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
        let snapshot = self.take(template, None).await?;
        let path = home.join(self.snapshot_file);
        snapshot.save(&path, &key)?;
        Ok(path)
    }

    /// How a new environment of this function starts from a snapshot. In
    /// test mode (which has a module cache) first the handler's: taken
    /// after its import, with the function's variables, keyed by them and
    /// by every file of the task root, and made now with `template()` when
    /// missing. Else the runtime's: the home's, or for another task root the
    /// cache's. `None` (start from scratch) when snapshots are off or none
    /// can be had. `env` is what the sandbox adds to the function's variables.
    pub async fn resume_for(
        &self,
        settings: &FunctionSettings,
        env: &[(String, String)],
        template: impl Fn() -> Result<InstanceTemplate<InterpreterState>, LambdaError>,
    ) -> Option<Arc<Resume>> {
        if settings.preinit == PreinitLevel::Off {
            return None;
        }
        let runtime_key = self.runtime_key(settings)?;
        let variables: Vec<_> = settings.guest_env.iter().chain(env).cloned().collect();
        let set_environment = (self.set_environment)(&variables);
        let cache = settings
            .module_cache_dir
            .as_ref()
            .map(|dir| dir.join("snapshots"));
        let mut snapshot = None;
        if let (Some(cache), PreinitLevel::Handler) = (&cache, settings.preinit) {
            let filed = handler_filed(cache, &runtime_key, &set_environment, &settings.task_root);
            if let Some(filed) = filed {
                snapshot = self
                    .cached(&filed, self.take_with(&template, Some(&set_environment)))
                    .await;
            }
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
        self.cached(&Filed { key, path }, self.take_with(&template, None))
            .await
    }

    /// The snapshot filed in the cache, else the one `take` makes (a future
    /// not polled on a hit), stored
    /// there; `None` when `take` fails (the function then starts from
    /// scratch, where the same failure is reported as its init error).
    async fn cached<F: Future<Output = anyhow::Result<Snapshot>>>(
        &self,
        filed: &Filed,
        take: F,
    ) -> Option<Snapshot> {
        match Snapshot::load(&filed.path, &filed.key) {
            Ok(Some(snapshot)) => return Some(snapshot),
            Ok(None) => {}
            Err(error) => tracing::warn!("replacing the cached snapshot: {error:#}"),
        }
        let snapshot = take
            .await
            .inspect_err(|error| tracing::info!("no snapshot: {error:#}; starting from scratch"))
            .ok()?;
        let saved = filed
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(anyhow::Error::from)
            .and_then(|()| snapshot.save(&filed.path, &filed.key));
        if let Err(error) = saved {
            tracing::warn!("cannot cache the interpreter's snapshot: {error:#}");
        }
        Some(snapshot)
    }

    /// [`Self::take`] with a template made by `template()`.
    async fn take_with(
        &self,
        template: impl Fn() -> Result<InstanceTemplate<InterpreterState>, LambdaError>,
        set_environment: Option<&str>,
    ) -> anyhow::Result<Snapshot> {
        let template = template().map_err(|error| anyhow::anyhow!("{}", error.error_message))?;
        self.take(&template, set_environment).await
    }

    /// Instantiates the interpreter in a store of `template`, loads the glue
    /// with `turn`, with `set_environment` also imports the handler, and
    /// takes the snapshot.
    async fn take(
        &self,
        template: &InstanceTemplate<InterpreterState>,
        set_environment: Option<&str>,
    ) -> anyhow::Result<Snapshot> {
        let mut store = template.new_store(Stdio::Reactor, &[])?;
        store::begin_init(&mut store);
        let instance = template.pre().instantiate_async(&mut store).await?;
        let memory = memory_of(&mut store, &instance)?;
        let fresh = memory.data(&store).to_vec();
        let status = (self.turn)(&mut store, &instance, &(self.load_runtime)(), true).await?;
        if status != 0 {
            anyhow::bail!(
                "the interpreter could not load its runtime glue (status {status}); see its output above"
            );
        }
        if let Some(set_environment) = set_environment {
            let code = format!("{set_environment}{}", self.import_handler);
            if (self.turn)(&mut store, &instance, &code, false).await? != 0 {
                anyhow::bail!(
                    "the handler's module did not import; the function imports it at init"
                );
            }
        }
        Ok(Snapshot::capture(&fresh, memory.data(&store)))
    }
}

/// Where the handler's snapshot is kept in `cache`: keyed by the runtime's
/// key, the environment and every file of the task root (`None`, no
/// snapshot, when the task root cannot be read).
fn handler_filed(
    cache: &Path,
    runtime_key: &[u8; 32],
    set_environment: &str,
    task_root: &Path,
) -> Option<Filed> {
    let sources = sources_digest(task_root)
        .inspect_err(|error| {
            tracing::info!("no handler snapshot: cannot read the task root: {error}")
        })
        .ok()?;
    let key = key(&[runtime_key, set_environment.as_bytes(), &sources]);
    let path = cache.join(format!("{}.snapshot", source::hex(&key)));
    Some(Filed { key, path })
}

/// SHA-256 over every file under `root`: its relative path and contents,
/// in a fixed order, so any change to the code (or data) an import may read
/// makes a new key.
fn sources_digest(root: &Path) -> std::io::Result<[u8; 32]> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        let contents = std::fs::read(&file)?;
        hasher.update(relative.as_os_str().as_encoded_bytes());
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    Ok(hasher.finalize().into())
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

/// A Wasm page, the unit a snapshot stores.
const PAGE: usize = 64 * 1024;
/// The first bytes of a snapshot file; bumped when its layout changes.
const MAGIC: &[u8; 24] = b"lambda-wasm snapshot v1\n";

/// The pages of an interpreter's memory that differ from a fresh instance's.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The memory's size in bytes when it was taken.
    memory_bytes: u64,
    /// The indices of the stored pages, ascending.
    pages: Vec<u32>,
    /// Their contents, `PAGE` bytes each, in the same order.
    data: Vec<u8>,
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
            data,
        }
    }

    /// How many bytes of memory the snapshot writes at restore.
    pub fn stored_bytes(&self) -> usize {
        self.data.len()
    }

    /// Writes the snapshot into `memory` of a fresh instance of the same
    /// module, growing it to the snapshot's size first.
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
        for (index, page) in self.pages.iter().zip(self.data.chunks(PAGE)) {
            let start = *index as usize * PAGE;
            bytes[start..start + PAGE].copy_from_slice(page);
        }
        Ok(())
    }

    /// Writes the snapshot to `path`, beside and renamed into place, marked
    /// with `key` (what it was taken from).
    pub fn save(&self, path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
        let mut out = Vec::with_capacity(self.data.len() + self.pages.len() * 4 + 80);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(key);
        out.extend_from_slice(&self.memory_bytes.to_le_bytes());
        out.extend_from_slice(&(self.pages.len() as u32).to_le_bytes());
        for index in &self.pages {
            out.extend_from_slice(&index.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
        let partial = path.with_extension("partial");
        std::fs::write(&partial, &out)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, path)
            .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))
    }

    /// The snapshot in `path` if it was taken from what `key` names; `None`
    /// when there is none or it is stale.
    pub fn load(path: &Path, key: &[u8; 32]) -> anyhow::Result<Option<Self>> {
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let header = MAGIC.len() + 32 + 8 + 4;
        let mut bytes = vec![0; header];
        if file.read_exact(&mut bytes).is_err() || &bytes[..MAGIC.len()] != MAGIC {
            anyhow::bail!(
                "{} is not a lambda-wasm snapshot (or one of another version)",
                path.display()
            );
        }
        if &bytes[MAGIC.len()..MAGIC.len() + 32] != key {
            return Ok(None);
        }
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let number = |at: usize, len: usize| {
            let mut buf = [0; 8];
            buf[..len].copy_from_slice(&bytes[at..at + len]);
            u64::from_le_bytes(buf)
        };
        let memory_bytes = number(MAGIC.len() + 32, 8);
        let count = number(MAGIC.len() + 40, 4) as usize;
        let data_start = header + count * 4;
        if bytes.len() != data_start + count * PAGE {
            anyhow::bail!("{} is truncated or corrupt", path.display());
        }
        let pages: Vec<u32> = bytes[header..data_start]
            .chunks(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if pages
            .iter()
            .any(|&page| (page as u64 + 1) * PAGE as u64 > memory_bytes)
        {
            anyhow::bail!("{} names a page past its memory's size", path.display());
        }
        bytes.drain(..data_start);
        Ok(Some(Self {
            memory_bytes,
            pages,
            data: bytes,
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
    fn a_saved_snapshot_loads_only_under_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snapshot");
        let mut memory = vec![0u8; 2 * PAGE];
        memory[3] = 9;
        let snapshot = Snapshot::capture(&[0; 2 * PAGE], &memory);
        let key_a = key(&[b"interpreter", b"glue a"]);
        snapshot.save(&path, &key_a).unwrap();
        assert_eq!(Snapshot::load(&path, &key_a).unwrap(), Some(snapshot));
        assert_eq!(
            Snapshot::load(&path, &key(&[b"interpreter", b"glue b"])).unwrap(),
            None
        );
        assert_eq!(
            Snapshot::load(&dir.path().join("none"), &key_a).unwrap(),
            None
        );
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Snapshot::load(&path, &key_a).is_err());
    }
}
