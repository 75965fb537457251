/* lambda_wasm.h: write lambda-wasm handlers in C (guest ABI v1, docs/abi.md).
 *
 * The reference implementation of ABI v1 for C-family languages, in one
 * header, stb style: every file may include it, and exactly one file of the
 * module defines LAMBDA_WASM_IMPLEMENTATION before including it.
 *
 *     #define LAMBDA_WASM_IMPLEMENTATION
 *     #include "lambda_wasm.h"
 *
 *     static int handler(lambda_json event, const lambda_context *ctx,
 *                        lambda_json_writer *response) {
 *         (void)ctx; // request id, deadline, function name...: see lambda_context
 *         const char *name = lambda_json_string(lambda_json_get(event, "name"), NULL);
 *         if (!name) return lambda_error("KeyError", "'%s'", "name");
 *         lambda_json_object_begin(response);
 *         lambda_json_key(response, "message");
 *         lambda_json_string_value(response, name);
 *         lambda_json_object_end(response);
 *         return LAMBDA_OK;
 *     }
 *     LAMBDA_HANDLER(handler)          // exports `handler`: _HANDLER=hello.handler
 *
 * Build (the module must be a WASI reactor, so that `_initialize` exists):
 *
 *     clang-19 --target=wasm32-wasi -mexec-model=reactor -O2 -s -I guest-sdk/c hello.c -o hello.wasm
 *     zig cc -target wasm32-wasi -mexec-model=reactor -O2 -s -I guest-sdk/c hello.c -o hello.wasm
 *
 * What it gives a handler:
 *   - the event, validated JSON, read lazily with lambda_json_get / _next /
 *     _string / _int64 / _double (no tree is built);
 *   - the context (lambda_context: request id, deadline, function name,
 *     version, ARN, memory, log group and stream, trace id, ...) and
 *     lambda_remaining_time_ms();
 *   - a JSON writer for the response, with correct escaping;
 *   - lambda_error() / lambda_error_frame() for Lambda's function errors;
 *   - lambda_log_info() and friends, printf-style, at Lambda's log levels;
 *   - LAMBDA_INIT(fn): fn runs once per execution environment, from
 *     `_initialize`, before the first event (the "init outside the handler"
 *     place for clients, caches and settings).
 *
 * Memory: strings returned by the reader and by lambda_scratch_alloc live
 * until the invocation ends, then are freed together. Allocation failure
 * traps (abort), which the host reports as Runtime.OutOfMemory when the
 * memory limit was the cause.
 */
#ifndef LAMBDA_WASM_H
#define LAMBDA_WASM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Handler ------------------------------------------------------------ */

/* What a handler returns: LAMBDA_OK, or the value of lambda_error(). */
enum { LAMBDA_OK = 0, LAMBDA_FAILED = 1 };

/* One JSON value inside the event: `text` points at its first byte and `len`
 * covers it exactly. `text == NULL` is "absent" (a missing member, an index
 * past the end); every reader function accepts it and answers "no". */
typedef struct lambda_json {
    const char *text;
    size_t len;
} lambda_json;

typedef struct lambda_json_writer lambda_json_writer;

/* The invocation's context (docs/abi.md section 4). Strings are never NULL:
 * a key the host left out is "". They live until the handler returns. */
typedef struct lambda_context {
    const char *aws_request_id;
    int64_t deadline_ms; /* Unix epoch milliseconds; 0 when unknown */
    const char *invoked_function_arn;
    const char *function_name;
    const char *function_version;
    int32_t memory_limit_in_mb;
    const char *log_group_name;
    const char *log_stream_name;
    const char *xray_trace_id;
    const char *cognito_identity; /* JSON text, or "" */
    const char *client_context;   /* JSON text, or "" */
    const char *tenant_id;
} lambda_context;

/* A handler: read `event`, write the response into `response` (left empty,
 * the response is `null`), return LAMBDA_OK; or return lambda_error(...). */
typedef int (*lambda_handler_fn)(lambda_json event, const lambda_context *ctx,
                                 lambda_json_writer *response);

/* Runs one invocation of `handler` on the host's buffer; LAMBDA_HANDLER's
 * export calls it. */
int32_t lambda_invoke(lambda_handler_fn handler, uint8_t *event, int32_t event_len,
                      uint8_t *ctx, int32_t ctx_len);

/* Exports `fn` (a lambda_handler_fn) under its own name, the FUNCTION part
 * of the handler string: LAMBDA_HANDLER(handler) in hello.c is `hello.handler`. */
