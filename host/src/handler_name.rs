//! `_HANDLER` parsing: `file.function` to a module path under the task root
//! and an export name, split on the last dot as AWS's runtimes do.

use std::path::PathBuf;

use crate::errors::LambdaError;

/// A parsed handler string such as `hello.handler` or `pkg/mod.handler`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerName {
    /// The handler string as the user wrote it, for error messages.
    pub raw: String,
    /// The module part as written (`pkg.mod`, `src/app`), the name errors use.
    pub module: String,
    /// The export to call; `None` means the module's default entry.
    pub function: Option<String>,
}

impl HandlerName {
    /// Parses `handler`, rejecting names that cannot be a file under the task root.
    pub fn parse(handler: &str) -> Result<Self, LambdaError> {
        let bad = |reason: &str| LambdaError::malformed_handler(handler, reason);
        if handler.trim().is_empty() {
            return Err(bad(
                "the handler is empty; use MODULE.FUNCTION, e.g. hello.handler",
            ));
        }
        let (module, function) = match handler.rsplit_once('.') {
            Some((module, function)) => (module, Some(function)),
            None => (handler, None),
        };
        if module.is_empty() {
            return Err(bad("the module part before the last '.' is empty"));
        }
        if function == Some("") {
            return Err(bad("the function part after the last '.' is empty"));
        }
        if module.starts_with('/') || module.contains('\\') {
            return Err(bad(
                "the module must be a relative path under the task root",
            ));
        }
        if let Some(extension) = file_extension_in(module, function) {
            let stem = module
                .strip_suffix(&format!(".{extension}"))
                .unwrap_or(module);
            return Err(bad(&format!(
                "'.{extension}' is the module file's extension, which does not belong in the handler; use MODULE.FUNCTION, e.g. {stem}.handler"
            )));
        }
        let parsed = Self {
            raw: handler.to_string(),
            module: module.to_string(),
            function: function.map(str::to_string),
        };
        if parsed
            .module_components()
            .any(|part| part.is_empty() || part == "..")
        {
            return Err(bad("the module path has an empty or '..' component"));
        }
        Ok(parsed)
    }

    /// The module's path under the task root without extension: dots are folders.
    pub fn module_path(&self) -> PathBuf {
        self.module_components().collect()
    }

    /// The last path component of the module, e.g. `mod` for `pkg.mod`.
    pub fn module_file_stem(&self) -> &str {
        self.module_components().last().unwrap_or(&self.module)
    }

    fn module_components(&self) -> impl Iterator<Item = &str> {
        self.module.split(['/', '.'])
    }
}

/// The file extension a handler string ends its module with, as in
/// `hello.wasm` or `hello.wasm.handler`, if any. (`.py` only as the whole
/// function part: a Python package may be named `py`.)
fn file_extension_in<'a>(module: &str, function: Option<&'a str>) -> Option<&'a str> {
    const MODULE_EXTENSIONS: &[&str] = &["wasm", "cwasm"];
    match function {
        Some(function @ ("wasm" | "cwasm" | "py")) => Some(function),
        _ => MODULE_EXTENSIONS.iter().copied().find(|ext| {
            module
                .strip_suffix(ext)
                .is_some_and(|rest| rest.ends_with('.'))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(handler: &str) -> (PathBuf, Option<String>) {
        let name = HandlerName::parse(handler).unwrap();
        (name.module_path(), name.function)
    }

    #[test]
    fn splits_on_the_last_dot() {
        assert_eq!(
            parse("hello.handler"),
            ("hello".into(), Some("handler".into()))
        );
        assert_eq!(
            parse("lambda_function.lambda_handler"),
            ("lambda_function".into(), Some("lambda_handler".into()))
        );
        assert_eq!(
            parse("pkg.mod.handler"),
            ("pkg/mod".into(), Some("handler".into()))
        );
        assert_eq!(
            parse("src/app.handler"),
            ("src/app".into(), Some("handler".into()))
        );
    }

    #[test]
    fn a_bare_module_means_its_default_entry() {
        assert_eq!(parse("hello"), ("hello".into(), None));
    }

    #[test]
    fn rejects_names_outside_the_task_root() {
        for bad in [
            "",
            " ",
            ".handler",
            "hello.",
            "/etc/passwd.x",
            "../up.handler",
            "a//b.h",
            "a\\b.h",
        ] {
            let error = HandlerName::parse(bad).unwrap_err();
            assert_eq!(error.error_type, "Runtime.MalformedHandlerName", "{bad:?}");
            assert!(
                error
                    .error_message
                    .starts_with(&format!("Bad handler '{bad}': "))
            );
        }
    }

    #[test]
    fn a_file_extension_is_not_part_of_the_handler() {
        for (handler, extension, suggestion) in [
            ("wordcount.wasm", ".wasm", "wordcount.handler"),
            ("hello.cwasm", ".cwasm", "hello.handler"),
            ("lambda_function.py", ".py", "lambda_function.handler"),
            ("wordcount.wasm.handler", ".wasm", "wordcount.handler"),
        ] {
            let error = HandlerName::parse(handler).unwrap_err();
            assert_eq!(error.error_type, "Runtime.MalformedHandlerName");
            for needle in [extension, "does not belong", suggestion] {
                assert!(
                    error.error_message.contains(needle),
                    "{handler}: {}",
                    error.error_message
                );
            }
        }
        assert!(
            HandlerName::parse("py.handler").is_ok(),
            "a module named py"
        );
        assert!(
            HandlerName::parse("pkg.py.handler").is_ok(),
            "a package named py"
        );
    }

    #[test]
    fn the_module_name_in_errors_is_as_written() {
        let name = HandlerName::parse("pkg.mod.handler").unwrap();
        assert_eq!(name.module, "pkg.mod");
        assert_eq!(name.module_file_stem(), "mod");
    }
}
