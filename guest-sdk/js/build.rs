//! Link settings for the runner: an 8 MiB Wasm stack (the default 1 MiB is
//! too little for QuickJS's parser and recursive user code; lib.rs keeps
//! QuickJS's own limit below it so overflow is a RangeError, not a trap).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("wasm") {
        println!("cargo:rustc-link-arg=-zstack-size=8388608");
    }
}
