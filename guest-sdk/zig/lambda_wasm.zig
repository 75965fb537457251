//! lambda_wasm.zig: write lambda-wasm handlers in Zig (guest ABI v1, docs/abi.md).
//!
//! One file, imported as the module `lambda_wasm`:
//!
//!     const std = @import("std");
//!     const lambda = @import("lambda_wasm");
//!
//!     comptime {
//!         lambda.exportHandler("handler", handler); // _HANDLER=hello.handler
//!     }
//!
//!     fn handler(arena: std.mem.Allocator, event: []const u8, _: *const lambda.Context) !lambda.Response {
//!         const Event = struct { name: []const u8 };
//!         const e = try lambda.parseEvent(Event, arena, event);
//!         return lambda.Response.value(arena, .{ .message = e.name });
//!     }
//!
//! Build (a WASI reactor; from the repository root, `make guests-zig` does it):
//!
//!     python -m ziglang build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic -O ReleaseSmall \
//!         --dep lambda_wasm -Mroot=hello.zig -Mlambda_wasm=guest-sdk/zig/lambda_wasm.zig -femit-bin=hello.wasm
//!
//! The handler gets an arena allocator that is reset when the invocation
//! ends, the event's JSON bytes and the context. It returns a Response: JSON
//! bytes (`Response.value` stringifies any value with std.json) or a function
//! error (`Response.fail`, Lambda's errorType, errorMessage and stackTrace).
//! A Zig error it returns is reported with its name as errorType and
//! errorMessage; `parseEvent`'s error.UnmarshalError as Lambda's
//! `Runtime.UnmarshalError`; error.OutOfMemory traps (the host reports
//! `Runtime.OutOfMemory` past the function's memory limit).
//!
//! Init once per execution environment: a `pub fn init() void` in the root
//! file runs from `_initialize`, before the first event (and again in the
//! fresh instance that replaces one discarded after a fault).
const std = @import("std");

/// The ABI version this file speaks: `lambda_abi_version` returns it.
pub const abi_version: i32 = 1;

/// The host imports (module `lambda_wasm`), exactly as docs/abi.md lists them.
const host = struct {
    extern "lambda_wasm" fn set_response(ptr: [*]const u8, len: usize) void;
    extern "lambda_wasm" fn set_error(type_ptr: [*]const u8, type_len: usize, msg_ptr: [*]const u8, msg_len: usize) void;
    extern "lambda_wasm" fn add_stack_frame(ptr: [*]const u8, len: usize) void;
    extern "lambda_wasm" fn log(level: i32, ptr: [*]const u8, len: usize) void;
    extern "lambda_wasm" fn remaining_time_ms() i64;
};

/// Where long-lived memory comes from: the invocation buffers and the
/// arenas' pages.
const backing = std.heap.wasm_allocator;

comptime {
    @export(&lambdaAbiVersion, .{ .name = "lambda_abi_version" });
    @export(&lambdaAlloc, .{ .name = "lambda_alloc" });
    @export(&initialize, .{ .name = "_initialize" });
}

/// The WASI reactor entry point the host calls once per execution
/// environment, before the first event: runs the root file's `pub fn
/// init() void` when it has one. (Zig's own reactor start code would call
/// `main` instead, and only without -fno-entry; this keeps one build command
/// for every handler.)
fn initialize() callconv(.c) void {
    const root = @import("root");
    if (@hasDecl(root, "init")) root.init();
}

fn lambdaAbiVersion() callconv(.c) i32 {
    return abi_version;
}

/// The host writes each invocation's event and context here; `invoke` frees
/// the buffer when the handler is done. Null (0) when memory is exhausted.
fn lambdaAlloc(size: usize) callconv(.c) ?[*]u8 {
    const buffer = backing.alloc(u8, @max(size, 1)) catch return null;
    return buffer.ptr;
}