#define LAMBDA_HANDLER(fn)                                                          \
    __attribute__((export_name(#fn))) int32_t lambda_export_##fn(                   \
        uint8_t *event, int32_t event_len, uint8_t *ctx, int32_t ctx_len) {         \
        return lambda_invoke(fn, event, event_len, ctx, ctx_len);                   \
    }

/* Runs `fn` (void fn(void)) once per execution environment, before the first
 * event: wasi-libc's reactor `_initialize` runs it with the other static
 * constructors. A fault discards the environment, and the next one runs it again. */
#define LAMBDA_INIT(fn)                                                             \
    __attribute__((constructor)) static void lambda_init_##fn(void) { fn(); }

/* Milliseconds until the invocation's deadline (0 once it has passed). */
int64_t lambda_remaining_time_ms(void);

/* ---- Errors ------------------------------------------------------------- */

/* Sets the invocation's function error, printf-style message, and returns
 * LAMBDA_FAILED for the handler to return. Clears earlier stack frames. */
int lambda_error(const char *error_type, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one line to the error's `stackTrace` (after lambda_error). */
void lambda_error_frame(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ---- Logs --------------------------------------------------------------- */

typedef enum lambda_log_level {
    LAMBDA_LOG_TRACE = 0,
    LAMBDA_LOG_DEBUG = 1,
    LAMBDA_LOG_INFO = 2,
    LAMBDA_LOG_WARN = 3,
    LAMBDA_LOG_ERROR = 4,
    LAMBDA_LOG_FATAL = 5,
} lambda_log_level;

/* Records below this level are dropped in the guest (as Python's
 * logger.setLevel); the host filters the rest by AWS_LAMBDA_LOG_LEVEL. */
extern lambda_log_level lambda_log_threshold;

/* One log record; the host adds the level, timestamp and request id. */
void lambda_log(lambda_log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#define lambda_log_trace(...) lambda_log(LAMBDA_LOG_TRACE, __VA_ARGS__)
#define lambda_log_debug(...) lambda_log(LAMBDA_LOG_DEBUG, __VA_ARGS__)
#define lambda_log_info(...) lambda_log(LAMBDA_LOG_INFO, __VA_ARGS__)
#define lambda_log_warn(...) lambda_log(LAMBDA_LOG_WARN, __VA_ARGS__)
#define lambda_log_error(...) lambda_log(LAMBDA_LOG_ERROR, __VA_ARGS__)
#define lambda_log_fatal(...) lambda_log(LAMBDA_LOG_FATAL, __VA_ARGS__)

/* ---- Scratch memory ----------------------------------------------------- */

/* `size` bytes that live until the current invocation ends (or, outside an
 * invocation, until the next one ends). Never NULL: failure traps. */
void *lambda_scratch_alloc(size_t size);

/* printf into scratch memory. */
char *lambda_scratch_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ---- Reading JSON ------------------------------------------------------- */

typedef enum lambda_json_type {
    LAMBDA_JSON_ABSENT = 0,
    LAMBDA_JSON_NULL,
    LAMBDA_JSON_BOOL,
    LAMBDA_JSON_NUMBER,
    LAMBDA_JSON_STRING,
    LAMBDA_JSON_ARRAY,
    LAMBDA_JSON_OBJECT,
} lambda_json_type;

/* Why lambda_json_parse refused its input. */
typedef struct lambda_json_error {
    const char *reason; /* e.g. "expected value" */
    size_t line, column;
} lambda_json_error;

/* Checks that `text` is exactly one JSON value (surrounding whitespace
 * allowed, nesting at most 128 deep) and returns it in `*value`. The
 * handler's event is already parsed this way. */
bool lambda_json_parse(const char *text, size_t len, lambda_json *value,
                       lambda_json_error *error);

lambda_json_type lambda_json_typeof(lambda_json value);

/* The member `key` of an object; absent when `object` is not an object or
 * has no such member (the last one wins when a key repeats, as in Python). */
lambda_json lambda_json_get(lambda_json object, const char *key);

/* Element `index` of an array; absent past the end or for a non-array. */
lambda_json lambda_json_at(lambda_json array, size_t index);

/* Iterates an array's elements or an object's members:
 *     lambda_json_iter it = lambda_json_iterate(v);
 *     lambda_json key, item;
 *     while (lambda_json_next(&it, &key, &item)) { ... }
 * `key` is the member name (a JSON string) for objects, absent for arrays;
 * it may be NULL when not wanted. */
typedef struct lambda_json_iter {
    lambda_json container;
    size_t offset;
} lambda_json_iter;
lambda_json_iter lambda_json_iterate(lambda_json container);
bool lambda_json_next(lambda_json_iter *iter, lambda_json *key, lambda_json *item);

/* A string's decoded UTF-8 text (NUL-terminated, in scratch memory), its
 * length in `*len` when `len` is not NULL (the text may hold "\u0000").
 * NULL when `value` is not a string. */
const char *lambda_json_string(lambda_json value, size_t *len);

/* Whether `value` is the string `text`. */
bool lambda_json_string_equals(lambda_json value, const char *text);

/* Whether `value` is a number written without fraction or exponent. */
bool lambda_json_is_integer(lambda_json value);

/* A number as int64 or uint64 (false when not an integer or out of range)
 * or as double (false when not a number). */
bool lambda_json_int64(lambda_json value, int64_t *out);
bool lambda_json_uint64(lambda_json value, uint64_t *out);
bool lambda_json_double(lambda_json value, double *out);

/* true/false (false when not a boolean). */
bool lambda_json_bool(lambda_json value, bool *out);

/* ---- Writing JSON ------------------------------------------------------- */

/* A growing JSON text. Calls add one token each and insert the commas and
 * colons. A zero-initialized writer writes compact JSON (`{"a":1,"b":[2]}`)
 * and leaves non-ASCII text as UTF-8, as serde_json and JSON.stringify do;
 * `.python_style = true` writes what Python's json.dumps writes by default:
 * `{"a": 1, "b": [2]}` with everything outside printable ASCII escaped as
 * lowercase \uXXXX. Free the text with lambda_json_writer_free. */
struct lambda_json_writer {
    char *data;
    size_t len, cap;
    bool python_style;
    /* Private state: nesting depth, one bit per level "a value was
     * written here", whether a key awaits its value, and the first misuse. */
    unsigned depth;
    uint64_t level_has_items;
    bool after_key;
    const char *failure;
};

void lambda_json_object_begin(lambda_json_writer *w);
void lambda_json_object_end(lambda_json_writer *w);
void lambda_json_array_begin(lambda_json_writer *w);
void lambda_json_array_end(lambda_json_writer *w);
void lambda_json_key(lambda_json_writer *w, const char *key);
void lambda_json_string_value(lambda_json_writer *w, const char *text);
void lambda_json_string_value_n(lambda_json_writer *w, const char *text, size_t len);
void lambda_json_int64_value(lambda_json_writer *w, int64_t n);
void lambda_json_uint64_value(lambda_json_writer *w, uint64_t n);
/* Shortest text that reads back as `n`, always with a fraction or exponent
 * (4.0, not 4: a float stays a float, as in Python and serde_json). NaN and
 * infinities are not JSON: they make the writer fail. */
void lambda_json_double_value(lambda_json_writer *w, double n);
void lambda_json_bool_value(lambda_json_writer *w, bool b);
void lambda_json_null_value(lambda_json_writer *w);
/* Copies a value read from JSON, re-written in this writer's style. */
void lambda_json_copy_value(lambda_json_writer *w, lambda_json value);

/* NULL when the text is one complete JSON value; else what went wrong. */
const char *lambda_json_writer_error(const lambda_json_writer *w);
void lambda_json_writer_free(lambda_json_writer *w);

#ifdef __cplusplus
}
#endif

#endif /* LAMBDA_WASM_H */

/* ======================================================================== */
#ifdef LAMBDA_WASM_IMPLEMENTATION
#ifndef LAMBDA_WASM_IMPLEMENTED
#define LAMBDA_WASM_IMPLEMENTED

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The host imports (module `lambda_wasm`) ---- */

#define LAMBDA_IMPORT(name) __attribute__((import_module("lambda_wasm"), import_name(name)))
LAMBDA_IMPORT("set_response") void lambda_host_set_response(const char *ptr, size_t len);
LAMBDA_IMPORT("set_error")
void lambda_host_set_error(const char *type, size_t type_len, const char *msg, size_t msg_len);
LAMBDA_IMPORT("add_stack_frame") void lambda_host_add_stack_frame(const char *ptr, size_t len);
LAMBDA_IMPORT("log") void lambda_host_log(int32_t level, const char *ptr, size_t len);
LAMBDA_IMPORT("remaining_time_ms") int64_t lambda_host_remaining_time_ms(void);

/* ---- The module's exports ---- */

__attribute__((export_name("lambda_abi_version"))) int32_t lambda_abi_version(void) {
    return 1;
}

/* The host writes each invocation's event and context here; lambda_invoke
 * frees the buffer when the handler is done. */
__attribute__((export_name("lambda_alloc"))) uint8_t *lambda_alloc(int32_t size) {
    return malloc(size > 0 ? (size_t)size : 1);
}

/* ---- Scratch memory: a list of blocks freed when the invocation ends ---- */

typedef struct lambda_scratch_block {
    struct lambda_scratch_block *next;
    max_align_t data[];
} lambda_scratch_block;

static lambda_scratch_block *lambda_scratch_blocks;

void *lambda_scratch_alloc(size_t size) {
    lambda_scratch_block *block = malloc(sizeof *block + size);
    if (!block) abort(); /* out of memory: trap, the host reports it */
    block->next = lambda_scratch_blocks;
    lambda_scratch_blocks = block;
    return block->data;
}

static void lambda_scratch_free_all(void) {
    while (lambda_scratch_blocks) {
        lambda_scratch_block *next = lambda_scratch_blocks->next;
        free(lambda_scratch_blocks);
        lambda_scratch_blocks = next;
    }
}

static char *lambda_scratch_vprintf(const char *format, va_list args) {
    va_list again;
    va_copy(again, args);
    int len = vsnprintf(NULL, 0, format, args);
    char *text = lambda_scratch_alloc(len > 0 ? (size_t)len + 1 : 1);
    vsnprintf(text, len > 0 ? (size_t)len + 1 : 1, format, again);
    va_end(again);
    return text;
}

char *lambda_scratch_printf(const char *format, ...) {
    va_list args;
    va_start(args, format);
    char *text = lambda_scratch_vprintf(format, args);
    va_end(args);
    return text;
}

/* ---- Errors and logs ---- */

int lambda_error(const char *error_type, const char *format, ...) {
    va_list args;
    va_start(args, format);
    const char *message = lambda_scratch_vprintf(format, args);
    va_end(args);
    lambda_host_set_error(error_type, strlen(error_type), message, strlen(message));
    return LAMBDA_FAILED;
}

void lambda_error_frame(const char *format, ...) {
    va_list args;
    va_start(args, format);
    const char *line = lambda_scratch_vprintf(format, args);
    va_end(args);
    lambda_host_add_stack_frame(line, strlen(line));
}

lambda_log_level lambda_log_threshold = LAMBDA_LOG_TRACE;

void lambda_log(lambda_log_level level, const char *format, ...) {
    if (level < lambda_log_threshold) return;
    va_list args;
    va_start(args, format);
    const char *message = lambda_scratch_vprintf(format, args);
    va_end(args);
    lambda_host_log((int32_t)level, message, strlen(message));
}

int64_t lambda_remaining_time_ms(void) { return lambda_host_remaining_time_ms(); }

/* ---- The context: `key=value` lines ---- */

/* Sets the field `key` names; unknown keys are ignored, as the ABI asks. */
static void lambda_context_set(lambda_context *ctx, const char *key, const char *value) {
    static const struct {
        const char *key;
        size_t offset;
    } text_fields[] = {
        {"aws_request_id", offsetof(lambda_context, aws_request_id)},
        {"invoked_function_arn", offsetof(lambda_context, invoked_function_arn)},
        {"function_name", offsetof(lambda_context, function_name)},
        {"function_version", offsetof(lambda_context, function_version)},
        {"log_group_name", offsetof(lambda_context, log_group_name)},
        {"log_stream_name", offsetof(lambda_context, log_stream_name)},
        {"xray_trace_id", offsetof(lambda_context, xray_trace_id)},
        {"cognito_identity", offsetof(lambda_context, cognito_identity)},
        {"client_context", offsetof(lambda_context, client_context)},
        {"tenant_id", offsetof(lambda_context, tenant_id)},
    };
    if (strcmp(key, "deadline_ms") == 0) {
        ctx->deadline_ms = strtoll(value, NULL, 10);
    } else if (strcmp(key, "memory_limit_in_mb") == 0) {
        ctx->memory_limit_in_mb = (int32_t)strtol(value, NULL, 10);
    } else {
        for (size_t i = 0; i < sizeof text_fields / sizeof text_fields[0]; i++) {
            if (strcmp(key, text_fields[i].key) == 0) {
                *(const char **)((char *)ctx + text_fields[i].offset) = value;
                return;
            }
        }
    }
}

/* Splits a copy of the context text in place: each line's `=` and `\n`
 * become NULs, and the fields point into it. */
static lambda_context lambda_context_parse(const uint8_t *bytes, size_t len) {
    lambda_context ctx = {"", 0, "", "", "", 0, "", "", "", "", "", ""};
    char *text = lambda_scratch_alloc(len + 1);
    memcpy(text, bytes, len);
    text[len] = '\0';
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        char *next = end ? end + 1 : line + strlen(line);
        if (end) *end = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            lambda_context_set(&ctx, line, eq + 1);
        }
        line = next;
    }
    return ctx;
}

/* ---- One invocation ---- */

int32_t lambda_invoke(lambda_handler_fn handler, uint8_t *event, int32_t event_len,
                      uint8_t *ctx_bytes, int32_t ctx_len) {
    lambda_context ctx = lambda_context_parse(ctx_bytes, (size_t)ctx_len);
    lambda_json parsed;
    lambda_json_error bad;
    int32_t status;
    if (!lambda_json_parse((const char *)event, (size_t)event_len, &parsed, &bad)) {
        /* The wording of Lambda's managed runtimes (and the Rust SDK). */
        status = lambda_error("Runtime.UnmarshalError",
                              "Unable to unmarshal input: %s at line %zu column %zu",
                              bad.reason, bad.line, bad.column);
    } else {
        lambda_json_writer response = {0};
        status = handler(parsed, &ctx, &response);
        /* Nothing written (and nothing failed) is the response `null`. */
        if (status == LAMBDA_OK && (response.len > 0 || response.failure)) {
            const char *invalid = lambda_json_writer_error(&response);
            if (invalid)
                status = lambda_error("Runtime.MarshalError", "Unable to marshal response: %s",
                                      invalid);
            else
                lambda_host_set_response(response.data, response.len);
        }
        lambda_json_writer_free(&response);
    }
    /* The buffer from lambda_alloc holds the event then the context. */
    free(event);
    lambda_scratch_free_all();
    return status;
}

/* ---- JSON reader ---- */

#define LAMBDA_JSON_MAX_DEPTH 128

/* A cursor over JSON text; `reason` is set at the first error. */
typedef struct lambda_json_cursor {
    const char *text;
    size_t len, pos;
    const char *reason;
} lambda_json_cursor;

static void lambda_json_skip_space(lambda_json_cursor *c) {
    while (c->pos < c->len && strchr(" \t\r\n", c->text[c->pos]) && c->text[c->pos])
        c->pos++;
}

static bool lambda_json_fail(lambda_json_cursor *c, const char *reason) {
    if (!c->reason) c->reason = reason;
    return false;
}

static bool lambda_json_literal(lambda_json_cursor *c, const char *word) {
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->text + c->pos, word, n) != 0)
        return lambda_json_fail(c, "expected value");
    c->pos += n;
    return true;
}

