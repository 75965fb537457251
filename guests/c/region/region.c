/* region: the seed's Python `region` handler, ported to C.
 *
 *     def lambda_handler(event, context):
 *         json_region = os.environ['AWS_REGION']
 *         return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
 *                 "body": json.dumps({"Region ": json_region})}
 *
 * The body is byte-identical to Python's json.dumps (`{"Region ": "us-east-1"}`:
 * the key's trailing space, the `": "` separator, non-ASCII as \uXXXX), which
 * the SDK's python_style writer produces. Without AWS_REGION the function
 * error is Python's: errorType `KeyError`, errorMessage `'AWS_REGION'`.
 *
 * Build and run (from the repository root; `make guests-c` does the build):
 *
 *     clang-19 --target=wasm32-wasi -mexec-model=reactor -O2 -s -I guest-sdk/c \
 *         guests/c/region/region.c -o target/wasm32-wasip1/guest-c/region.wasm
 *     lambda-wasm invoke region.handler --task-root target/wasm32-wasip1/guest-c \
 *         --event guests/events/region.json --env AWS_REGION=eu-west-1
 */
#define LAMBDA_WASM_IMPLEMENTATION
#include "lambda_wasm.h"

#include <stdlib.h>

static int handler(lambda_json event, const lambda_context *ctx, lambda_json_writer *response) {
    (void)event, (void)ctx;
    const char *region = getenv("AWS_REGION");
    if (!region) return lambda_error("KeyError", "'AWS_REGION'");

    lambda_json_writer body = {.python_style = true};
    lambda_json_object_begin(&body);
    lambda_json_key(&body, "Region ");
    lambda_json_string_value(&body, region);
    lambda_json_object_end(&body);

    lambda_json_object_begin(response);
    lambda_json_key(response, "statusCode");
    lambda_json_int64_value(response, 200);
    lambda_json_key(response, "headers");
    lambda_json_object_begin(response);
    lambda_json_key(response, "Content-Type");
    lambda_json_string_value(response, "application/json");
    lambda_json_object_end(response);
    lambda_json_key(response, "body");
    lambda_json_string_value_n(response, body.data, body.len);
    lambda_json_object_end(response);
    lambda_json_writer_free(&body);
    return LAMBDA_OK;
}

LAMBDA_HANDLER(handler)
