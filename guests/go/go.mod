// The Go example handlers, one reactor module per folder; `make guests-go`
// builds them to target/wasm32-wasip1/guest-go/<name>.wasm.
module guests

go 1.24

require lambdawasm v0.0.0

replace lambdawasm => ../../guest-sdk/go
