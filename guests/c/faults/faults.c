/* faults: one guest per failure mode the host must contain, for the
 * end-to-end tests (tests/e2e/languages.rs). The event `{"fail": MODE}`:
 *
 *   error         the function error CustomError ("the event asked for an error")
 *   trap          __builtin_trap(): the Wasm `unreachable` instruction
 *   oom           mallocs 1 MiB blocks until malloc fails, then aborts
 *   timeout       spins forever
 *   oversize      a 7 MiB JSON string (over Lambda's 6 MB response limit)
 *   invalid_json  a NaN response, which the SDK's writer refuses (JSON has no
 *                 NaN): C's way to a response that is not JSON
 *
 * Any other event is answered with itself, so a test can show the next event
 * succeeds.
 *
 * Build (from the repository root; `make guests-c` does it):
 *
 *     clang-19 --target=wasm32-wasi -mexec-model=reactor -O2 -s -I guest-sdk/c \
 *         guests/c/faults/faults.c -o target/wasm32-wasip1/guest-c/faults.wasm
 */
#define LAMBDA_WASM_IMPLEMENTATION
#include "lambda_wasm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

/* Every block stays reachable, so the allocations cannot be optimised away. */
static void **held;
static size_t held_count;

static void exhaust_memory(void) {
    for (;;) {
        void *block = malloc(MIB);
        void **more = realloc(held, (held_count + 1) * sizeof *held);
        if (!block || !more) abort(); /* out of memory: the host reports Runtime.OutOfMemory */
        memset(block, 1, MIB);
        held = more;
        held[held_count++] = block;
    }
}

static void spin_forever(void) {
    for (volatile unsigned long spins = 0;; spins++) {
    }
}

static void oversize(lambda_json_writer *response) {
    size_t len = 7 * MIB;
    char *text = lambda_scratch_alloc(len + 1);
    memset(text, 'a', len);
    text[len] = '\0';
    lambda_json_string_value_n(response, text, len);
}

static int handler(lambda_json event, const lambda_context *ctx, lambda_json_writer *response) {
    (void)ctx;
    lambda_json mode = lambda_json_get(event, "fail");
    if (lambda_json_string_equals(mode, "error"))
        return lambda_error("CustomError", "the event asked for an error");
    if (lambda_json_string_equals(mode, "trap")) __builtin_trap();
    if (lambda_json_string_equals(mode, "oom")) exhaust_memory();
    if (lambda_json_string_equals(mode, "timeout")) spin_forever();
    if (lambda_json_string_equals(mode, "oversize")) {
        oversize(response);
    } else if (lambda_json_string_equals(mode, "invalid_json")) {
        lambda_json_double_value(response, NAN);
    } else {
        lambda_json_copy_value(response, event);
    }
    return LAMBDA_OK;
}

LAMBDA_HANDLER(handler)
