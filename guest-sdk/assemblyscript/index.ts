// The lambda-wasm guest SDK for AssemblyScript: guest ABI v1 (docs/abi.md)
// in AssemblyScript's idiom. A handler module re-exports the ABI and exports
// its handler:
//
//   import { Context, JSON, Result, invoke } from "../../../guest-sdk/assemblyscript";
//   export { lambda_abi_version, lambda_alloc } from "../../../guest-sdk/assemblyscript";
//
//   export function handler(eventPtr: usize, eventLen: usize, ctxPtr: usize, ctxLen: usize): i32 {
//     return invoke(eventPtr, eventLen, ctxPtr, ctxLen, greet); // handler string MODULE.handler
//   }
//
// Build (what `make guests-as` runs, from the repository root, where the
// compiler, @assemblyscript/wasi-shim and assemblyscript-json are installed
// in .tools/as):
//
//   .tools/as/node_modules/.bin/asc guests/assemblyscript/hello/index.ts \
//     --config guest-sdk/assemblyscript/asconfig.json -o hello.wasm
//
// asconfig.json is wasi-shim's configuration with two changes:
// `exportStart: _initialize` makes a WASI reactor, whose top-level
// statements (every file's) run once per execution environment, so
// module-level `let`s and `const`s are the place for init-once state; and
// `abort` is trapWithMessage below, so a failed assertion or a `throw`
// (AssemblyScript has no catch) is logged and traps, the host reports
// Runtime.WasmTrap and gives the next event a fresh instance, where
// wasi-shim's abort would exit with status 255.

import { JSON } from "assemblyscript-json/assembly";

export { JSON };

// ---------------------------------------------------------------------------
// The ABI's exports (re-export them from the module's entry file)

/** The guest ABI version this SDK speaks. */
export function lambda_abi_version(): i32 {
  return 1;
}

/** Buffers handed to the host, kept reachable (the collector never moves
 * objects but frees unreachable ones) until the invocation is done. */
const pinned = new Map<usize, ArrayBuffer>();

/** `size` writable bytes that stay put until the invocation releases them. */
export function lambda_alloc(size: i32): usize {
  // A zero-length event and context still needs a distinct non-zero address.
  const buffer = new ArrayBuffer(max(size, 1));
  const ptr = changetype<usize>(buffer);
  pinned.set(ptr, buffer);
  return ptr;
}

// ---------------------------------------------------------------------------
// The host's imports (module lambda_wasm)

