/* increment: the seed's Python `increment` handler, ported to C.
 *
 *     logger = logging.getLogger()
 *     logger.setLevel(logging.INFO)
 *
 *     def lambda_handler(event, context):
 *         result = None
 *         action = event.get('action')
 *         if action == 'increment':
 *             result = event.get('number', 0) + 1
 *             logger.info('Calculated result of %s', result)
 *         else:
 *             logger.error("%s is not a valid action.", action)
 *         return {'result': result}
 *
 * `{"action":"increment","number":3}` gives `{"result":4}` and the INFO record
 * `Calculated result of 4`; any other action gives `{"result":null}` and the
 * ERROR record `<action> is not a valid action.` (`None` without an action).
 * Integers stay integers, floats stay floats; adding 1 to a non-number is
 * Python's TypeError, as in the Rust port.
 *
 * Build and run (from the repository root; `make guests-c` does the build):
 *
 *     clang-19 --target=wasm32-wasi -mexec-model=reactor -O2 -s -I guest-sdk/c \
 *         guests/c/increment/increment.c -o target/wasm32-wasip1/guest-c/increment.wasm
 *     lambda-wasm invoke increment.handler --task-root target/wasm32-wasip1/guest-c --event guests/events/increment.json
 */
#define LAMBDA_WASM_IMPLEMENTATION
#include "lambda_wasm.h"

#include <stdint.h>
#include <string.h>

/* logger.setLevel(logging.INFO), once per execution environment. */
static void set_log_level(void) { lambda_log_threshold = LAMBDA_LOG_INFO; }
LAMBDA_INIT(set_log_level)

/* The Python type name of a JSON value. */
static const char *python_type(lambda_json value) {
    switch (lambda_json_typeof(value)) {
    case LAMBDA_JSON_NULL: return "NoneType";
    case LAMBDA_JSON_BOOL: return "bool";
    case LAMBDA_JSON_NUMBER: return lambda_json_is_integer(value) ? "int" : "float";
    case LAMBDA_JSON_STRING: return "str";
    case LAMBDA_JSON_ARRAY: return "list";
    default: return "dict";
    }
}

/* Python's repr() of a string: single quotes, `\` and `'` escaped. */
static const char *python_quote(const char *text) {
    char *quoted = lambda_scratch_alloc(2 * strlen(text) + 3), *out = quoted;
    *out++ = '\'';
    for (; *text; text++) {
        if (*text == '\\' || *text == '\'') *out++ = '\\';
        *out++ = *text;
    }
    *out++ = '\'';
    *out = '\0';
    return quoted;
}

/* Python's repr() of a JSON value (close enough for log messages). */
static const char *python_repr(lambda_json value) {
    bool b;
    lambda_json key, item;
    lambda_json_iter iter = lambda_json_iterate(value);
    const char *text = "", *separator = "";
    switch (lambda_json_typeof(value)) {
    case LAMBDA_JSON_NULL: return "None";
    case LAMBDA_JSON_BOOL: return lambda_json_bool(value, &b) && b ? "True" : "False";
    case LAMBDA_JSON_STRING: return python_quote(lambda_json_string(value, NULL));
    case LAMBDA_JSON_ARRAY:
        while (lambda_json_next(&iter, NULL, &item)) {
            text = lambda_scratch_printf("%s%s%s", text, separator, python_repr(item));
            separator = ", ";
        }
        return lambda_scratch_printf("[%s]", text);
    case LAMBDA_JSON_OBJECT:
        while (lambda_json_next(&iter, &key, &item)) {
            text = lambda_scratch_printf("%s%s%s: %s", text, separator, python_repr(key),
                                         python_repr(item));
            separator = ", ";
        }
        return lambda_scratch_printf("{%s}", text);
    default: return lambda_scratch_printf("%.*s", (int)value.len, value.text);
    }
}

/* Python's str() of a JSON value, for %s. */
static const char *python_str(lambda_json value) {
    const char *text = lambda_json_string(value, NULL);
    return text ? text : python_repr(value);
}

/* Writes Python's `value + 1` into `sum`: ints stay ints (bools count as
 * ints; past int64 the sum is a uint64, past that a float, as in the Rust
 * port), floats stay floats; anything else is Python's TypeError. */
static int add_one(lambda_json value, lambda_json_writer *sum) {
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    switch (lambda_json_typeof(value)) {
    case LAMBDA_JSON_NUMBER:
        if (lambda_json_int64(value, &i) && i < INT64_MAX) lambda_json_int64_value(sum, i + 1);
        else if (lambda_json_uint64(value, &u) && u < UINT64_MAX) lambda_json_uint64_value(sum, u + 1);
        else if (lambda_json_double(value, &d)) lambda_json_double_value(sum, d + 1.0);
        return LAMBDA_OK;
    case LAMBDA_JSON_BOOL:
        lambda_json_bool(value, &b);
        lambda_json_int64_value(sum, b + 1);
        return LAMBDA_OK;
    case LAMBDA_JSON_STRING:
        return lambda_error("TypeError", "can only concatenate str (not \"int\") to str");
    case LAMBDA_JSON_ARRAY:
        return lambda_error("TypeError", "can only concatenate list (not \"int\") to list");
    default:
        return lambda_error("TypeError", "unsupported operand type(s) for +: '%s' and 'int'",
                            python_type(value));
    }
}

static int handler(lambda_json event, const lambda_context *ctx, lambda_json_writer *response) {
    (void)ctx;
    if (lambda_json_typeof(event) != LAMBDA_JSON_OBJECT)
        return lambda_error("AttributeError", "'%s' object has no attribute 'get'",
                            python_type(event));
    lambda_json action = lambda_json_get(event, "action");
    lambda_json_object_begin(response);
    lambda_json_key(response, "result");
    if (lambda_json_string_equals(action, "increment")) {
        lambda_json number = lambda_json_get(event, "number");
        lambda_json_writer sum = {0};
        if (lambda_json_typeof(number) == LAMBDA_JSON_ABSENT) lambda_json_int64_value(&sum, 1);
        else if (add_one(number, &sum) != LAMBDA_OK) return LAMBDA_FAILED;
        lambda_log_info("Calculated result of %.*s", (int)sum.len, sum.data);
        lambda_json result;
        lambda_json_parse(sum.data, sum.len, &result, NULL);
        lambda_json_copy_value(response, result);
        lambda_json_writer_free(&sum);
    } else {
        const char *shown = lambda_json_typeof(action) == LAMBDA_JSON_ABSENT ? "None" : python_str(action);
        lambda_log_error("%s is not a valid action.", shown);
        lambda_json_null_value(response);
    }
    lambda_json_object_end(response);
    return LAMBDA_OK;
}

LAMBDA_HANDLER(handler)
