// Guest ABI v1 (docs/abi.md, section 2): the exports the host calls and the
// imports it provides, with nothing Go-specific on top.
//
// Built as part of a guest: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
// (see `make guests-go`).

package lambdawasm

import "unsafe"

// abiVersion is the guest ABI version this SDK speaks.
const abiVersion = 1

//go:wasmexport lambda_abi_version
func lambdaAbiVersion() int32 { return abiVersion }

// pinned keeps every buffer handed to the host by lambda_alloc reachable, so
// that the garbage collector (which never moves objects but does free
// unreachable ones) cannot reuse it while the host writes into it or while
// the handler reads it. release drops it when the invocation is over.
var pinned = map[uint32][]byte{}

// lambdaAlloc returns size writable bytes that stay put until release.
//
//go:wasmexport lambda_alloc
func lambdaAlloc(size int32) uint32 {
	if size <= 0 {
		// A zero-length event and context still needs a distinct non-zero address.
		size = 1
	}
	buf := make([]byte, size)
	ptr := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	pinned[ptr] = buf
	return ptr
}

// invocationBytes returns the event and the context the host wrote into one
// pinned buffer: the ABI passes (ptr, event_len, ptr+event_len, ctx_len).
// ok is false when the pointers are not that.
func invocationBytes(eventPtr, eventLen, ctxPtr, ctxLen uint32) (event, context []byte, ok bool) {
	buf, found := pinned[eventPtr]
	end := uint64(eventLen) + uint64(ctxLen)
	if !found || ctxPtr != eventPtr+eventLen || end > uint64(len(buf)) {
		return nil, nil, false
	}
	return buf[:eventLen], buf[eventLen:end], true
}

// release frees the buffer lambda_alloc returned at ptr; nothing may view it after.
func release(ptr uint32) { delete(pinned, ptr) }

//go:wasmimport lambda_wasm set_response
func setResponse(ptr unsafe.Pointer, length uint32)

//go:wasmimport lambda_wasm set_error
func setError(typePtr unsafe.Pointer, typeLen uint32, msgPtr unsafe.Pointer, msgLen uint32)

//go:wasmimport lambda_wasm add_stack_frame
func addStackFrame(ptr unsafe.Pointer, length uint32)

//go:wasmimport lambda_wasm log
func hostLog(level int32, ptr unsafe.Pointer, length uint32)

//go:wasmimport lambda_wasm remaining_time_ms
func remainingTimeMs() int64

// The imports above take (pointer, length) pairs; these pass Go values.

func sendResponse(json []byte) {
	setResponse(unsafe.Pointer(unsafe.SliceData(json)), uint32(len(json)))
}

func sendError(errorType, message string) {
	setError(unsafe.Pointer(unsafe.StringData(errorType)), uint32(len(errorType)),
		unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
}

func sendStackFrame(line string) {
	addStackFrame(unsafe.Pointer(unsafe.StringData(line)), uint32(len(line)))
}

func sendLog(level Level, message string) {
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
}