static bool lambda_json_is_digit(lambda_json_cursor *c) {
    return c->pos < c->len && c->text[c->pos] >= '0' && c->text[c->pos] <= '9';
}

static bool lambda_json_scan_number(lambda_json_cursor *c) {
    if (c->text[c->pos] == '-') c->pos++;
    if (!lambda_json_is_digit(c)) return lambda_json_fail(c, "invalid number");
    if (c->text[c->pos] == '0') c->pos++;
    else while (lambda_json_is_digit(c)) c->pos++;
    if (c->pos < c->len && c->text[c->pos] == '.') {
        c->pos++;
        if (!lambda_json_is_digit(c)) return lambda_json_fail(c, "invalid number");
        while (lambda_json_is_digit(c)) c->pos++;
    }
    if (c->pos < c->len && (c->text[c->pos] == 'e' || c->text[c->pos] == 'E')) {
        c->pos++;
        if (c->pos < c->len && (c->text[c->pos] == '+' || c->text[c->pos] == '-')) c->pos++;
        if (!lambda_json_is_digit(c)) return lambda_json_fail(c, "invalid number");
        while (lambda_json_is_digit(c)) c->pos++;
    }
    return true;
}

static int lambda_json_hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after `\u` at c->pos. */
static bool lambda_json_scan_hex4(lambda_json_cursor *c, uint32_t *unit) {
    *unit = 0;
    for (int i = 0; i < 4; i++, c->pos++) {
        int digit = c->pos < c->len ? lambda_json_hex_digit(c->text[c->pos]) : -1;
        if (digit < 0) return lambda_json_fail(c, "invalid escape");
        *unit = *unit * 16 + (uint32_t)digit;
    }
    return true;
}

