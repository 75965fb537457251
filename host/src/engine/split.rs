//! `lambda-wasm split`: one big module as two, a *core* that starts
//! without the rest and the *rest*, instantiated into the same store the
//! first time the core needs it.
//!
//! Why: wasmtime reads a module's per-function metadata when it loads it,
//! all of it, ~500 instructions per function. The Python interpreter bundles
//! numpy, pandas, scipy and 60 other packages: 89,000 functions, of which a
//! handler that imports none of them runs ~13,000. Loading only those is
//! most of the Python cold start (BENCHMARKS.md, "Python cold start: the
//! interpreter split").
//!
//! How, and why it is always correct whatever the split: the core keeps
//! the original module's memory, table, globals, tags, data and exports,
//! every function its exports and the core's table entries reach by
//! direct calls, and only the types those use (wasmtime registers each of
//! a module's types at every load, ~10,000 instructions apiece for
//! CPython's: 374 of its 859 are the core's); the rest holds the other
//! functions and imports all of that from the core (as `lambda-wasm:core`
//! exports). In the core's table each rest function's entry holds a stub of
//! the same type; every `call_indirect` in the core first stores the
//! entry's index in a global, so a stub can call [`LOAD_REST`] (the host
//! instantiates the rest, [`rest`], whose element segments put the real
//! functions into those entries) and then call the entry again. So a split
//! module behaves exactly as the original; the split only decides what
//! loads late. The rest has no data, no start function and no exports:
//! instantiating it changes nothing but the table.
//!
//! The core's code can start with the functions a cold start runs
//! ([`HotFunctions`]): the kernel maps a file's pages 64 KB at a time
//! around each one touched, and CPython's cold start runs ~1,150 of the
//! core's 12,800 functions, spread over all of its 16 MB of code.

pub mod rest;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    CodeSection, ElementSection, Elements, EntityType, ExportKind, ExportSection, Function,
    FunctionSection, GlobalSection, GlobalType, ImportSection, Instruction, Module, RawSection,
    SectionId, TypeSection, ValType,
};
use wasmparser::{
    ElementItems, ElementKind, ExternalKind, FunctionBody, Operator, Parser, Payload, TypeRef,
};

/// The import a split module's core calls to have the host instantiate its
/// rest: `(module, name)`, of type `[] -> []`.
pub const LOAD_REST: (&str, &str) = ("lambda-wasm:split", "load_rest");
/// The module name the rest imports the core's exports from; each is named
/// after its kind and its index in the original module (`func12`,
/// `memory0`, `table0`, `global0`, `tag1`).
pub const CORE: &str = "lambda-wasm:core";

/// Which table entries' functions stay out of the core: a range of the
/// original module's table, by the names (from its `name` section) of the
/// functions in its first and last entries.
pub struct RestEntries<'a> {
    /// The function in the first entry of the range.
    pub first: &'a str,
    /// The function in the last entry of the range.
    pub last: &'a str,
}

/// The functions the core's code starts with, in this order: the ones a
/// cold start runs, so that their machine code shares the fewest pages (the
/// others follow in the original's order). Each is named by its index in
/// the original module and its name in that module's `name` section, which
/// must match: a list made for another build of the module is an error
/// rather than a layout that quietly stops helping. Functions the rest
/// holds are left where the rest puts them.
#[derive(Default)]
pub struct HotFunctions<'a>(Vec<(u32, &'a str)>);

impl<'a> HotFunctions<'a> {
    /// Reads a list as bench/python-core-order.py writes it: one function
    /// per line, `INDEX NAME`; lines starting with `#` are comments.
    pub fn parse(text: &'a str) -> anyhow::Result<Self> {
        let mut functions = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let function = line
                .split_once(' ')
                .and_then(|(index, name)| Some((index.parse().ok()?, name)));
            functions.push(
                function.with_context(|| {
                    format!("line {}: `{line}` is not `INDEX NAME`", number + 1)
                })?,
            );
        }
        Ok(HotFunctions(functions))
    }
}

/// The two modules of a split.
pub struct Split {
    /// The module to instantiate: the original's exports, memory and data.
    pub core: Vec<u8>,
    /// The module the core's stubs have the host instantiate.
    pub rest: Vec<u8>,
    /// How many of the original's defined functions each holds.
    pub functions: (usize, usize),
    /// How many of the core's functions its code starts with.
    pub hot_first: usize,
}

