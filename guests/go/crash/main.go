// crash: a handler that panics on request, to show (and test) what a Go
// panic does: the SDK logs it with its stack at FATAL and traps, the host
// reports Runtime.WasmTrap, and the next event gets a fresh instance.
//
// {"panic": "why"} panics with "why"; any other event is returned as is.
//
// Build and run (from the repository root):
//
//	make guests-go
//	echo '{"panic":"boom"}' | lambda-wasm invoke crash.handler --task-root target/wasm32-wasip1/guest-go
package main

import (
	"encoding/json"

	"lambdawasm"
)

func init() { lambdawasm.Start(handle) }

func handle(_ *lambdawasm.Context, event json.RawMessage) (json.RawMessage, error) {
	var request struct {
		Panic *string `json:"panic"`
	}
	if json.Unmarshal(event, &request) == nil && request.Panic != nil {
		panic(*request.Panic)
	}
	return event, nil
}

func main() {}
