/* fault: a guest that traps on request, for the end-to-end tests
 * (tests/languages.rs): `{"action":"trap"}` executes `unreachable`, any other
 * event is answered with itself, so a test can show the next event succeeds.
 *
 * Build (from the repository root; `make guests-c` does it):
 *
 *     clang-19 --target=wasm32-wasi -mexec-model=reactor -O2 -s -I guest-sdk/c \
 *         guests/c/fault/fault.c -o target/wasm32-wasip1/guest-c/fault.wasm
 */
#define LAMBDA_WASM_IMPLEMENTATION
#include "lambda_wasm.h"

static int handler(lambda_json event, const lambda_context *ctx, lambda_json_writer *response) {
    (void)ctx;
    if (lambda_json_string_equals(lambda_json_get(event, "action"), "trap")) __builtin_trap();
    lambda_json_copy_value(response, event);
    return LAMBDA_OK;
}

LAMBDA_HANDLER(handler)
