// faults: one guest per failure mode the host must contain, for the
// end-to-end tests (tests/e2e/languages.rs). The event {"fail": MODE}:
//
//	error         the function error CustomError ("the event asked for an error")
//	trap          a panic: the SDK logs it with its stack at FATAL and traps
//	oom           allocates 1 MiB blocks until the Go runtime runs out of memory
//	timeout       spins forever
//	oversize      a 7 MiB JSON string (over Lambda's 6 MB response limit)
//	invalid_json  the response `this is not json`, which encoding/json refuses
//
// Any other event is answered with itself, so a test can show the next event
// succeeds.
//
// Build (from the repository root): make guests-go
package main

import (
	"encoding/json"
	"strings"

	"lambdawasm"
)

// CustomError is the error the event {"fail": "error"} asks for.
type CustomError struct{}

func (*CustomError) Error() string { return "the event asked for an error" }

// held keeps every block reachable, so the allocations cannot be dropped.
var held [][]byte

// spins is global so that the endless loop has an effect the compiler keeps.
var spins uint64

func init() { lambdawasm.Start(handle) }

func handle(_ *lambdawasm.Context, event json.RawMessage) (any, error) {
	var request struct {
		Fail string `json:"fail"`
	}
	_ = json.Unmarshal(event, &request) // not an object: no fault asked for
	switch request.Fail {
	case "error":
		return nil, &CustomError{}
	case "trap":
		panic("the event asked for a trap")
	case "oom":
		for {
			block := make([]byte, 1<<20)
			for i := range block {
				block[i] = 1
			}
			held = append(held, block)
		}
	case "timeout":
		for {
			spins++
		}
	case "oversize":
		return strings.Repeat("a", 7<<20), nil
	case "invalid_json":
		return json.RawMessage("this is not json"), nil
	}
	return event, nil
}

func main() {}