/// Reads `wasm` (and the [`HotFunctions`] list `hot`, if any) and writes
/// its [`split`] to `core` and `rest` (each replaced, never half written).
pub fn split_file(
    wasm: &Path,
    entries: &RestEntries<'_>,
    hot: Option<&Path>,
    core: &Path,
    rest: &Path,
) -> anyhow::Result<Split> {
    super::require_binary(wasm)?;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let hot_text = match hot {
        Some(hot) => std::fs::read_to_string(hot)
            .with_context(|| format!("cannot read {}", hot.display()))?,
        None => String::new(),
    };
    let hot_functions = match hot {
        Some(hot) => HotFunctions::parse(&hot_text)
            .with_context(|| format!("cannot read {}", hot.display()))?,
        None => HotFunctions::default(),
    };
    let split = split(&bytes, entries, &hot_functions)
        .with_context(|| format!("cannot split {}", wasm.display()))?;
    super::write_replacing(core, &split.core)?;
    super::write_replacing(rest, &split.rest)?;
    Ok(split)
}

/// Splits `wasm` so that the table entries named by `entries` (and what only
/// they reach) load late. Custom sections are not carried over (function
/// names would no longer match their indices). The core's code starts with
/// the functions of `hot` it holds.
pub fn split(
    wasm: &[u8],
    entries: &RestEntries<'_>,
    hot: &HotFunctions<'_>,
) -> anyhow::Result<Split> {
    let original = Original::parse(wasm)?;
    let roots = original.core_roots(entries)?;
    let in_core = original.reachable(roots);
    let hot = original.hot_functions(hot)?;
    let plan = Plan::new(&original, in_core, &hot);
    Ok(Split {
        core: plan.core(&original)?,
        rest: plan.rest(&original)?,
        functions: (
            plan.core_defined.len(),
            original.defined_types.len() - plan.core_defined.len(),
        ),
        hot_first: plan.hot_first,
    })
}

/// What the split needs to know of the original module.
struct Original<'a> {
    wasm: &'a [u8],
    /// Every type, as written (the core appends [`LOAD_REST`]'s).
    types: Vec<wasmparser::SubType>,
    /// Whether every type is a function type of its own that names no
    /// other type: then the core can leave out the ones it does not use.
    plain_types: bool,
    imports: Vec<wasmparser::Import<'a>>,
    imported_functions: u32,
    /// The type of each defined function.
    defined_types: Vec<u32>,
    bodies: Vec<FunctionBody<'a>>,
    tables: Vec<wasmparser::TableType>,
    memories: Vec<wasmparser::MemoryType>,
    globals: Vec<wasmparser::Global<'a>>,
    tags: Vec<wasmparser::TagType>,
    exports: Vec<wasmparser::Export<'a>>,
    start: Option<u32>,
    /// The table's active element segment: its offset and functions.
    table_offset: u32,
    table_functions: Vec<u32>,
    /// Where the data count and data sections are in `wasm`: the core
    /// keeps them as written.
    copied_sections: Vec<(SectionId, std::ops::Range<usize>)>,
    names: BTreeMap<u32, &'a str>,
}