/* Scans a string at c->pos (its opening quote); with `out` set, also writes
 * the decoded UTF-8 there (never longer than the literal). Lone surrogates
 * decode to U+FFFD, as the bytes they stand for cannot be UTF-8. */
static bool lambda_json_scan_string(lambda_json_cursor *c, char *out, size_t *out_len) {
    size_t n = 0;
    c->pos++;
    for (;;) {
        if (c->pos >= c->len) return lambda_json_fail(c, "EOF while parsing a string");
        unsigned char ch = (unsigned char)c->text[c->pos++];
        if (ch == '"') break;
        if (ch < 0x20) return lambda_json_fail(c, "control character in string");
        if (ch != '\\') {
            if (out) out[n] = (char)ch;
            n++;
            continue;
        }
        if (c->pos >= c->len) return lambda_json_fail(c, "EOF while parsing a string");
        char esc = c->text[c->pos++];
        const char *simple = strchr("\"\\/bfnrt", esc);
        if (simple && esc) {
            if (out) out[n] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            n++;
            continue;
        }
        if (esc != 'u') return lambda_json_fail(c, "invalid escape");
        uint32_t cp;
        if (!lambda_json_scan_hex4(c, &cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00 && c->len - c->pos >= 6 &&
            c->text[c->pos] == '\\' && c->text[c->pos + 1] == 'u') {
            lambda_json_cursor low = *c;
            low.pos += 2;
            uint32_t unit;
            if (lambda_json_scan_hex4(&low, &unit) && unit >= 0xDC00 && unit < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (unit - 0xDC00);
                c->pos = low.pos;
            }
        }
        if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
        char utf8[4];
        size_t units = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (units == 1) utf8[0] = (char)cp;
        else {
            static const unsigned char lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
            for (size_t i = units - 1; i > 0; i--, cp >>= 6) utf8[i] = (char)(0x80 | (cp & 0x3F));
            utf8[0] = (char)(lead[units] | cp);
        }
        if (out) memcpy(out + n, utf8, units);
        n += units;
    }
    if (out_len) *out_len = n;
    return true;
}

static bool lambda_json_scan_value(lambda_json_cursor *c, int depth);

/* Scans an array or object at c->pos (its opening bracket). */
static bool lambda_json_scan_container(lambda_json_cursor *c, int depth) {
    if (depth >= LAMBDA_JSON_MAX_DEPTH) return lambda_json_fail(c, "recursion limit exceeded");
    char close = c->text[c->pos] == '[' ? ']' : '}';
    c->pos++;
    lambda_json_skip_space(c);
    if (c->pos < c->len && c->text[c->pos] == close) {
        c->pos++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (c->pos >= c->len || c->text[c->pos] != '"')
                return lambda_json_fail(c, "key must be a string");
            if (!lambda_json_scan_string(c, NULL, NULL)) return false;
            lambda_json_skip_space(c);
            if (c->pos >= c->len || c->text[c->pos] != ':')
                return lambda_json_fail(c, "expected `:`");
            c->pos++;
        }
        if (!lambda_json_scan_value(c, depth + 1)) return false;
        lambda_json_skip_space(c);
        if (c->pos < c->len && c->text[c->pos] == ',') {
            c->pos++;
            lambda_json_skip_space(c);
        } else if (c->pos < c->len && c->text[c->pos] == close) {
            c->pos++;
            return true;
        } else {
            return lambda_json_fail(c, close == ']' ? "expected `,` or `]`" : "expected `,` or `}`");
        }
    }
}

