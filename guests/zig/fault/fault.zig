//! fault: a guest that traps on request, for the end-to-end tests
//! (tests/languages.rs): `{"action":"trap"}` executes `unreachable`, any
//! other event is answered with itself, so a test can show the next event
//! succeeds.
//!
//! Build (from the repository root; `make guests-zig` does it):
//!
//!     .tools/zig-venv/bin/python -m ziglang build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic \
//!         -O ReleaseSmall --dep lambda_wasm -Mroot=guests/zig/fault/fault.zig \
//!         -Mlambda_wasm=guest-sdk/zig/lambda_wasm.zig -femit-bin=target/wasm32-wasip1/guest-zig/fault.wasm
const std = @import("std");
const lambda = @import("lambda_wasm");

comptime {
    lambda.exportHandler("handler", handler);
}

fn handler(arena: std.mem.Allocator, event: []const u8, _: *const lambda.Context) !lambda.Response {
    const Event = struct { action: []const u8 = "" };
    const parsed = try lambda.parseEvent(Event, arena, event);
    if (std.mem.eql(u8, parsed.action, "trap")) @trap();
    return .{ .json = event };
}