impl<'a> Original<'a> {
    fn parse(wasm: &'a [u8]) -> anyhow::Result<Self> {
        let mut original = Original {
            wasm,
            types: Vec::new(),
            plain_types: true,
            imports: Vec::new(),
            imported_functions: 0,
            defined_types: Vec::new(),
            bodies: Vec::new(),
            tables: Vec::new(),
            memories: Vec::new(),
            globals: Vec::new(),
            tags: Vec::new(),
            exports: Vec::new(),
            start: None,
            table_offset: 0,
            table_functions: Vec::new(),
            copied_sections: Vec::new(),
            names: BTreeMap::new(),
        };
        let mut elements = 0;
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        let group: Vec<_> = group?.into_types().collect();
                        original.plain_types &= group.len() == 1 && group.iter().all(is_plain);
                        original.types.extend(group);
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import?;
                        match import.ty {
                            TypeRef::Func(_) => original.imported_functions += 1,
                            TypeRef::Global(_)
                            | TypeRef::Memory(_)
                            | TypeRef::Table(_)
                            | TypeRef::Tag(_) => {
                                bail!(
                                    "the module imports a {:?}; only imported functions can be split",
                                    import.ty
                                )
                            }
                            _ => bail!(
                                "the module imports {}.{} of an unsupported kind",
                                import.module,
                                import.name
                            ),
                        }
                        original.imports.push(import);
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        original.defined_types.push(ty?);
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        original.tables.push(table?.ty);
                    }
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        original.memories.push(memory?);
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader {
                        original.globals.push(global?);
                    }
                }
                Payload::TagSection(reader) => {
                    for tag in reader {
                        original.tags.push(tag?);
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        original.exports.push(export?);
                    }
                }
                Payload::StartSection { func, .. } => original.start = Some(func),
                Payload::ElementSection(reader) => {
                    for element in reader {
                        let element = element?;
                        elements += 1;
                        let ElementKind::Active {
                            table_index: None | Some(0),
                            offset_expr,
                        } = element.kind
                        else {
                            bail!("only one active element segment into table 0 is supported");
                        };
                        let Operator::I32Const { value } =
                            offset_expr.get_operators_reader().read()?
                        else {
                            bail!("the element segment's offset is not a constant");
                        };
                        let ElementItems::Functions(functions) = element.items else {
                            bail!("the element segment is not a list of functions");
                        };
                        original.table_offset = value as u32;
                        for function in functions {
                            original.table_functions.push(function?);
                        }
                    }
                }
                Payload::DataCountSection { range, .. } => {
                    original.copied_sections.push((SectionId::DataCount, range))
                }
                Payload::DataSection(reader) => original
                    .copied_sections
                    .push((SectionId::Data, reader.range())),
                Payload::CodeSectionEntry(body) => original.bodies.push(body),
                Payload::CustomSection(section) => {
                    if let wasmparser::KnownCustom::Name(reader) = section.as_known() {
                        original.read_names(reader);
                    }
                }
                _ => {}
            }
        }
        if original.tables.len() != 1 || elements != 1 {
            bail!(
                "a module with {} tables and {elements} element segments; one of each is supported",
                original.tables.len()
            );
        }
        Ok(original)
    }

    /// Keeps the function names of a `name` section (a malformed one is
    /// as good as none: the entries are then not found by name).
    fn read_names(&mut self, reader: wasmparser::NameSectionReader<'a>) {
        for subsection in reader.into_iter().flatten() {
            if let wasmparser::Name::Function(map) = subsection {
                for naming in map.into_iter().flatten() {
                    self.names.insert(naming.index, naming.name);
                }
            }
        }
    }

    fn function_count(&self) -> u32 {
        self.imported_functions + self.defined_types.len() as u32
    }

    fn body_of(&self, function: u32) -> FunctionBody<'a> {
        self.bodies[(function - self.imported_functions) as usize].clone()
    }

    fn type_of(&self, function: u32) -> u32 {
        match function.checked_sub(self.imported_functions) {
            Some(defined) => self.defined_types[defined as usize],
            None => match self.imports[function as usize].ty {
                TypeRef::Func(ty) => ty,
                _ => unreachable!("only functions are imported"),
            },
        }
    }

    /// The table position (within the element segment) of the function named `name`.
    fn position_of(&self, name: &str) -> anyhow::Result<usize> {
        let function = self
            .names
            .iter()
            .find_map(|(index, found)| (*found == name).then_some(*index))
            .with_context(|| {
                format!("no function named `{name}` in the module's name section (split before stripping)")
            })?;
        self.table_functions
            .iter()
            .position(|f| *f == function)
            .with_context(|| format!("`{name}` is not in the module's table"))
    }

    /// The functions of `hot`, checked against this module's names, each
    /// once.
    fn hot_functions(&self, hot: &HotFunctions<'_>) -> anyhow::Result<Vec<u32>> {
        let mut listed = vec![false; self.function_count() as usize];
        let mut functions = Vec::new();
        for (index, name) in &hot.0 {
            let found = self.names.get(index);
            let defined = (self.imported_functions..self.function_count()).contains(index);
            if found != Some(name) || !defined {
                let found = match found {
                    Some(found) => format!("`{found}`"),
                    None => "no defined function of that name".to_string(),
                };
                bail!(
                    "the hot functions list names function {index} `{name}`, but the module's is {found}: \
                     the list was made for another build of the module; make it again for this one \
                     (the interpreter's: make python-core-order)"
                );
            }
            if !std::mem::replace(&mut listed[*index as usize], true) {
                functions.push(*index);
            }
        }
        Ok(functions)
    }

    /// The functions the core starts from: the exports, the start function
    /// and every table entry outside `entries`.
    fn core_roots(&self, entries: &RestEntries<'_>) -> anyhow::Result<Vec<u32>> {
        let (first, last) = (
            self.position_of(entries.first)?,
            self.position_of(entries.last)?,
        );
        if first > last {
            bail!(
                "`{}` comes after `{}` in the table",
                entries.first,
                entries.last
            );
        }
        let exported = self
            .exports
            .iter()
            .filter(|export| export.kind == ExternalKind::Func)
            .map(|export| export.index);
        let in_table = self
            .table_functions
            .iter()
            .enumerate()
            .filter(|(position, _)| !(first..=last).contains(position))
            .map(|(_, function)| *function);
        Ok(exported.chain(self.start).chain(in_table).collect())
    }

    /// Which functions `roots` reach through direct calls (and `ref.func`).
    fn reachable(&self, roots: Vec<u32>) -> Vec<bool> {
        let mut reached = vec![false; self.function_count() as usize];
        let mut pending = roots;
        while let Some(function) = pending.pop() {
            if std::mem::replace(&mut reached[function as usize], true) {
                continue;
            }
            if let Some(defined) = function.checked_sub(self.imported_functions) {
                pending.extend(callees(&self.bodies[defined as usize]));
            }
        }
        reached
    }
}

