//! `HandlerName::parse` on arbitrary text: never panics, and whatever it
//! accepts names a file strictly under the task root.
#![no_main]

use std::path::{Component, Path};

use lambda_wasm::handler_name::HandlerName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match HandlerName::parse(text) {
        Err(error) => {
            assert_eq!(error.error_type, "Runtime.MalformedHandlerName");
            assert!(error.error_message.starts_with(&format!("Bad handler '{text}': ")), "{}", error.error_message);
        }
        Ok(name) => {
            assert_eq!(name.raw, text);
            assert!(!name.module.is_empty());
            assert!(name.function.as_deref() != Some(""), "empty function part accepted: {text:?}");
            if let Some(function) = &name.function {
                assert!(!function.contains('.'), "split on the last dot: {text:?}");
                assert_eq!(format!("{}.{function}", name.module), text);
            } else {
                assert_eq!(name.module, text);
            }
            let path = name.module_path();
            assert!(path.is_relative(), "{text:?} → {path:?}");
            for component in path.components() {
                assert!(matches!(component, Component::Normal(_)), "{text:?} → {path:?} has {component:?}");
            }
            let root = Path::new("/var/task");
            assert!(root.join(&path).starts_with(root), "{text:?} escapes the task root: {path:?}");
            assert!(path.components().count() >= 1);
            let stem = name.module_file_stem();
            assert!(!stem.is_empty() && !stem.contains(['/', '.']), "{text:?} → stem {stem:?}");
            assert_eq!(Some(stem), path.components().last().unwrap().as_os_str().to_str());
        }
    }
});
