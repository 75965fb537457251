//! Which kind of guest a Wasm module is (docs/abi.md): an ABI v1 reactor
//! with a handler export, or a WASI command run once per event.

use wasmtime::{ExternType, FuncType, Module, ValType};

use crate::abi::{ALLOC_EXPORT, DEFAULT_HANDLER_EXPORT, VERSION_EXPORT};
use crate::errors::LambdaError;
use crate::handler_name::HandlerName;

/// How the host runs a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleKind {
    /// One long-lived instance; each event calls `export`.
    Reactor {
        /// The handler export.
        export: String,
    },
    /// A fresh instance per event running `_start`.
    Command,
}

impl ModuleKind {
    /// Decides from `module`'s exports, checking the handler's signature.
    pub fn detect(module: &Module, handler: &HandlerName) -> Result<Self, LambdaError> {
        let function = handler.function.as_deref();
        if module.get_export(VERSION_EXPORT).is_some() {
            require_func(module, VERSION_EXPORT, &[], &[ValType::I32], handler)?;
            require_func(
                module,
                ALLOC_EXPORT,
                &[ValType::I32],
                &[ValType::I32],
                handler,
            )?;
            let export = function.unwrap_or(DEFAULT_HANDLER_EXPORT);
            return match module.get_export(export) {
                Some(ExternType::Func(ty)) if is_handler(&ty) => Ok(ModuleKind::Reactor {
                    export: export.to_string(),
                }),
                _ => Err(LambdaError::handler_not_found(export, &handler.module)),
            };
        }
        if module.get_export("_start").is_some() {
            if let Some(function) = function {
                tracing::debug!(
                    "{} is a WASI command; its entry is _start, so '{function}' is not used",
                    handler.module
                );
            }
            return Ok(ModuleKind::Command);
        }
        match function {
            Some(function) if module.get_export(function).is_none() => {
                Err(LambdaError::handler_not_found(function, &handler.module))
            }
            _ => Err(LambdaError::import_module(
                &handler.module,
                "the module exports neither lambda_abi_version (an ABI v1 reactor) nor _start (a WASI command); see docs/abi.md",
            )),
        }
    }
}

fn is_handler(ty: &FuncType) -> bool {
    let i32s = |n| std::iter::repeat_n(ValType::I32, n).collect::<Vec<_>>();
    same_types(ty.params(), &i32s(4)) && same_types(ty.results(), &i32s(1))
}

fn require_func(
    module: &Module,
    name: &str,
    params: &[ValType],
    results: &[ValType],
    handler: &HandlerName,
) -> Result<(), LambdaError> {
    match module.get_export(name) {
        Some(ExternType::Func(ty))
            if same_types(ty.params(), params) && same_types(ty.results(), results) =>
        {
            Ok(())
        }
        _ => Err(LambdaError::import_module(
            &handler.module,
            format!("the export {name} is missing or has the wrong signature; see docs/abi.md"),
        )),
    }
}

fn same_types(actual: impl ExactSizeIterator<Item = ValType>, expected: &[ValType]) -> bool {
    actual.len() == expected.len() && actual.zip(expected).all(|(a, b)| ValType::eq(&a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REACTOR: &str = r#"(module
        (func (export "lambda_abi_version") (result i32) i32.const 1)
        (func (export "lambda_alloc") (param i32) (result i32) i32.const 0)
        (func (export "handler") (param i32 i32 i32 i32) (result i32) i32.const 0)
        (func (export "not_a_handler") (param i32) (result i32) i32.const 0))"#;

    fn detect(wat: &str, handler: &str) -> Result<ModuleKind, LambdaError> {
        let module = Module::new(&wasmtime::Engine::default(), wat).unwrap();
        ModuleKind::detect(&module, &HandlerName::parse(handler).unwrap())
    }

    #[test]
    fn a_reactor_runs_the_named_export_or_handler() {
        assert_eq!(
            detect(REACTOR, "m.handler").unwrap(),
            ModuleKind::Reactor {
                export: "handler".into()
            }
        );
        assert_eq!(
            detect(REACTOR, "m").unwrap(),
            ModuleKind::Reactor {
                export: "handler".into()
            }
        );
    }

    #[test]
    fn a_missing_or_mistyped_handler_is_not_found() {
        for handler in ["m.nope", "m.not_a_handler"] {
            let error = detect(REACTOR, handler).unwrap_err();
            assert_eq!(error.error_type, "Runtime.HandlerNotFound");
        }
        assert_eq!(
            detect(REACTOR, "m.nope").unwrap_err().error_message,
            "Handler 'nope' missing on module 'm'"
        );
    }

    #[test]
    fn a_start_export_makes_a_command() {
        assert_eq!(
            detect(r#"(module (func (export "_start")))"#, "m.anything").unwrap(),
            ModuleKind::Command
        );
    }

    #[test]
    fn a_malformed_abi_is_an_import_error() {
        let error = detect(
            r#"(module (func (export "lambda_abi_version") (result i64) i64.const 1))"#,
            "m.handler",
        )
        .unwrap_err();
        assert_eq!(error.error_type, "Runtime.ImportModuleError");
        assert!(error.error_message.contains("lambda_abi_version"));
        let neither = detect(r#"(module (func (export "handler")))"#, "m.handler").unwrap_err();
        assert!(
            neither.error_message.contains("neither"),
            "{}",
            neither.error_message
        );
    }
}