// @ts-ignore: decorator
@external("lambda_wasm", "set_response")
declare function set_response(ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("lambda_wasm", "set_error")
declare function set_error(typePtr: usize, typeLen: usize, msgPtr: usize, msgLen: usize): void;

// @ts-ignore: decorator
@external("lambda_wasm", "add_stack_frame")
declare function add_stack_frame(ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("lambda_wasm", "log")
declare function host_log(level: i32, ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("lambda_wasm", "remaining_time_ms")
declare function remaining_time_ms(): i64;

/** `text` as UTF-8 bytes, for the imports' (pointer, length) pairs. */
function utf8(text: string): ArrayBuffer {
  return String.UTF8.encode(text);
}

// ---------------------------------------------------------------------------
// The context (docs/abi.md, section 4)

/** What Lambda tells a handler about the invocation and the function.
 * Fields the host did not send are empty (or 0). */
export class Context {
  awsRequestId: string = "";
  invokedFunctionArn: string = "";
  functionName: string = "";
  functionVersion: string = "";
  memoryLimitInMB: i32 = 0;
  logGroupName: string = "";
  logStreamName: string = "";
  /** This invocation's trace header (the environment's is fixed at start). */
  xrayTraceId: string = "";
  /** When the invocation times out, in Unix epoch milliseconds. */
  deadlineMs: i64 = 0;
  /** Compact JSON, as the host sends them. */
  cognitoIdentity: string = "";
  clientContext: string = "";
  tenantId: string = "";

  /** Milliseconds left until the deadline (0 once it passed), by the host's clock. */
  remainingTimeInMillis(): i64 {
    return remaining_time_ms();
  }

  /** Parses the host's `key=value` lines; unknown keys are ignored. */
  static parse(text: string): Context {
    const ctx = new Context();
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const eq = lines[i].indexOf("=");
      if (eq < 0) continue;
      ctx.set(lines[i].substring(0, eq), lines[i].substring(eq + 1));
    }
    return ctx;
  }

  private set(key: string, value: string): void {
    if (key == "aws_request_id") this.awsRequestId = value;
    else if (key == "deadline_ms") this.deadlineMs = I64.parseInt(value);
    else if (key == "invoked_function_arn") this.invokedFunctionArn = value;
    else if (key == "function_name") this.functionName = value;
    else if (key == "function_version") this.functionVersion = value;
    else if (key == "memory_limit_in_mb") this.memoryLimitInMB = I32.parseInt(value);
    else if (key == "log_group_name") this.logGroupName = value;
    else if (key == "log_stream_name") this.logStreamName = value;
    else if (key == "xray_trace_id") this.xrayTraceId = value;
    else if (key == "cognito_identity") this.cognitoIdentity = value;
    else if (key == "client_context") this.clientContext = value;
    else if (key == "tenant_id") this.tenantId = value;
  }
}

// ---------------------------------------------------------------------------
// Logs

/** A log record's severity; the values are the ABI's. */
export enum Level {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Fatal = 5,
}

/** Sends leveled records to the host, which formats them as Lambda does and
 * filters them by AWS_LAMBDA_LOG_LEVEL; records below `minLevel` are dropped
 * here first, as Python's logger.setLevel does. (`console.log` lines work
 * too: each is one INFO record.) */
export class Logger {
  constructor(public minLevel: Level = Level.Trace) {}

  log(level: Level, message: string): void {
    if (level >= this.minLevel) sendLog(level, message);
  }

  trace(message: string): void { this.log(Level.Trace, message); }
  debug(message: string): void { this.log(Level.Debug, message); }
  info(message: string): void { this.log(Level.Info, message); }
  warn(message: string): void { this.log(Level.Warn, message); }
  error(message: string): void { this.log(Level.Error, message); }
  fatal(message: string): void { this.log(Level.Fatal, message); }
}

/** One record to the host. (Not through a Logger: the abort handler may run
 * before any module-level Logger is initialized.) */
function sendLog(level: Level, message: string): void {
  const bytes = utf8(message);
  host_log(level, changetype<usize>(bytes), bytes.byteLength);
}

/** The default logger: every level goes to the host. */
export const log = new Logger();

// ---------------------------------------------------------------------------
// Results and invocations

/** What a handler returns: a JSON response, or a function error (AssemblyScript
 * has no exceptions to catch, so errors are values). */
export class Result {
  private constructor(
    readonly response: string,
    readonly errorType: string,
    readonly errorMessage: string,
    readonly stackTrace: string[],
  ) {}

  /** Success: `value` is the response. */
  static ok(value: JSON.Value): Result {
    return new Result(stringify(value), "", "", []);
  }

  /** A function error, `{"errorType", "errorMessage", "stackTrace"}`. */
  static error(errorType: string, errorMessage: string, stackTrace: string[] = []): Result {
    return new Result("", errorType, errorMessage, stackTrace);
  }

  get isError(): bool {
    return this.errorType.length > 0;
  }
}

/** A handler: the event (any JSON value) and the context in, a Result out. */
export type Handler = (event: JSON.Value, ctx: Context) => Result;

/** Runs one invocation on the buffer the host filled (event, then context)
 * and reports its Result; returns the status the handler export returns.
 * Call it from an exported function with that export's four arguments. */
export function invoke(eventPtr: usize, eventLen: usize, ctxPtr: usize, ctxLen: usize, handler: Handler): i32 {
  const ctx = Context.parse(String.UTF8.decodeUnsafe(ctxPtr, ctxLen));
  const event = JSON.parse(String.UTF8.decodeUnsafe(eventPtr, eventLen));
  pinned.delete(eventPtr); // both are copies now
  const result = handler(event, ctx);
  if (result.isError) {
    reportError(result);
    return 1;
  }
  const response = utf8(result.response);
  set_response(changetype<usize>(response), response.byteLength);
  return 0;
}

function reportError(result: Result): void {
  const errorType = utf8(result.errorType);
  const message = utf8(result.errorMessage);
  set_error(changetype<usize>(errorType), errorType.byteLength, changetype<usize>(message), message.byteLength);
  for (let i = 0; i < result.stackTrace.length; i++) {
    const frame = utf8(result.stackTrace[i]);
    add_stack_frame(changetype<usize>(frame), frame.byteLength);
  }
}

/** The abort handler (`--use abort=guest-sdk/assemblyscript/index/trapWithMessage`):
 * logs what failed at FATAL, then traps, so the host discards the instance. */
export function trapWithMessage(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const what = message !== null ? message : "abort";
  const where = fileName !== null ? fileName : "?";
  sendLog(Level.Fatal, what + " at " + where + ":" + line.toString() + ":" + column.toString());
  unreachable();
}

// ---------------------------------------------------------------------------
// JSON text

/** Compact JSON for `value`. (assemblyscript-json's own stringify does not
 * escape control characters or keys.) */
export function stringify(value: JSON.Value): string {
  if (value.isString) return quote((<JSON.Str>value).valueOf());
  if (value.isArr) {
    const items = (<JSON.Arr>value).valueOf();
    const parts = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) parts[i] = stringify(items[i]);
    return "[" + parts.join(",") + "]";
  }
  if (value.isObj) {
    const fields = (<JSON.Obj>value).valueOf();
    const keys = fields.keys();
    const parts = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) parts[i] = quote(keys[i]) + ":" + stringify(fields.get(keys[i]));
    return "{" + parts.join(",") + "}";
  }
  return value.stringify(); // null, booleans and numbers are right already
}

/** A JSON string literal: `"`, `\` and control characters escaped. */
function quote(text: string): string {
  const parts = new Array<string>();
  let runStart = 0; // the start of the current run of characters kept as they are
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    parts.push(text.substring(runStart, i));
    parts.push(escape(c));
    runStart = i + 1;
  }
  parts.push(text.substring(runStart));
  return "\"" + parts.join("") + "\"";
}

/** The JSON escape of one character `quote` does not keep. */
function escape(c: i32): string {
  if (c == 0x22) return "\\\"";
  if (c == 0x5c) return "\\\\";
  if (c == 0x0a) return "\\n";
  if (c == 0x0d) return "\\r";
  if (c == 0x09) return "\\t";
  return "\\u" + c.toString(16).padStart(4, "0");
}