/// The invocation's context (docs/abi.md section 4). A key the host left
/// out is "" (or 0); the slices live until the handler returns.
pub const Context = struct {
    aws_request_id: []const u8 = "",
    /// Unix epoch milliseconds; 0 when unknown.
    deadline_ms: i64 = 0,
    invoked_function_arn: []const u8 = "",
    function_name: []const u8 = "",
    function_version: []const u8 = "",
    memory_limit_in_mb: u32 = 0,
    log_group_name: []const u8 = "",
    log_stream_name: []const u8 = "",
    xray_trace_id: []const u8 = "",
    /// JSON text, or "".
    cognito_identity: []const u8 = "",
    /// JSON text, or "".
    client_context: []const u8 = "",
    tenant_id: []const u8 = "",

    /// Milliseconds until the invocation's deadline (0 once it has passed).
    pub fn remainingTimeMs(_: *const Context) i64 {
        return host.remaining_time_ms();
    }

    /// Parses the `key=value` lines; unknown keys are ignored, as the ABI asks.
    pub fn parse(text: []const u8) Context {
        var ctx: Context = .{};
        var lines = std.mem.splitScalar(u8, text, '\n');
        while (lines.next()) |line| {
            const eq = std.mem.indexOfScalar(u8, line, '=') orelse continue;
            ctx.set(line[0..eq], line[eq + 1 ..]);
        }
        return ctx;
    }

    fn set(ctx: *Context, key: []const u8, value: []const u8) void {
        if (std.mem.eql(u8, key, "deadline_ms")) {
            ctx.deadline_ms = std.fmt.parseInt(i64, value, 10) catch 0;
        } else if (std.mem.eql(u8, key, "memory_limit_in_mb")) {
            ctx.memory_limit_in_mb = std.fmt.parseInt(u32, value, 10) catch 0;
        } else inline for (comptime std.meta.fieldNames(Context)) |name| {
            if (@FieldType(Context, name) == []const u8 and std.mem.eql(u8, key, name)) {
                @field(ctx, name) = value;
                return;
            }
        }
    }
};

/// A function error as Lambda reports it.
pub const Failure = struct {
    error_type: []const u8,
    error_message: []const u8,
    stack_trace: []const []const u8 = &.{},
};

/// What a handler returns.
pub const Response = union(enum) {
    /// The response: one JSON value, as bytes (the host validates it).
    json: []const u8,
    /// A function error.
    failure: Failure,

    /// The response `value` serialized by std.json (compact).
    pub fn value(arena: std.mem.Allocator, v: anytype) error{OutOfMemory}!Response {
        return .{ .json = try std.json.Stringify.valueAlloc(arena, v, .{}) };
    }

    /// The function error `error_type` with a formatted message.
    pub fn fail(arena: std.mem.Allocator, error_type: []const u8, comptime format: []const u8, args: anytype) error{OutOfMemory}!Response {
        return .{ .failure = .{
            .error_type = error_type,
            .error_message = try std.fmt.allocPrint(arena, format, args),
        } };
    }
};

/// A handler's signature.
pub const HandlerFn = fn (std.mem.Allocator, []const u8, *const Context) anyerror!Response;

/// Exports `handler` under `name`, the FUNCTION part of the handler string.
/// Call it from a `comptime` block of the root file.
pub fn exportHandler(comptime name: []const u8, comptime handler: HandlerFn) void {
    const Export = struct {
        fn call(event: [*]u8, event_len: usize, ctx: [*]const u8, ctx_len: usize) callconv(.c) i32 {
            return invoke(handler, event, event_len, ctx, ctx_len);
        }
    };
    @export(&Export.call, .{ .name = name });
}

