//! faults: one guest per failure mode the host must contain, for the
//! end-to-end tests (tests/e2e/languages.rs). The event `{"fail": MODE}`:
//!
//!   error         the function error CustomError ("the event asked for an error")
//!   trap          @trap(): the Wasm `unreachable` instruction
//!   oom           allocates 1 MiB blocks until the allocator fails
//!                 (error.OutOfMemory, which the SDK turns into a trap)
//!   timeout       spins forever
//!   oversize      a 7 MiB JSON string (over Lambda's 6 MB response limit)
//!   invalid_json  the response `this is not json`
//!
//! Any other event is answered with itself, so a test can show the next event
//! succeeds.
//!
//! Build (from the repository root; `make guests-zig` does it):
//!
//!     .tools/zig-venv/bin/python -m ziglang build-exe -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic \
//!         -O ReleaseSmall --dep lambda_wasm -Mroot=guests/zig/faults/faults.zig \
//!         -Mlambda_wasm=guest-sdk/zig/lambda_wasm.zig -femit-bin=target/wasm32-wasip1/guest-zig/faults.wasm
const std = @import("std");
const lambda = @import("lambda_wasm");

comptime {
    lambda.exportHandler("handler", handler);
}

const mib = 1024 * 1024;

fn handler(arena: std.mem.Allocator, event: []const u8, _: *const lambda.Context) !lambda.Response {
    const Event = struct { fail: []const u8 = "" };
    const mode = (try lambda.parseEvent(Event, arena, event)).fail;
    if (std.mem.eql(u8, mode, "error")) return lambda.Response.fail(arena, "CustomError", "the event asked for an error", .{});
    if (std.mem.eql(u8, mode, "trap")) @trap();
    if (std.mem.eql(u8, mode, "oom")) {
        while (true) @memset(try arena.alloc(u8, mib), 1);
    }
    if (std.mem.eql(u8, mode, "timeout")) {
        var spins: u64 = 0;
        while (true) {
            spins +%= 1;
            std.mem.doNotOptimizeAway(spins);
        }
    }
    if (std.mem.eql(u8, mode, "oversize")) {
        const text = try arena.alloc(u8, 7 * mib);
        @memset(text, 'a');
        return lambda.Response.value(arena, text);
    }
    if (std.mem.eql(u8, mode, "invalid_json")) return .{ .json = "this is not json" };
    return .{ .json = event };
}
