//! increment: the seed's Python `increment` handler, ported to Zig.
//!
//!     logger = logging.getLogger()
//!     logger.setLevel(logging.INFO)
//!
//!     def lambda_handler(event, context):
//!         result = None
//!         action = event.get('action')
//!         if action == 'increment':
//!             result = event.get('number', 0) + 1
//!             logger.info('Calculated result of %s', result)
//!         else:
//!             logger.error("%s is not a valid action.", action)
//!         return {'result': result}
//!
//! `{"action":"increment","number":3}` gives `{"result":4}` and the INFO
//! record `Calculated result of 4`; any other action gives `{"result":null}`
//! and the ERROR record `<action> is not a valid action.` (`None` without an
//! action). Integers stay integers, floats stay floats; adding 1 to a
//! non-number is Python's TypeError, as in the Rust port.
//!
//! Build and run (from the repository root; `make guests-zig` does the build):
//!
//!     .tools/zig-venv/bin/python -m ziglang build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic \
//!         -O ReleaseSmall --dep lambda_wasm -Mroot=guests/zig/increment/increment.zig \
//!         -Mlambda_wasm=guest-sdk/zig/lambda_wasm.zig -femit-bin=target/wasm32-wasip1/guest-zig/increment.wasm
//!     lambda-wasm invoke increment.handler --task-root target/wasm32-wasip1/guest-zig --event guests/events/increment.json
const std = @import("std");
const lambda = @import("lambda_wasm");
const Value = std.json.Value;

comptime {
    lambda.exportHandler("handler", handler);
}

/// The module-level logger; `init` sets its level.
var logger: lambda.Logger = .{};

/// Init, once per execution environment (the SDK's `_initialize` runs it):
/// logger.setLevel(logging.INFO).
pub fn init() void {
    logger.threshold = .info;
}

fn handler(arena: std.mem.Allocator, event: []const u8, _: *const lambda.Context) !lambda.Response {
    const parsed = try lambda.parseEvent(Value, arena, event);
    const object = switch (parsed) {
        .object => |object| object,
        else => return lambda.Response.fail(arena, "AttributeError", "'{s}' object has no attribute 'get'", .{pythonType(parsed)}),
    };
    const action = object.get("action") orelse Value.null;
    var result: Value = .null;
    if (action == .string and std.mem.eql(u8, action.string, "increment")) {
        result = switch (try addOne(arena, object.get("number") orelse Value{ .integer = 0 })) {
            .sum => |sum| sum,
            .type_error => |message| return lambda.Response.fail(arena, "TypeError", "{s}", .{message}),
        };
        logger.info("Calculated result of {s}", .{try std.json.Stringify.valueAlloc(arena, result, .{})});
    } else {
        logger.err("{s} is not a valid action.", .{try pythonStr(arena, action)});
    }
    return lambda.Response.value(arena, .{ .result = result });
}

const Sum = union(enum) { sum: Value, type_error: []const u8 };

/// Python's `value + 1`: ints stay ints (bools count as ints; past i64 the
/// sum is a u64, past that a float, as in the Rust port), floats stay
/// floats; anything else is a TypeError with Python's wording.
fn addOne(arena: std.mem.Allocator, value: Value) !Sum {
    return switch (value) {
        .integer => |i| if (i < std.math.maxInt(i64))
            .{ .sum = .{ .integer = i + 1 } }
        else
            .{ .sum = .{ .number_string = try std.fmt.allocPrint(arena, "{d}", .{@as(u64, @intCast(i)) + 1}) } },
        .number_string => |text| if (std.fmt.parseInt(u64, text, 10)) |u| (if (u < std.math.maxInt(u64))
            .{ .sum = .{ .number_string = try std.fmt.allocPrint(arena, "{d}", .{u + 1}) } }
        else
            .{ .sum = try floatValue(arena, @as(f64, @floatFromInt(u)) + 1) }) else |_|
            .{ .sum = try floatValue(arena, (std.fmt.parseFloat(f64, text) catch std.math.nan(f64)) + 1) },
        .float => |f| .{ .sum = try floatValue(arena, f + 1) },
        .bool => |b| .{ .sum = .{ .integer = @as(i64, @intFromBool(b)) + 1 } },
        .string => .{ .type_error = "can only concatenate str (not \"int\") to str" },
        .array => .{ .type_error = "can only concatenate list (not \"int\") to list" },
        else => .{ .type_error = try std.fmt.allocPrint(arena, "unsupported operand type(s) for +: '{s}' and 'int'", .{pythonType(value)}) },
    };
}

/// A float as JSON that stays a float: `4.0`, where std.json writes `4`
/// (Python and the Rust port write 4.0); with an exponent where Python's
/// repr() uses one (below 1e-4 or from 1e16 on), not hundreds of digits.
fn floatValue(arena: std.mem.Allocator, f: f64) !Value {
    const scientific = @abs(f) >= 1e16 or (f != 0 and @abs(f) < 1e-4);
    const text = if (scientific) try std.fmt.allocPrint(arena, "{e}", .{f}) else try std.fmt.allocPrint(arena, "{d}", .{f});
    const integral = std.mem.indexOfAny(u8, text, ".e") == null;
    return .{ .number_string = if (integral) try std.mem.concat(arena, u8, &.{ text, ".0" }) else text };
}

/// The Python type name of a JSON value.
fn pythonType(value: Value) []const u8 {
    return switch (value) {
        .null => "NoneType",
        .bool => "bool",
        .integer, .number_string => "int",
        .float => "float",
        .string => "str",
        .array => "list",
        .object => "dict",
    };
}

/// Python's str() of a JSON value, for %s.
fn pythonStr(arena: std.mem.Allocator, value: Value) ![]const u8 {
    if (value == .string) return value.string;
    var out: std.Io.Writer.Allocating = .init(arena);
    try writePythonRepr(&out.writer, value);
    return out.written();
}

/// Python's repr() of a JSON value (close enough for log messages).
fn writePythonRepr(w: *std.Io.Writer, value: Value) !void {
    switch (value) {
        .null => try w.writeAll("None"),
        .bool => |b| try w.writeAll(if (b) "True" else "False"),
        .integer => |i| try w.print("{d}", .{i}),
        .float => |f| try w.print("{d}", .{f}),
        .number_string => |text| try w.writeAll(text),
        .string => |text| try writePythonQuoted(w, text),
        .array => |items| {
            try w.writeByte('[');
            for (items.items, 0..) |item, i| {
                if (i > 0) try w.writeAll(", ");
                try writePythonRepr(w, item);
            }
            try w.writeByte(']');
        },
        .object => |object| {
            try w.writeByte('{');
            var members = object.iterator();
            var first = true;
            while (members.next()) |member| : (first = false) {
                if (!first) try w.writeAll(", ");
                try writePythonQuoted(w, member.key_ptr.*);
                try w.writeAll(": ");
                try writePythonRepr(w, member.value_ptr.*);
            }
            try w.writeByte('}');
        },
    }
}

/// Python's repr() of a string: single quotes, `\` and `'` escaped.
fn writePythonQuoted(w: *std.Io.Writer, text: []const u8) !void {
    try w.writeByte('\'');
    for (text) |c| {
        if (c == '\\' or c == '\'') try w.writeByte('\\');
        try w.writeByte(c);
    }
    try w.writeByte('\'');
}