/* Scans one value at c->pos (leading whitespace allowed). */
static bool lambda_json_scan_value(lambda_json_cursor *c, int depth) {
    lambda_json_skip_space(c);
    if (c->pos >= c->len) return lambda_json_fail(c, "EOF while parsing a value");
    switch (c->text[c->pos]) {
    case '{':
    case '[': return lambda_json_scan_container(c, depth);
    case '"': return lambda_json_scan_string(c, NULL, NULL);
    case 't': return lambda_json_literal(c, "true");
    case 'f': return lambda_json_literal(c, "false");
    case 'n': return lambda_json_literal(c, "null");
    default: return lambda_json_scan_number(c);
    }
}

bool lambda_json_parse(const char *text, size_t len, lambda_json *value,
                       lambda_json_error *error) {
    lambda_json_cursor c = {text, len, 0, NULL};
    bool ok = lambda_json_scan_value(&c, 0);
    size_t start = 0;
    if (ok) {
        lambda_json_cursor lead = {text, len, 0, NULL};
        lambda_json_skip_space(&lead);
        start = lead.pos;
        value->text = text + start;
        value->len = c.pos - start;
        lambda_json_skip_space(&c);
        ok = c.pos == len || lambda_json_fail(&c, "trailing characters");
    }
    if (!ok && error) {
        error->reason = c.reason;
        error->line = 1;
        error->column = 1;
        for (size_t i = 0; i < c.pos && i < len; i++) {
            if (text[i] == '\n') error->line++, error->column = 1;
            else error->column++;
        }
    }
    return ok;
}