/// The functions a body names: its direct calls and `ref.func`s.
fn callees(body: &FunctionBody<'_>) -> Vec<u32> {
    let mut callees = Vec::new();
    let Ok(mut reader) = body.get_operators_reader() else {
        return callees;
    };
    while let Ok(operator) = reader.read() {
        match operator {
            Operator::Call { function_index }
            | Operator::ReturnCall { function_index }
            | Operator::RefFunc { function_index } => callees.push(function_index),
            _ => {}
        }
    }
    callees
}

/// Whether `ty` is a function type that names no other type (no
/// supertype, no typed references).
fn is_plain(ty: &wasmparser::SubType) -> bool {
    let names_no_type = |ty: &wasmparser::ValType| match ty {
        wasmparser::ValType::Ref(reference) => reference.type_index().is_none(),
        _ => true,
    };
    match &ty.composite_type.inner {
        wasmparser::CompositeInnerType::Func(func) => {
            ty.is_final
                && ty.supertype_idx.is_none()
                && !ty.composite_type.shared
                && func
                    .params()
                    .iter()
                    .chain(func.results())
                    .all(names_no_type)
        }
        _ => false,
    }
}

/// Where every original function goes.
struct Plan {
    /// Original defined function (as a function index) in the core, in
    /// order: the hot ones first.
    core_defined: Vec<u32>,
    /// How many of `core_defined` come from the hot functions list.
    hot_first: usize,
    rest_defined: Vec<u32>,
    in_core: Vec<bool>,
    /// The types that need a stub, and each one's index in the core (the
    /// stubs follow the core's other functions in the order of their types).
    stubs: BTreeMap<u32, u32>,
    /// Functions the rest calls that the core has (imported ones included).
    rest_imports: Vec<u32>,
}

impl Plan {
    fn new(original: &Original<'_>, in_core: Vec<bool>, hot: &[u32]) -> Self {
        let imported = original.imported_functions;
        let (in_order, rest_defined): (Vec<u32>, Vec<u32>) =
            (imported..original.function_count()).partition(|f| in_core[*f as usize]);
        let mut is_hot = vec![false; in_core.len()];
        for function in hot {
            is_hot[*function as usize] = true;
        }
        let mut core_defined: Vec<u32> = hot
            .iter()
            .copied()
            .filter(|f| in_core[*f as usize])
            .collect();
        let hot_first = core_defined.len();
        core_defined.extend(in_order.into_iter().filter(|f| !is_hot[*f as usize]));
        // The core's function index space: imports, LOAD_REST, its defined
        // functions, then the stubs.
        let first_stub = imported + 1 + core_defined.len() as u32;
        let mut stubs: BTreeMap<u32, u32> = original
            .table_functions
            .iter()
            .filter(|function| !in_core[**function as usize])
            .map(|function| (original.type_of(*function), 0))
            .collect();
        for (index, stub) in (first_stub..).zip(stubs.values_mut()) {
            *stub = index;
        }
        let mut needed = vec![false; in_core.len()];
        for function in &rest_defined {
            for callee in callees(&original.bodies[(function - imported) as usize]) {
                needed[callee as usize] |= in_core[callee as usize];
            }
        }
        let rest_imports = (0..needed.len() as u32)
            .filter(|f| needed[*f as usize])
            .collect();
        Plan {
            core_defined,
            hot_first,
            rest_defined,
            in_core,
            stubs,
            rest_imports,
        }
    }

    /// The core's index of each original function (`u32::MAX`: in the rest).
    fn core_indices(&self, original: &Original<'_>) -> Vec<u32> {
        let mut indices = vec![u32::MAX; self.in_core.len()];
        for function in 0..original.imported_functions {
            indices[function as usize] = function;
        }
        for (position, function) in self.core_defined.iter().enumerate() {
            indices[*function as usize] = original.imported_functions + 1 + position as u32;
        }
        indices
    }

    /// The core's index of each original type (`u32::MAX`: not in the
    /// core): the types its imports, functions, stubs, tags and code name,
    /// in their original order; every type when they may name each other.
    fn core_types(&self, original: &Original<'_>) -> anyhow::Result<Vec<u32>> {
        if !original.plain_types {
            return Ok((0..original.types.len() as u32).collect());
        }
        let mut uses = TypeUses(vec![false; original.types.len()]);
        let functions = (0..original.imported_functions).chain(self.core_defined.iter().copied());
        for ty in functions
            .map(|f| original.type_of(f))
            .chain(self.stubs.keys().copied())
        {
            uses.0[ty as usize] = true;
        }
        for tag in &original.tags {
            uses.tag_type(*tag)?;
        }
        for function in &self.core_defined {
            uses.body(original.body_of(*function))?;
        }
        let mut next = 0;
        Ok(uses
            .0
            .iter()
            .map(|used| match used {
                true => {
                    next += 1;
                    next - 1
                }
                false => u32::MAX,
            })
            .collect())
    }

