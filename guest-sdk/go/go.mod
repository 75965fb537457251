// The lambda-wasm guest SDK for Go (package lambdawasm): guest ABI v1,
// docs/abi.md. Guests require it through a replace directive, as
// guests/go/go.mod does. Build a guest with `make guests-go`.
module lambdawasm

go 1.24
