// Package lambdawasm runs AWS Lambda handlers written in Go on the
// lambda-wasm host (guest ABI v1, docs/abi.md), with aws-lambda-go's shape:
//
//	func init() { lambdawasm.Start(handle) } // handler string: MODULE.handler
//
//	func handle(ctx *lambdawasm.Context, event MyEvent) (MyResponse, error)
//
// Build a module as a WASI reactor (its `_initialize` runs the package init
// functions once per execution environment, so init() is the place for
// init-once state: clients, caches):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm .
package lambdawasm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
)

// Handler is one entry point, its event and response as JSON bytes. Make one
// from a typed function with NewHandler. The event bytes are the host's
// buffer, valid only until the Handler returns (NewHandler decodes them
// with json.Unmarshal, which copies).
type Handler func(ctx *Context, event []byte) (response []byte, err error)

// started is the function the `handler` export runs, set by Start.
var started Handler

// Start makes fn the module's `handler` export (handler string
// `MODULE.handler`). Call it from init(): a reactor never runs main.
//
// The event is decoded into E with encoding/json (use json.RawMessage or
// map[string]any for any JSON); the response R is encoded the same way.
// A returned error becomes the function error, errorType the error's Go
// type name (as aws-lambda-go reports it, e.g. `errorString` for
// errors.New), errorMessage its Error() text, one stack frame per wrapped
// cause. A panic is logged with its stack and traps the instance, as a
// Rust guest's panic does: the host reports Runtime.WasmTrap and the next
// event gets a fresh instance.
func Start[E, R any](fn func(ctx *Context, event E) (R, error)) {
	started = NewHandler(fn)
}

// NewHandler adapts a typed handler function. Start uses it; use it too for
// a second entry point in one module, with an export of your own:
//
//	var resize = lambdawasm.NewHandler(handleResize)
//
//	//go:wasmexport resize
//	func resizeExport(eventPtr, eventLen, ctxPtr, ctxLen uint32) int32 {
//		return resize.Invoke(eventPtr, eventLen, ctxPtr, ctxLen)
//	}
func NewHandler[E, R any](fn func(ctx *Context, event E) (R, error)) Handler {
	return func(ctx *Context, eventJSON []byte) ([]byte, error) {
		var event E
		if err := json.Unmarshal(eventJSON, &event); err != nil {
			return nil, &FunctionError{Type: "Runtime.UnmarshalError", Message: "Unable to unmarshal input: " + err.Error()}
		}
		response, err := fn(ctx, event)
		if err != nil {
			return nil, err
		}
		return marshal(response)
	}
}

// FunctionError is an error that names its own errorType, for failures with
// no Go type of their own (e.g. a Python-style `TypeError`).
type FunctionError struct {
	Type    string
	Message string
}

func (e *FunctionError) Error() string { return e.Message }

// marshal encodes a response as compact JSON, leaving <, > and & as they are
// (encoding/json escapes them for HTML by default; Lambda's runtimes do not).
func marshal(response any) ([]byte, error) {
	var out bytes.Buffer
	encoder := json.NewEncoder(&out)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(response); err != nil {
		return nil, &FunctionError{Type: "Runtime.MarshalError", Message: "Unable to marshal response: " + err.Error()}
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// The export the host calls for `MODULE.handler` (docs/abi.md, section 2).
//
//go:wasmexport handler
func handlerExport(eventPtr, eventLen, ctxPtr, ctxLen uint32) int32 {
	if started == nil {
		release(eventPtr)
		sendError("Runtime.HandlerNotFound", "no handler registered: call lambdawasm.Start(yourHandler) from an init() function")
		return 1
	}
	return started.Invoke(eventPtr, eventLen, ctxPtr, ctxLen)
}

// Invoke runs one invocation on the buffer the host filled (event, then
// context) and reports its result to the host; 0 means success. Call it from
// a `//go:wasmexport` function with that export's four arguments.
func (h Handler) Invoke(eventPtr, eventLen, ctxPtr, ctxLen uint32) int32 {
	defer trapOnPanic()
	// The buffer stays pinned until the handler returns: the context is
	// copied into strings, the event decoded (copied) by the handler.
	event, context, ok := invocationBytes(eventPtr, eventLen, ctxPtr, ctxLen)
	if !ok {
		sendError("Runtime.InvalidArguments", fmt.Sprintf(
			"the host passed a buffer lambda_alloc did not return (event %d+%d, context %d+%d): guest ABI v1 mismatch",
			eventPtr, eventLen, ctxPtr, ctxLen))
		return 1
	}
	ctx := parseContext(string(context))
	response, err := h(ctx, event)
	release(eventPtr)
	if err != nil {
		reportError(err)
		return 1
	}
	sendResponse(response)
	return 0
}

// reportError sends err as the function error: its type name (or a
// FunctionError's Type), its message, and one frame per wrapped cause.
func reportError(err error) {
	errorType := errorTypeName(err)
	var named *FunctionError
	if errors.As(err, &named) {
		errorType = named.Type
	}
	sendError(errorType, err.Error())
	for cause := errors.Unwrap(err); cause != nil; cause = errors.Unwrap(cause) {
		sendStackFrame("caused by: " + cause.Error())
	}
}

// errorTypeName is the name of err's type, dereferenced once, as
// aws-lambda-go's getErrorType reports it (`errorString`, `KeyError`).
func errorTypeName(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// trapOnPanic turns a handler's panic into a trap after logging it: the
// instance may be in any state, so the host must discard it (as AWS's Go
// runtime exits after reporting a panic). runtime.Breakpoint is the Wasm
// `unreachable` instruction on GOARCH=wasm.
func trapOnPanic() {
	if value := recover(); value != nil {
		sendLog(LevelFatal, fmt.Sprintf("panic: %v\n%s", value, debug.Stack()))
		runtime.Breakpoint()
	}
}
