;; A reactor that does nothing but answer `null`: the ABI boundary alone
;; (host/benches/sandbox.rs and host/examples/profile_invoke.rs).
(module
  (import "lambda_wasm" "set_response" (func $set_response (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "null")
  (func (export "lambda_abi_version") (result i32) i32.const 1)
  (func (export "lambda_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "handler") (param i32 i32 i32 i32) (result i32)
    (call $set_response (i32.const 16) (i32.const 4))
    i32.const 0))