    fn core(&self, original: &Original<'_>) -> anyhow::Result<Vec<u8>> {
        let indices = self.core_indices(original);
        let types = self.core_types(original)?;
        let mut reencoder = Renumber {
            indices: &indices,
            types: Some(&types),
            slot_global: None,
        };
        let mut module = Module::new();
        let mut type_section = type_section(original, &mut reencoder, |ty| types[ty] != u32::MAX)?;
        let load_rest_type = type_section.len();
        type_section.ty().function([], []);
        module.section(&type_section);
        module.section(&self.core_imports(original, &mut reencoder, load_rest_type)?);
        let mut functions = FunctionSection::new();
        for function in &self.core_defined {
            functions.function(types[original.type_of(*function) as usize]);
        }
        for ty in self.stubs.keys() {
            functions.function(types[*ty as usize]);
        }
        module.section(&functions);
        let mut tables = wasm_encoder::TableSection::new();
        tables.table(reencoder.table_type(original.tables[0])?);
        module.section(&tables);
        let mut memories = wasm_encoder::MemorySection::new();
        for memory in &original.memories {
            memories.memory(reencoder.memory_type(*memory)?);
        }
        module.section(&memories);
        if !original.tags.is_empty() {
            let mut tags = wasm_encoder::TagSection::new();
            for tag in &original.tags {
                tags.tag(reencoder.tag_type(*tag)?);
            }
            module.section(&tags);
        }
        module.section(&core_globals(original, &mut reencoder)?);
        module.section(&self.core_exports(original, &indices)?);
        if let Some(start) = original.start {
            module.section(&wasm_encoder::StartSection {
                function_index: indices[start as usize],
            });
        }
        module.section(&self.core_elements(original, &indices));
        copy_sections(&mut module, original, SectionId::DataCount);
        module.section(&self.core_code(original, &indices, &types)?);
        copy_sections(&mut module, original, SectionId::Data);
        Ok(module.finish())
    }

    /// The original's imports, then [`LOAD_REST`] (of type `load_rest_type`).
    fn core_imports(
        &self,
        original: &Original<'_>,
        reencoder: &mut Renumber<'_>,
        load_rest_type: u32,
    ) -> anyhow::Result<ImportSection> {
        let mut imports = ImportSection::new();
        for import in &original.imports {
            imports.import(
                import.module,
                import.name,
                reencoder.entity_type(import.ty)?,
            );
        }
        imports.import(
            LOAD_REST.0,
            LOAD_REST.1,
            EntityType::Function(load_rest_type),
        );
        Ok(imports)
    }

    /// The original's exports, and what the rest imports from the core
    /// (see [`CORE`]).
    fn core_exports(
        &self,
        original: &Original<'_>,
        indices: &[u32],
    ) -> anyhow::Result<ExportSection> {
        let mut reencoder = reencode::RoundtripReencoder;
        let mut exports = ExportSection::new();
        for export in &original.exports {
            let index = match export.kind {
                ExternalKind::Func => indices[export.index as usize],
                _ => export.index,
            };
            exports.export(export.name, reencoder.export_kind(export.kind)?, index);
        }
        for function in &self.rest_imports {
            let index = indices[*function as usize];
            exports.export(&format!("func{function}"), ExportKind::Func, index);
        }
        for memory in 0..original.memories.len() as u32 {
            exports.export(&format!("memory{memory}"), ExportKind::Memory, memory);
        }
        exports.export("table0", ExportKind::Table, 0);
        for global in 0..original.globals.len() as u32 {
            exports.export(&format!("global{global}"), ExportKind::Global, global);
        }
        for tag in 0..original.tags.len() as u32 {
            exports.export(&format!("tag{tag}"), ExportKind::Tag, tag);
        }
        Ok(exports)
    }

    /// The original's table, each rest function's entry holding its type's stub.
    fn core_elements(&self, original: &Original<'_>, indices: &[u32]) -> ElementSection {
        let entries: Vec<u32> = original
            .table_functions
            .iter()
            .map(|f| match indices[*f as usize] {
                u32::MAX => self.stubs[&original.type_of(*f)],
                index => index,
            })
            .collect();
        let mut elements = ElementSection::new();
        elements.active(
            None,
            &wasm_encoder::ConstExpr::i32_const(original.table_offset as i32),
            Elements::Functions(entries.into()),
        );
        elements
    }