lambda_json_type lambda_json_typeof(lambda_json value) {
    if (!value.text || value.len == 0) return LAMBDA_JSON_ABSENT;
    switch (value.text[0]) {
    case 'n': return LAMBDA_JSON_NULL;
    case 't':
    case 'f': return LAMBDA_JSON_BOOL;
    case '"': return LAMBDA_JSON_STRING;
    case '[': return LAMBDA_JSON_ARRAY;
    case '{': return LAMBDA_JSON_OBJECT;
    default: return LAMBDA_JSON_NUMBER;
    }
}

lambda_json_iter lambda_json_iterate(lambda_json container) {
    lambda_json_type type = lambda_json_typeof(container);
    bool iterable = type == LAMBDA_JSON_ARRAY || type == LAMBDA_JSON_OBJECT;
    lambda_json_iter iter = {iterable ? container : (lambda_json){NULL, 0}, 1};
    return iter;
}

/* The values handed out were validated by lambda_json_parse, so scanning
 * them again cannot fail. */
bool lambda_json_next(lambda_json_iter *iter, lambda_json *key, lambda_json *item) {
    lambda_json_cursor c = {iter->container.text, iter->container.len, iter->offset, NULL};
    if (!c.text) return false;
    lambda_json_skip_space(&c);
    if (c.text[c.pos] == ',') c.pos++, lambda_json_skip_space(&c);
    if (c.pos >= c.len - 1) return false; /* at the closing bracket */
    lambda_json found_key = {NULL, 0};
    if (c.text[0] == '{') {
        found_key.text = c.text + c.pos;
        lambda_json_scan_string(&c, NULL, NULL);
        found_key.len = (size_t)(c.text + c.pos - found_key.text);
        lambda_json_skip_space(&c);
        c.pos++; /* the colon */
        lambda_json_skip_space(&c);
    }
    size_t start = c.pos;
    lambda_json_scan_value(&c, 0);
    if (key) *key = found_key;
    if (item) *item = (lambda_json){c.text + start, c.pos - start};
    iter->offset = c.pos;
    return true;
}

lambda_json lambda_json_get(lambda_json object, const char *key) {
    lambda_json found = {NULL, 0}, name, item;
    if (lambda_json_typeof(object) != LAMBDA_JSON_OBJECT) return found;
    lambda_json_iter iter = lambda_json_iterate(object);
    while (lambda_json_next(&iter, &name, &item))
        if (lambda_json_string_equals(name, key)) found = item;
    return found;
}

lambda_json lambda_json_at(lambda_json array, size_t index) {
    lambda_json item;
    if (lambda_json_typeof(array) != LAMBDA_JSON_ARRAY) return (lambda_json){NULL, 0};
    lambda_json_iter iter = lambda_json_iterate(array);
    while (lambda_json_next(&iter, NULL, &item))
        if (index-- == 0) return item;
    return (lambda_json){NULL, 0};
}

const char *lambda_json_string(lambda_json value, size_t *len) {
    if (lambda_json_typeof(value) != LAMBDA_JSON_STRING) return NULL;
    char *text = lambda_scratch_alloc(value.len); /* decoding never grows it */
    size_t n = 0;
    lambda_json_cursor c = {value.text, value.len, 0, NULL};
    lambda_json_scan_string(&c, text, &n);
    text[n] = '\0';
    if (len) *len = n;
    return text;
}

