;; A reactor (guest ABI v1) whose `lambda_alloc` lies about the memory it
;; hands the host, by the size asked for:
;;
;;   up to 2000 bytes    a real buffer at 1024 (a normal event: {"ok":true})
;;   2001 to 3000        131000: the buffer runs past the end of memory
;;   more than 3000      0x7FFF0000: far outside memory
(module
  (import "lambda_wasm" "set_response" (func $set_response (param i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"ok\":true}")

  (func (export "lambda_abi_version") (result i32) (i32.const 1))

  (func (export "lambda_alloc") (param $size i32) (result i32)
    (if (i32.gt_u (local.get $size) (i32.const 3000))
      (then (return (i32.const 0x7FFF0000))))
    (if (i32.gt_u (local.get $size) (i32.const 2000))
      (then (return (i32.const 131000))))
    (i32.const 1024))

  (func (export "handler")
    (param $event i32) (param $event_len i32) (param $ctx i32) (param $ctx_len i32)
    (result i32)
    (call $set_response (i32.const 16) (i32.const 11))
    (i32.const 0))
)