    /// The core's functions renumbered, then the stubs.
    fn core_code(
        &self,
        original: &Original<'_>,
        indices: &[u32],
        types: &[u32],
    ) -> anyhow::Result<CodeSection> {
        let slot = original.globals.len() as u32;
        let mut renumber = Renumber {
            indices,
            types: Some(types),
            slot_global: Some(slot),
        };
        let mut code = CodeSection::new();
        for function in &self.core_defined {
            code.function(&renumber.body(original.body_of(*function))?);
        }
        let load_rest = original.imported_functions;
        for ty in self.stubs.keys() {
            code.function(&stub(original, *ty, types[*ty as usize], load_rest, slot));
        }
        Ok(code)
    }

    fn rest(&self, original: &Original<'_>) -> anyhow::Result<Vec<u8>> {
        let mut reencoder = reencode::RoundtripReencoder;
        let mut indices = vec![u32::MAX; self.in_core.len()];
        for (position, function) in self
            .rest_imports
            .iter()
            .chain(&self.rest_defined)
            .enumerate()
        {
            indices[*function as usize] = position as u32;
        }
        let mut module = Module::new();
        module.section(&type_section(original, &mut reencoder, |_| true)?);

        let mut imports = ImportSection::new();
        for function in &self.rest_imports {
            imports.import(
                CORE,
                &format!("func{function}"),
                EntityType::Function(original.type_of(*function)),
            );
        }
        for (index, memory) in original.memories.iter().enumerate() {
            let memory = EntityType::Memory(reencoder.memory_type(*memory)?);
            imports.import(CORE, &format!("memory{index}"), memory);
        }
        imports.import(
            CORE,
            "table0",
            EntityType::Table(reencoder.table_type(original.tables[0])?),
        );
        for (index, global) in original.globals.iter().enumerate() {
            imports.import(
                CORE,
                &format!("global{index}"),
                EntityType::Global(reencoder.global_type(global.ty)?),
            );
        }
        for (index, tag) in original.tags.iter().enumerate() {
            imports.import(
                CORE,
                &format!("tag{index}"),
                EntityType::Tag(reencoder.tag_type(*tag)?),
            );
        }
        module.section(&imports);

        let mut functions = FunctionSection::new();
        for function in &self.rest_defined {
            functions.function(original.type_of(*function));
        }
        module.section(&functions);

        // One segment per run of consecutive rest entries.
        let mut elements = ElementSection::new();
        let mut run: Vec<u32> = Vec::new();
        let mut run_start = 0;
        let table = original.table_functions.iter().map(Some).chain([None]);
        for (position, function) in table.enumerate() {
            let rest_entry = function.filter(|f| !self.in_core[**f as usize]);
            match rest_entry {
                Some(function) => {
                    if run.is_empty() {
                        run_start = original.table_offset + position as u32;
                    }
                    run.push(indices[*function as usize]);
                }
                None if !run.is_empty() => {
                    elements.active(
                        None,
                        &wasm_encoder::ConstExpr::i32_const(run_start as i32),
                        Elements::Functions(std::mem::take(&mut run).into()),
                    );
                }
                None => {}
            }
        }
        module.section(&elements);

        let mut code = CodeSection::new();
        let mut rest = Renumber {
            indices: &indices,
            types: None,
            slot_global: None,
        };
        for function in &self.rest_defined {
            code.function(&rest.body(original.body_of(*function))?);
        }
        module.section(&code);
        Ok(module.finish())
    }
}

/// The original's types that `keep` (given each one's index) keeps, in
/// their order, written through `reencoder`.
fn type_section(
    original: &Original<'_>,
    reencoder: &mut impl Reencode<Error = std::convert::Infallible>,
    keep: impl Fn(usize) -> bool,
) -> anyhow::Result<TypeSection> {
    let mut types = TypeSection::new();
    for (index, ty) in original.types.iter().enumerate() {
        if keep(index) {
            types.ty().subtype(&reencoder.sub_type(ty.clone())?);
        }
    }
    Ok(types)
}

/// The core's globals: the original's, then the one that holds the entry
/// index of the last `call_indirect` (for the stubs).
fn core_globals(
    original: &Original<'_>,
    reencoder: &mut Renumber<'_>,
) -> anyhow::Result<GlobalSection> {
    let mut globals = GlobalSection::new();
    for global in &original.globals {
        globals.global(
            reencoder.global_type(global.ty)?,
            &reencoder.const_expr(global.init_expr.clone())?,
        );
    }
    let slot = GlobalType {
        val_type: ValType::I32,
        mutable: true,
        shared: false,
    };
    globals.global(slot, &wasm_encoder::ConstExpr::i32_const(0));
    Ok(globals)
}

/// Copies the original's sections of kind `id` as written.
fn copy_sections(module: &mut Module, original: &Original<'_>, id: SectionId) {
    for (section, range) in &original.copied_sections {
        if *section == id {
            module.section(&RawSection {
                id: id as u8,
                data: &original.wasm[range.clone()],
            });
        }
    }
}