bool lambda_json_string_equals(lambda_json value, const char *text) {
    size_t len;
    const char *decoded = lambda_json_string(value, &len);
    return decoded && len == strlen(text) && memcmp(decoded, text, len) == 0;
}

bool lambda_json_is_integer(lambda_json value) {
    return lambda_json_typeof(value) == LAMBDA_JSON_NUMBER &&
           !memchr(value.text, '.', value.len) && !memchr(value.text, 'e', value.len) &&
           !memchr(value.text, 'E', value.len);
}

/* A number's literal as a C string (the value is not NUL-terminated). */
static const char *lambda_json_number_text(lambda_json value) {
    char *text = lambda_scratch_alloc(value.len + 1);
    memcpy(text, value.text, value.len);
    text[value.len] = '\0';
    return text;
}

bool lambda_json_int64(lambda_json value, int64_t *out) {
    if (!lambda_json_is_integer(value)) return false;
    errno = 0;
    long long n = strtoll(lambda_json_number_text(value), NULL, 10);
    if (errno == ERANGE) return false;
    *out = n;
    return true;
}

bool lambda_json_uint64(lambda_json value, uint64_t *out) {
    if (!lambda_json_is_integer(value) || value.text[0] == '-') return false;
    errno = 0;
    unsigned long long n = strtoull(lambda_json_number_text(value), NULL, 10);
    if (errno == ERANGE) return false;
    *out = n;
    return true;
}

bool lambda_json_double(lambda_json value, double *out) {
    if (lambda_json_typeof(value) != LAMBDA_JSON_NUMBER) return false;
    *out = strtod(lambda_json_number_text(value), NULL);
    return true;
}

bool lambda_json_bool(lambda_json value, bool *out) {
    if (lambda_json_typeof(value) != LAMBDA_JSON_BOOL) return false;
    *out = value.text[0] == 't';
    return true;
}

/* ---- JSON writer ---- */

#define LAMBDA_JSON_WRITER_MAX_DEPTH 64 /* one bit each in level_has_items */

static void lambda_json_writer_fail(lambda_json_writer *w, const char *why) {
    if (!w->failure) w->failure = why;
}

static void lambda_json_append(lambda_json_writer *w, const char *bytes, size_t n) {
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n) cap *= 2;
        char *grown = realloc(w->data, cap);
        if (!grown) abort(); /* out of memory: trap, the host reports it */
        w->data = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->len, bytes, n);
    w->len += n;
}

static void lambda_json_append_str(lambda_json_writer *w, const char *text) {
    lambda_json_append(w, text, strlen(text));
}

/* Called before every value: the comma between siblings, and the check that
 * a value is allowed here. */
static void lambda_json_before_value(lambda_json_writer *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0) {
        if (w->len > 0) lambda_json_writer_fail(w, "more than one top-level value");
        return;
    }
    uint64_t bit = 1ull << (w->depth - 1);
    if (w->level_has_items & bit) lambda_json_append_str(w, w->python_style ? ", " : ",");
    w->level_has_items |= bit;
}

static void lambda_json_open(lambda_json_writer *w, char bracket) {
    lambda_json_before_value(w);
    if (w->depth == LAMBDA_JSON_WRITER_MAX_DEPTH) {
        lambda_json_writer_fail(w, "nesting deeper than 64 levels");
        return;
    }
    lambda_json_append(w, &bracket, 1);
    w->depth++;
    w->level_has_items &= ~(1ull << (w->depth - 1));
}

static void lambda_json_close(lambda_json_writer *w, char bracket) {
    if (w->depth == 0 || w->after_key) {
        lambda_json_writer_fail(w, "unbalanced end of object or array");
        return;
    }
    lambda_json_append(w, &bracket, 1);
    w->depth--;
}

void lambda_json_object_begin(lambda_json_writer *w) { lambda_json_open(w, '{'); }
void lambda_json_object_end(lambda_json_writer *w) { lambda_json_close(w, '}'); }
void lambda_json_array_begin(lambda_json_writer *w) { lambda_json_open(w, '['); }
void lambda_json_array_end(lambda_json_writer *w) { lambda_json_close(w, ']'); }

/* Decodes one UTF-8 sequence at text[*i] (invalid bytes as U+FFFD). */
static uint32_t lambda_utf8_next(const unsigned char *text, size_t len, size_t *i) {
    unsigned char b = text[(*i)++];
    size_t extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0;
    if (b < 0x80) return b;
    if (extra == 0 || *i + extra > len) return 0xFFFD;
    uint32_t cp = b & (0x3F >> extra);
    for (size_t k = 0; k < extra; k++) {
        if ((text[*i + k] & 0xC0) != 0x80) return 0xFFFD;
        cp = (cp << 6) | (text[*i + k] & 0x3F);
    }
    *i += extra;
    return cp;
}

static void lambda_json_append_unit(lambda_json_writer *w, uint32_t unit) {
    char escape[7];
    snprintf(escape, sizeof escape, "\\u%04x", (unsigned)unit);
    lambda_json_append(w, escape, 6);
}