/// Runs one invocation: the handler on the host's buffer, its result sent
/// through the imports; returns the handler export's status.
fn invoke(handler: HandlerFn, event: [*]u8, event_len: usize, ctx_bytes: [*]const u8, ctx_len: usize) i32 {
    // The buffer from lambda_alloc holds the event then the context.
    defer backing.free(event[0..@max(event_len + ctx_len, 1)]);
    var arena_state = std.heap.ArenaAllocator.init(backing);
    defer arena_state.deinit();
    const ctx = Context.parse(ctx_bytes[0..ctx_len]);
    const arena = arena_state.allocator();
    const response = handler(arena, event[0..event_len], &ctx) catch |err| {
        // Out of memory traps, as a Rust or C guest's failed allocation
        // aborts: the instance is discarded, and the host reports
        // Runtime.OutOfMemory when the function's memory limit was the cause.
        if (err == error.OutOfMemory) @trap();
        const failure: Failure = if (err == error.UnmarshalError) .{
            // The wording of Lambda's managed runtimes (and the Rust SDK).
            .error_type = "Runtime.UnmarshalError",
            .error_message = std.fmt.allocPrint(arena, "Unable to unmarshal input: {s}", .{unmarshal_reason}) catch "Unable to unmarshal input",
        } else .{ .error_type = @errorName(err), .error_message = @errorName(err) };
        host.set_error(failure.error_type.ptr, failure.error_type.len, failure.error_message.ptr, failure.error_message.len);
        return 1;
    };
    switch (response) {
        .json => |bytes| {
            host.set_response(bytes.ptr, bytes.len);
            return 0;
        },
        .failure => |f| {
            host.set_error(f.error_type.ptr, f.error_type.len, f.error_message.ptr, f.error_message.len);
            for (f.stack_trace) |line| host.add_stack_frame(line.ptr, line.len);
            return 1;
        },
    }
}

/// Why the last `parseEvent` failed (a std.json error name).
var unmarshal_reason: []const u8 = "";

/// The event parsed by std.json as `T` (unknown fields ignored). On failure
/// it returns error.UnmarshalError, which the SDK reports as Lambda's
/// managed runtimes do: `Runtime.UnmarshalError`, "Unable to unmarshal
/// input: <reason>".
pub fn parseEvent(comptime T: type, arena: std.mem.Allocator, event: []const u8) error{UnmarshalError}!T {
    return std.json.parseFromSliceLeaky(T, arena, event, .{ .ignore_unknown_fields = true }) catch |err| {
        unmarshal_reason = @errorName(err);
        return error.UnmarshalError;
    };
}

/// Lambda's log levels, as the `log` import numbers them.
pub const Level = enum(i32) { trace = 0, debug = 1, info = 2, warn = 3, err = 4, fatal = 5 };

/// Log records below `threshold` are dropped in the guest (as Python's
/// logger.setLevel); the host filters the rest by AWS_LAMBDA_LOG_LEVEL.
pub const Logger = struct {
    threshold: Level = .trace,

    /// One record; the host adds the level, timestamp and request id. A
    /// record too long for the 4 KiB buffer is cut short, never dropped.
    pub fn log(self: Logger, level: Level, comptime format: []const u8, args: anytype) void {
        if (@intFromEnum(level) < @intFromEnum(self.threshold)) return;
        var buffer: [4096]u8 = undefined;
        const message = std.fmt.bufPrint(&buffer, format, args) catch buffer[0..];
        host.log(@intFromEnum(level), message.ptr, message.len);
    }

    pub fn trace(self: Logger, comptime format: []const u8, args: anytype) void {
        self.log(.trace, format, args);
    }
    pub fn debug(self: Logger, comptime format: []const u8, args: anytype) void {
        self.log(.debug, format, args);
    }
    pub fn info(self: Logger, comptime format: []const u8, args: anytype) void {
        self.log(.info, format, args);
    }
    pub fn warn(self: Logger, comptime format: []const u8, args: anytype) void {
        self.log(.warn, format, args);
    }
    pub fn err(self: Logger, comptime format: []const u8, args: anytype) void {
        self.log(.err, format, args);
    }
    pub fn fatal(self: Logger, comptime format: []const u8, args: anytype) void {
        self.log(.fatal, format, args);
    }
};

/// A logger that passes every level.
pub const log: Logger = .{};

/// The value of the environment variable `key` (the function's environment,
/// fixed for the instance), or null. Copied into `arena`.
pub fn getenv(arena: std.mem.Allocator, key: []const u8) !?[]const u8 {
    const environ: std.process.Environ = .{ .block = .global };
    var map = try environ.createMap(arena);
    return map.get(key);
}
