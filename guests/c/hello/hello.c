/* hello: the seed's Python `hello` handler, ported to C.
 *
 *     def lambda_handler(event, context):
 *         message = 'Hello {} {}!'.format(event['first_name'], event['last_name'])
 *         return {'message': message}
 *
 * `{"first_name":"John","last_name":"Smith"}` gives
 * `{"message":"Hello John Smith!"}`; a missing key is the function error
 * Python raises: errorType `KeyError`, errorMessage `'first_name'`.
 *
 * Build and run (from the repository root; `make guests-c` does the build):
 *
 *     clang-19 --target=wasm32-wasi -mexec-model=reactor -O2 -s -I guest-sdk/c \
 *         guests/c/hello/hello.c -o target/wasm32-wasip1/guest-c/hello.wasm
 *     lambda-wasm invoke hello.handler --task-root target/wasm32-wasip1/guest-c --event guests/events/hello.json
 */
#define LAMBDA_WASM_IMPLEMENTATION
#include "lambda_wasm.h"

#include <string.h>

/* Python's str() of a JSON value, for '{}'.format(value). */
static const char *python_str(lambda_json value) {
    bool b;
    switch (lambda_json_typeof(value)) {
    case LAMBDA_JSON_STRING: return lambda_json_string(value, NULL);
    case LAMBDA_JSON_NULL: return "None";
    case LAMBDA_JSON_BOOL: return lambda_json_bool(value, &b) && b ? "True" : "False";
    default: {
        /* numbers, lists and dicts: their compact JSON, as the Rust port prints them */
        lambda_json_writer w = {0};
        lambda_json_copy_value(&w, value);
        char *text = lambda_scratch_printf("%.*s", (int)w.len, w.data);
        lambda_json_writer_free(&w);
        return text;
    }
    }
}

static int handler(lambda_json event, const lambda_context *ctx, lambda_json_writer *response) {
    (void)ctx;
    static const char *const keys[] = {"first_name", "last_name"};
    const char *names[2];
    for (int i = 0; i < 2; i++) {
        lambda_json value = lambda_json_get(event, keys[i]);
        if (lambda_json_typeof(value) == LAMBDA_JSON_ABSENT)
            return lambda_error("KeyError", "'%s'", keys[i]);
        names[i] = python_str(value);
    }
    lambda_json_object_begin(response);
    lambda_json_key(response, "message");
    lambda_json_string_value(response, lambda_scratch_printf("Hello %s %s!", names[0], names[1]));
    lambda_json_object_end(response);
    return LAMBDA_OK;
}

LAMBDA_HANDLER(handler)
