//! region: the seed's Python `region` handler, ported to Zig.
//!
//!     def lambda_handler(event, context):
//!         json_region = os.environ['AWS_REGION']
//!         return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
//!                 "body": json.dumps({"Region ": json_region})}
//!
//! The body is byte-identical to Python's json.dumps: `{"Region ": "us-east-1"}`
//! (the key's trailing space, the `": "` separator, everything outside
//! printable ASCII as lowercase \uXXXX). Without AWS_REGION the function
//! error is Python's: errorType `KeyError`, errorMessage `'AWS_REGION'`.
//!
//! Build and run (from the repository root; `make guests-zig` does the build):
//!
//!     .tools/zig-venv/bin/python -m ziglang build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic \
//!         -O ReleaseSmall --dep lambda_wasm -Mroot=guests/zig/region/region.zig \
//!         -Mlambda_wasm=guest-sdk/zig/lambda_wasm.zig -femit-bin=target/wasm32-wasip1/guest-zig/region.wasm
//!     lambda-wasm invoke region.handler --task-root target/wasm32-wasip1/guest-zig \
//!         --event guests/events/region.json --env AWS_REGION=eu-west-1
const std = @import("std");
const lambda = @import("lambda_wasm");

comptime {
    lambda.exportHandler("handler", handler);
}

fn handler(arena: std.mem.Allocator, _: []const u8, _: *const lambda.Context) !lambda.Response {
    const region = try lambda.getenv(arena, "AWS_REGION") orelse
        return lambda.Response.fail(arena, "KeyError", "'AWS_REGION'", .{});
    var body: std.Io.Writer.Allocating = .init(arena);
    try body.writer.writeAll("{");
    try writePythonJsonString(&body.writer, "Region ");
    try body.writer.writeAll(": ");
    try writePythonJsonString(&body.writer, region);
    try body.writer.writeAll("}");
    return lambda.Response.value(arena, .{
        .statusCode = 200,
        .headers = .{ .@"Content-Type" = "application/json" },
        .body = body.written(),
    });
}

/// A JSON string literal exactly as Python's json.dumps writes it with its
/// default ensure_ascii=True (std.json's escape_unicode leaves DEL as is).
fn writePythonJsonString(w: *std.Io.Writer, text: []const u8) !void {
    try w.writeByte('"');
    var code_points = std.unicode.Utf8View.initUnchecked(text).iterator();
    while (code_points.nextCodepoint()) |c| switch (c) {
        '"' => try w.writeAll("\\\""),
        '\\' => try w.writeAll("\\\\"),
        '\n' => try w.writeAll("\\n"),
        '\r' => try w.writeAll("\\r"),
        '\t' => try w.writeAll("\\t"),
        0x08 => try w.writeAll("\\b"),
        0x0c => try w.writeAll("\\f"),
        else => if (c >= ' ' and c <= '~')
            try w.writeByte(@intCast(c))
        else if (c >= 0x10000) // a surrogate pair, as UTF-16 has it
            try w.print("\\u{x:0>4}\\u{x:0>4}", .{ 0xD800 + ((c - 0x10000) >> 10), 0xDC00 + ((c - 0x10000) & 0x3FF) })
        else
            try w.print("\\u{x:0>4}", .{c}),
    };
    try w.writeByte('"');
}
