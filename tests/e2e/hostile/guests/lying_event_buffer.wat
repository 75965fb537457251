;; A reactor (guest ABI 1.2) whose kept event buffer, `lambda_event_buffer`,
;; lies about the memory it hands the host, by the size asked for:
;;
;;   up to 65536 bytes   a real buffer at 65536 (the host asks 64 KiB first)
;;   65537 to 100000     131000: the buffer runs past the end of memory
;;   more than 100000    0: it cannot allocate
;;
;; The handler echoes the event, which shows that the host wrote it into the
;; kept buffer; `lambda_alloc` hands out memory far outside, so an event the
;; host wrote there instead would trap.
(module
  (import "lambda_wasm" "set_response" (func $set_response (param i32 i32)))
  (memory (export "memory") 3)

  (func (export "lambda_abi_version") (result i32) (i32.const 1))

  (func (export "lambda_alloc") (param $size i32) (result i32)
    (i32.const 0x7FFF0000))

  (func (export "lambda_event_buffer") (param $size i32) (result i32)
    (if (i32.gt_u (local.get $size) (i32.const 100000))
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $size) (i32.const 65536))
      (then (return (i32.const 131000))))
    (i32.const 65536))

  (func (export "handler")
    (param $event i32) (param $event_len i32) (param $ctx i32) (param $ctx_len i32)
    (result i32)
    (call $set_response (local.get $event) (local.get $event_len))
    (i32.const 0))
)
