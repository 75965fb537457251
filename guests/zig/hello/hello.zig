//! hello: the seed's Python `hello` handler, ported to Zig.
//!
//!     def lambda_handler(event, context):
//!         message = 'Hello {} {}!'.format(event['first_name'], event['last_name'])
//!         return {'message': message}
//!
//! `{"first_name":"John","last_name":"Smith"}` gives
//! `{"message":"Hello John Smith!"}`; a missing key is the function error
//! Python raises: errorType `KeyError`, errorMessage `'first_name'`.
//!
//! Build and run (from the repository root; `make guests-zig` does the build):
//!
//!     .tools/zig-venv/bin/python -m ziglang build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic \
//!         -O ReleaseSmall --dep lambda_wasm -Mroot=guests/zig/hello/hello.zig \
//!         -Mlambda_wasm=guest-sdk/zig/lambda_wasm.zig -femit-bin=target/wasm32-wasip1/guest-zig/hello.wasm
//!     lambda-wasm invoke hello.handler --task-root target/wasm32-wasip1/guest-zig --event guests/events/hello.json
const std = @import("std");
const lambda = @import("lambda_wasm");

comptime {
    lambda.exportHandler("handler", handler);
}

fn handler(arena: std.mem.Allocator, event: []const u8, _: *const lambda.Context) !lambda.Response {
    // Any JSON, not a struct: a missing key is Python's KeyError rather than
    // an unmarshal error, and a non-string name prints as Python's str().
    const value = try lambda.parseEvent(std.json.Value, arena, event);
    const keys = [_][]const u8{ "first_name", "last_name" };
    var names: [keys.len][]const u8 = undefined;
    for (keys, &names) |key, *name| {
        const field = switch (value) {
            .object => |object| object.get(key),
            else => null,
        } orelse return lambda.Response.fail(arena, "KeyError", "'{s}'", .{key});
        name.* = try pythonStr(arena, field);
    }
    const message = try std.fmt.allocPrint(arena, "Hello {s} {s}!", .{ names[0], names[1] });
    return lambda.Response.value(arena, .{ .message = message });
}

/// Python's str() of a JSON value, for '{}'.format(value).
fn pythonStr(arena: std.mem.Allocator, value: std.json.Value) ![]const u8 {
    return switch (value) {
        .string => |s| s,
        .null => "None",
        .bool => |b| if (b) "True" else "False",
        // numbers, lists and dicts: their compact JSON, as the Rust port prints them
        else => std.json.Stringify.valueAlloc(arena, value, .{}),
    };
}