/// A stub for table entries of type `ty` (`core_ty` in the core) whose
/// function is in the rest: has the host instantiate the rest, then calls
/// the entry again (its index is in the global `slot`, set by the caller's
/// `call_indirect`).
fn stub(original: &Original<'_>, ty: u32, core_ty: u32, load_rest: u32, slot: u32) -> Function {
    let params = match &original.types[ty as usize].composite_type.inner {
        wasmparser::CompositeInnerType::Func(func) => func.params().len() as u32,
        _ => 0,
    };
    let mut stub = Function::new([]);
    stub.instruction(&Instruction::Call(load_rest));
    for param in 0..params {
        stub.instruction(&Instruction::LocalGet(param));
    }
    stub.instruction(&Instruction::GlobalGet(slot));
    stub.instruction(&Instruction::CallIndirect {
        type_index: core_ty,
        table_index: 0,
    });
    stub.instruction(&Instruction::End);
    stub
}

/// Rewrites function bodies for one side of the split: function indices
/// renumbered, type indices too where the side has fewer types, and (in the
/// core) each `call_indirect`'s entry index kept in the global
/// `slot_global` first, for the stubs.
struct Renumber<'a> {
    indices: &'a [u32],
    types: Option<&'a [u32]>,
    slot_global: Option<u32>,
}

impl Reencode for Renumber<'_> {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error<Self::Error>> {
        // Bodies only name functions on their side of the split or imported
        // from the other (`Plan` made sure of it).
        Ok(self.indices[func as usize])
    }

    fn type_index(&mut self, ty: u32) -> Result<u32, reencode::Error<Self::Error>> {
        // `Plan::core_types` kept every type the side names.
        Ok(self.types.map_or(ty, |types| types[ty as usize]))
    }
}

/// Notes the types a body names, through the same reencoding that writes
/// it (so no use is missed): `true` at each original type index named.
struct TypeUses(Vec<bool>);

impl Reencode for TypeUses {
    type Error = std::convert::Infallible;

    fn type_index(&mut self, ty: u32) -> Result<u32, reencode::Error<Self::Error>> {
        self.0[ty as usize] = true;
        Ok(ty)
    }
}

impl TypeUses {
    fn body(&mut self, body: FunctionBody<'_>) -> anyhow::Result<()> {
        self.new_function_with_parsed_locals(&body)?;
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            self.instruction(reader.read()?)?;
        }
        Ok(())
    }
}

