//! The host's half of a split module: finding its rest beside the core,
//! loading it once per process, and instantiating it into a store the
//! first time that store's core calls [`LOAD_REST`] (or ahead of that, when
//! a snapshot says the rest was in use, [`load_rest`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use wasmtime::{AsContextMut, Caller, Engine, Extern, Instance, Linker, Store};

use super::{CORE, LOAD_REST};
use crate::handler_name::HandlerName;

/// A split module's rest, found beside its core and loaded the first time
/// a core instance calls [`LOAD_REST`]; shared by every instance of the core.
#[derive(Debug)]
pub struct LateRest {
    folder: PathBuf,
    name: HandlerName,
    cache_dir: Option<PathBuf>,
    module: OnceLock<wasmtime::Module>,
}

impl LateRest {
    /// The rest of the core `stem.cwasm` (or `.wasm`) in `folder`:
    /// `stem-rest.cwasm` or `stem-rest.wasm` there (test mode compiles and
    /// caches a `.wasm` in `cache_dir`, as any module). `None` when neither exists.
    pub fn beside(folder: &Path, stem: &str, cache_dir: Option<&Path>) -> Option<Arc<Self>> {
        let name = HandlerName::parse(&format!("{stem}-rest.run")).ok()?;
        super::super::ModuleFiles::find(folder, &name)
            .any()
            .then(|| {
                Arc::new(Self {
                    folder: folder.to_path_buf(),
                    name,
                    cache_dir: cache_dir.map(Path::to_path_buf),
                    module: OnceLock::new(),
                })
            })
    }

    /// Whether `module` is a split module's core (it imports [`LOAD_REST`]).
    pub fn needed_by(module: &wasmtime::Module) -> bool {
        module
            .imports()
            .any(|import| (import.module(), import.name()) == LOAD_REST)
    }

    fn module(&self, engine: &Engine) -> wasmtime::Result<&wasmtime::Module> {
        if let Some(module) = self.module.get() {
            return Ok(module);
        }
        let started = std::time::Instant::now();
        let module =
            super::super::load_module(engine, &self.folder, &self.name, self.cache_dir.as_deref())
                .map_err(|error| wasmtime::Error::msg(error.error_message))?;
        tracing::debug!(
            "loaded {} in {:.1} ms",
            self.name.module,
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(self.module.get_or_init(|| module))
    }

    /// Instantiates the rest into `store`, with the core's exports (`export`
    /// finds them by name) as its imports.
    async fn instantiate<S: AsContextMut<Data: Send>>(
        &self,
        mut store: S,
        mut export: impl FnMut(&mut S, &str) -> Option<Extern>,
    ) -> wasmtime::Result<()> {
        let module = self.module(store.as_context().engine())?;
        let mut imports = Vec::new();
        for import in module.imports() {
            if import.module() != CORE {
                wasmtime::bail!("the rest imports from `{}`, not its core", import.module());
            }
            let found = export(&mut store, import.name()).ok_or_else(|| {
                wasmtime::format_err!(
                    "the core exports no `{}` that its rest imports",
                    import.name()
                )
            })?;
            imports.push(found);
        }
        let started = std::time::Instant::now();
        Instance::new_async(&mut store, module, &imports).await?;
        tracing::debug!(
            "instantiated {} in {:.1} ms ({} imports)",
            self.name.module,
            started.elapsed().as_secs_f64() * 1e3,
            imports.len()
        );
        Ok(())
    }
}

/// One store's link to its core's rest: the rest, and whether it is
/// instantiated in this store yet.
#[derive(Debug)]
pub struct RestLink {
    rest: Arc<LateRest>,
    loaded: bool,
}

impl RestLink {
    /// A link for a new store, the rest not yet loaded.
    pub fn new(rest: Arc<LateRest>) -> Self {
        Self {
            rest,
            loaded: false,
        }
    }

