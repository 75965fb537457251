;; A reactor (guest ABI v1) that abuses the host's `lambda_wasm` imports:
;; ranges outside its memory, lengths near 4 GiB, a response set just
;; before a trap. The event's first byte picks what it does:
;;
;;   `{`  a normal event: responds {"ok":true}
;;   `1`  set_response at a pointer past the end of memory
;;   `2`  set_response with a length of 0xFFFFFFFF
;;   `3`  set_error with an errorType pointer past the end of memory
;;   `4`  set_error with a 256 MiB message length
;;   `5`  add_stack_frame at a negative pointer
;;   `6`  log a range that straddles the end of memory
;;   `7`  log at level 99 (not a level), then respond {"ok":true}
;;   `8`  return status -1 without calling set_error
;;   `9`  set a valid response, then trap
(module
  (import "lambda_wasm" "set_response" (func $set_response (param i32 i32)))
  (import "lambda_wasm" "set_error" (func $set_error (param i32 i32 i32 i32)))
  (import "lambda_wasm" "add_stack_frame" (func $add_stack_frame (param i32 i32)))
  (import "lambda_wasm" "log" (func $log (param i32 i32 i32)))
  ;; Two pages: 131072 bytes.
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"ok\":true}")
  (data (i32.const 32) "Hostile")

  (func (export "lambda_abi_version") (result i32) (i32.const 1))

  ;; Events (and the context after them) go at 1024; larger than the
  ;; memory left, there is no room: 0.
  (func (export "lambda_alloc") (param $size i32) (result i32)
    (if (i32.gt_u (local.get $size) (i32.const 130000))
      (then (return (i32.const 0))))
    (i32.const 1024))

  (func $ok (result i32)
    (call $set_response (i32.const 16) (i32.const 11))
    (i32.const 0))

  (func (export "handler")
    (param $event i32) (param $event_len i32) (param $ctx i32) (param $ctx_len i32)
    (result i32)
    (block $normal
      (block $9 (block $8 (block $7 (block $6 (block $5
      (block $4 (block $3 (block $2 (block $1
        (br_table $normal $1 $2 $3 $4 $5 $6 $7 $8 $9 $normal
          (i32.sub (i32.load8_u (local.get $event)) (i32.const 48))))
        ;; 1
        (call $set_response (i32.const 0xFFFFFFF0) (i32.const 100))
        (return (i32.const 0)))
        ;; 2
        (call $set_response (i32.const 16) (i32.const -1))
        (return (i32.const 0)))
        ;; 3
        (call $set_error (i32.const 0x7FFFFFFF) (i32.const 4) (i32.const 32) (i32.const 7))
        (return (i32.const 1)))
        ;; 4
        (call $set_error (i32.const 32) (i32.const 7) (i32.const 16) (i32.const 0x10000000))
        (return (i32.const 1)))
        ;; 5
        (call $add_stack_frame (i32.const -16) (i32.const 32))
        (return (i32.const 1)))
        ;; 6
        (call $log (i32.const 2) (i32.const 131068) (i32.const 8))
        (return (i32.const 0)))
        ;; 7
        (call $log (i32.const 99) (i32.const 32) (i32.const 7))
        (return (call $ok)))
        ;; 8
        (return (i32.const -1)))
      ;; 9
      (drop (call $ok))
      (unreachable))
    (call $ok))
)