/* A string literal: `"` `\` and control characters escaped everywhere; in
 * python_style also everything outside printable ASCII, as UTF-16 units. */
static void lambda_json_append_quoted(lambda_json_writer *w, const char *text, size_t len) {
    const unsigned char *bytes = (const unsigned char *)text;
    lambda_json_append(w, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char b = bytes[i];
        const char *short_escape = b == '"'    ? "\\\""
                                   : b == '\\' ? "\\\\"
                                   : b == '\n' ? "\\n"
                                   : b == '\r' ? "\\r"
                                   : b == '\t' ? "\\t"
                                   : b == '\b' ? "\\b"
                                   : b == '\f' ? "\\f"
                                               : NULL;
        if (short_escape) {
            lambda_json_append_str(w, short_escape);
            i++;
        } else if (b < 0x20 || (w->python_style && b == 0x7F)) {
            lambda_json_append_unit(w, b);
            i++;
        } else if (b < 0x80 || !w->python_style) {
            lambda_json_append(w, text + i, 1);
            i++;
        } else {
            uint32_t cp = lambda_utf8_next(bytes, len, &i);
            if (cp >= 0x10000) {
                lambda_json_append_unit(w, 0xD800 + ((cp - 0x10000) >> 10));
                lambda_json_append_unit(w, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                lambda_json_append_unit(w, cp);
            }
        }
    }
    lambda_json_append(w, "\"", 1);
}

void lambda_json_key(lambda_json_writer *w, const char *key) {
    if (w->depth == 0 || w->after_key) {
        lambda_json_writer_fail(w, "a key outside an object");
        return;
    }
    lambda_json_before_value(w);
    lambda_json_append_quoted(w, key, strlen(key));
    lambda_json_append_str(w, w->python_style ? ": " : ":");
    w->after_key = true;
}

void lambda_json_string_value_n(lambda_json_writer *w, const char *text, size_t len) {
    lambda_json_before_value(w);
    lambda_json_append_quoted(w, text, len);
}

void lambda_json_string_value(lambda_json_writer *w, const char *text) {
    lambda_json_string_value_n(w, text, strlen(text));
}

void lambda_json_int64_value(lambda_json_writer *w, int64_t n) {
    char digits[24];
    lambda_json_before_value(w);
    lambda_json_append(w, digits, (size_t)snprintf(digits, sizeof digits, "%lld", (long long)n));
}

void lambda_json_uint64_value(lambda_json_writer *w, uint64_t n) {
    char digits[24];
    lambda_json_before_value(w);
    lambda_json_append(w, digits,
                       (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)n));
}

void lambda_json_double_value(lambda_json_writer *w, double n) {
    lambda_json_before_value(w);
    if (!isfinite(n)) {
        lambda_json_writer_fail(w, "NaN or infinity is not JSON");
        return;
    }
    char text[32];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, n);
        if (strtod(text, NULL) == n) break;
    }
    if (!strpbrk(text, ".e")) strcat(text, ".0");
    lambda_json_append_str(w, text);
}

void lambda_json_bool_value(lambda_json_writer *w, bool b) {
    lambda_json_before_value(w);
    lambda_json_append_str(w, b ? "true" : "false");
}

void lambda_json_null_value(lambda_json_writer *w) {
    lambda_json_before_value(w);
    lambda_json_append_str(w, "null");
}

void lambda_json_copy_value(lambda_json_writer *w, lambda_json value) {
    lambda_json key, item;
    lambda_json_iter iter = lambda_json_iterate(value);
    size_t len;
    switch (lambda_json_typeof(value)) {
    case LAMBDA_JSON_ABSENT: lambda_json_writer_fail(w, "copy of an absent value"); break;
    case LAMBDA_JSON_STRING: {
        const char *text = lambda_json_string(value, &len);
        lambda_json_string_value_n(w, text, len);
        break;
    }
    case LAMBDA_JSON_ARRAY:
        lambda_json_array_begin(w);
        while (lambda_json_next(&iter, NULL, &item)) lambda_json_copy_value(w, item);
        lambda_json_array_end(w);
        break;
    case LAMBDA_JSON_OBJECT:
        lambda_json_object_begin(w);
        while (lambda_json_next(&iter, &key, &item)) {
            lambda_json_key(w, lambda_json_string(key, NULL));
            lambda_json_copy_value(w, item);
        }
        lambda_json_object_end(w);
        break;
    default: /* null, booleans and numbers: their literal text */
        lambda_json_before_value(w);
        lambda_json_append(w, value.text, value.len);
    }
}

const char *lambda_json_writer_error(const lambda_json_writer *w) {
    if (w->failure) return w->failure;
    if (w->len == 0) return "no value written";
    if (w->depth > 0 || w->after_key) return "unfinished object or array";
    return NULL;
}

void lambda_json_writer_free(lambda_json_writer *w) {
    free(w->data);
    *w = (lambda_json_writer){.python_style = w->python_style};
}

#endif /* LAMBDA_WASM_IMPLEMENTED */
#endif /* LAMBDA_WASM_IMPLEMENTATION */