    /// Whether the rest is instantiated in this store.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// The rest, marked loaded; an error if it already was (then a stub
    /// outlived the rest's instantiation, which a split never makes).
    fn take_turn(&mut self) -> wasmtime::Result<Arc<LateRest>> {
        if std::mem::replace(&mut self.loaded, true) {
            wasmtime::bail!(
                "a table entry of the split module has no function (its rest is already loaded)"
            );
        }
        Ok(self.rest.clone())
    }
}

/// Instantiates the rest of `core`'s split module in `store` now (`get`
/// finds the store's [`RestLink`]), as its first stub call would; does
/// nothing for a module without a rest.
pub async fn load_rest<T: Send>(
    store: &mut Store<T>,
    core: &Instance,
    get: fn(&mut T) -> Option<&mut RestLink>,
) -> wasmtime::Result<()> {
    let Some(link) = get(store.data_mut()) else {
        return Ok(());
    };
    let rest = link.take_turn()?;
    rest.instantiate(store, |store, name| core.get_export(&mut **store, name))
        .await
}

/// Adds [`LOAD_REST`]: instantiates the store's rest (`get` finds its
/// [`RestLink`]) the first time a stub calls it. A second call means a stub
/// outlived the rest's instantiation, which a split never makes: a trap.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> Option<&mut RestLink>,
) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        LOAD_REST.0,
        LOAD_REST.1,
        move |mut caller: Caller<'_, T>, (): ()| {
            Box::new(async move {
                let Some(link) = get(caller.data_mut()) else {
                    wasmtime::bail!("this split module's rest was not found");
                };
                let rest = link.take_turn()?;
                rest.instantiate(&mut caller, |caller, name| caller.get_export(name))
                    .await
            })
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::split::tests::split_module;

    struct State {
        rest: Option<RestLink>,
    }

    fn engine() -> Engine {
        crate::engine::new_engine().unwrap()
    }

    #[tokio::test]
    async fn the_rest_loads_at_the_first_call_into_it_and_runs_as_the_original() {
        let split = split_module();
        assert_eq!(split.functions, (3, 2));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m-rest.wasm"), &split.rest).unwrap();
        let engine = engine();
        let core = wasmtime::Module::new(&engine, &split.core).unwrap();
        assert!(LateRest::needed_by(&core));
        let rest = LateRest::beside(dir.path(), "m", None).expect("found beside");
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker, |state: &mut State| state.rest.as_mut()).unwrap();
        let state = State {
            rest: Some(RestLink::new(rest)),
        };
        let mut store = Store::new(&engine, state);
        store.set_epoch_deadline(1);
        let instance = linker.instantiate_async(&mut store, &core).await.unwrap();
        let call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "call")
            .unwrap();
        let store_word = instance
            .get_typed_func::<i32, ()>(&mut store, "store")
            .unwrap();
        let loaded = |store: &Store<State>| store.data().rest.as_ref().unwrap().is_loaded();

        assert_eq!(call.call_async(&mut store, (1, 5)).await.unwrap(), 10);
        assert!(!loaded(&store), "a core function needs no rest");
        store_word.call_async(&mut store, 100).await.unwrap();
        assert_eq!(
            call.call_async(&mut store, (2, 5)).await.unwrap(),
            15 + 100 + 7
        );
        assert!(loaded(&store));
        assert_eq!(call.call_async(&mut store, (3, 6)).await.unwrap(), 12);
        assert_eq!(
            call.call_async(&mut store, (2, 1)).await.unwrap(),
            3 + 100 + 7
        );
        // A null entry traps as in the original.
        assert!(call.call_async(&mut store, (0, 1)).await.is_err());
    }

    #[tokio::test]
    async fn load_rest_instantiates_it_ahead_of_the_first_call() {
        let split = split_module();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m-rest.wasm"), &split.rest).unwrap();
        let engine = engine();
        let core = wasmtime::Module::new(&engine, &split.core).unwrap();
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker, |state: &mut State| state.rest.as_mut()).unwrap();
        let rest = LateRest::beside(dir.path(), "m", None).unwrap();
        let mut store = Store::new(
            &engine,
            State {
                rest: Some(RestLink::new(rest)),
            },
        );
        store.set_epoch_deadline(1);
        let instance = linker.instantiate_async(&mut store, &core).await.unwrap();
        load_rest(&mut store, &instance, |state| state.rest.as_mut())
            .await
            .unwrap();
        assert!(store.data().rest.as_ref().unwrap().is_loaded());
        let call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "call")
            .unwrap();
        assert_eq!(call.call_async(&mut store, (3, 4)).await.unwrap(), 8);
        // Loading it twice would leave a stub behind: refused.
        let error = load_rest(&mut store, &instance, |state| state.rest.as_mut())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("already loaded"), "{error}");
    }

    #[test]
    fn a_core_without_a_rest_beside_it_has_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.wasm"), b"\0asm").unwrap();
        assert!(LateRest::beside(dir.path(), "m", None).is_none());
        std::fs::write(dir.path().join("m-rest.cwasm"), b"").unwrap();
        assert!(LateRest::beside(dir.path(), "m", None).is_some());
    }
}