impl Renumber<'_> {
    fn body(&mut self, body: FunctionBody<'_>) -> anyhow::Result<Function> {
        let mut function = self.new_function_with_parsed_locals(&body)?;
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let operator = reader.read()?;
            match (&operator, self.slot_global) {
                (Operator::MemoryInit { .. } | Operator::DataDrop { .. }, None) => {
                    bail!("a function of the rest uses a data segment, which stays in the core")
                }
                (
                    Operator::CallIndirect { .. } | Operator::ReturnCallIndirect { .. },
                    Some(slot),
                ) => {
                    function.instruction(&Instruction::GlobalSet(slot));
                    function.instruction(&Instruction::GlobalGet(slot));
                }
                (
                    Operator::TableSet { .. }
                    | Operator::TableGrow { .. }
                    | Operator::TableCopy { .. }
                    | Operator::TableInit { .. }
                    | Operator::TableFill { .. },
                    _,
                ) => {
                    bail!("the module changes its table at run time, which a split cannot follow")
                }
                _ => {}
            }
            function.instruction(&self.instruction(operator)?);
        }
        Ok(function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module whose table holds one function of the core and two that
    /// only the table reaches; one of those calls a core function, and
    /// one reads a global and the memory the core owns.
    pub(super) const MODULE: &str = r#"
        (module
          (type $unused (func (param f64)))
          (type $unary (func (param i32) (result i32)))
          (table 4 4 funcref)
          (memory (export "memory") 1)
          (global $base (mut i32) (i32.const 7))
          (elem (i32.const 1) $double $triple_plus_memory $double_via_core)
          (func $double (param i32) (result i32)
            local.get 0
            i32.const 2
            i32.mul)
          (func $triple_plus_memory (param i32) (result i32)
            local.get 0
            i32.const 3
            i32.mul
            i32.const 0
            i32.load
            i32.add
            global.get $base
            i32.add)
          (func $double_via_core (param i32) (result i32)
            local.get 0
            call $double)
          (func $call (export "call") (param i32 i32) (result i32)
            local.get 1
            local.get 0
            call_indirect (type $unary))
          (func (export "store") (param i32)
            i32.const 0
            local.get 0
            i32.store))
    "#;

    pub(super) const REST: RestEntries<'static> = RestEntries {
        first: "triple_plus_memory",
        last: "double_via_core",
    };

    /// [`MODULE`] split at [`REST`], in the original order.
    pub(super) fn split_module() -> Split {
        split(
            &wat::parse_str(MODULE).unwrap(),
            &REST,
            &HotFunctions::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_core_holds_only_what_its_exports_and_table_reach() {
        let split = split_module();
        wasmparser::Validator::new()
            .validate_all(&split.core)
            .unwrap();
        let exports: Vec<String> = Parser::new(0)
            .parse_all(&split.rest)
            .filter_map(|payload| match payload.unwrap() {
                Payload::ImportSection(reader) => Some(reader),
                _ => None,
            })
            .flat_map(|reader| reader.into_imports().map(|i| i.unwrap().name.to_string()))
            .collect();
        // The rest calls `double` (function 0) and shares the rest by index.
        assert_eq!(exports, ["func0", "memory0", "table0", "global0"]);
    }

    #[test]
    fn the_core_keeps_only_the_types_it_uses() {
        let split = split_module();
        // Each type's (parameters, results).
        let types = |wasm: &[u8]| -> Vec<(Vec<wasmparser::ValType>, Vec<wasmparser::ValType>)> {
            Parser::new(0)
                .parse_all(wasm)
                .filter_map(|payload| match payload.unwrap() {
                    Payload::TypeSection(reader) => Some(reader),
                    _ => None,
                })
                .flat_map(|reader| reader.into_iter_err_on_gc_types())
                .map(|ty| ty.unwrap())
                .map(|ty| (ty.params().to_vec(), ty.results().to_vec()))
                .collect()
        };
        use wasmparser::ValType::I32;
        // `$unused` is left out, `load_rest`'s type added; the rest keeps all.
        assert_eq!(
            types(&split.core),
            [
                (vec![I32], vec![I32]),
                (vec![I32, I32], vec![I32]),
                (vec![I32], vec![]),
                (vec![], vec![])
            ]
        );
        assert_eq!(types(&split.rest).len(), 4);
    }

    /// The index of the core's export `name`.
    fn exported_index(core: &[u8], name: &str) -> u32 {
        Parser::new(0)
            .parse_all(core)
            .filter_map(|payload| match payload.unwrap() {
                Payload::ExportSection(reader) => Some(reader),
                _ => None,
            })
            .flatten()
            .map(|export| export.unwrap())
            .find(|export| export.name == name)
            .unwrap()
            .index
    }

    #[test]
    fn hot_functions_come_first_in_the_core() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let plain = split_module();
        // After `load_rest` (function 0): `double`, `call`, `store`.
        assert_eq!(exported_index(&plain.core, "call"), 2);
        // `triple_plus_memory` is the rest's: it stays there.
        let list = "# hottest first\n3 call\n1 triple_plus_memory\n3 call\n";
        let hot = split(&wasm, &REST, &HotFunctions::parse(list).unwrap()).unwrap();
        wasmparser::Validator::new()
            .validate_all(&hot.core)
            .unwrap();
        assert_eq!(exported_index(&hot.core, "call"), 1);
        assert_eq!(hot.hot_first, 1);
        assert_eq!(hot.rest, plain.rest);
    }

    #[test]
    fn a_hot_functions_list_must_name_the_modules_functions() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let error = |list| {
            let hot = HotFunctions::parse(list)?;
            split(&wasm, &REST, &hot).map(|_| ())
        };
        let wrong = error("0 call").unwrap_err().to_string();
        assert!(
            wrong.contains("names function 0 `call`, but the module's is `double`")
                && wrong.contains("made for another build"),
            "{wrong}"
        );
        for missing in ["4 store", "99 call"] {
            let missing = error(missing).unwrap_err().to_string();
            assert!(
                missing.contains("no defined function of that name"),
                "{missing}"
            );
        }
        let malformed = format!("{:#}", error("call").unwrap_err());
        assert!(
            malformed.contains("line 1: `call` is not `INDEX NAME`"),
            "{malformed}"
        );
    }

    #[test]
    fn entries_are_named_by_function_and_must_be_in_the_table() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let named = |first, last| {
            split(
                &wasm,
                &RestEntries { first, last },
                &HotFunctions::default(),
            )
            .map(|_| ())
            .unwrap_err()
            .to_string()
        };
        assert!(named("nope", "double").contains("no function named `nope`"));
        assert!(named("double_via_core", "double").contains("comes after"));
        let error = named("call", "call");
        assert!(
            error.contains("`call` is not in the module's table"),
            "{error}"
        );
        let stripped = super::super::strip::strip(&wasm).unwrap();
        let error = split(&stripped, &REST, &HotFunctions::default())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(error.contains("split before stripping"), "{error}");
    }
}
