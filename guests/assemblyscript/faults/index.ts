// faults: one guest per failure mode the host must contain, for the
// end-to-end tests (tests/e2e/languages.rs). The event {"fail": MODE}:
//
//   error         the function error CustomError ("the event asked for an error")
//   trap          throws an Error: the SDK's abort handler logs it at FATAL and traps
//   oom           allocates 1 MiB buffers until memory.grow fails (an abort)
//   timeout       spins forever
//   oversize      a 7 MiB JSON string (over Lambda's 6 MB response limit)
//   invalid_json  a NaN response, written as `NaN`, which is not JSON
//
// Any other event is answered with itself, so a test can show the next event
// succeeds.
//
// Build (from the repository root): make guests-as

import { Context, JSON, Result, invoke } from "../../../guest-sdk/assemblyscript";
export { lambda_abi_version, lambda_alloc } from "../../../guest-sdk/assemblyscript";

export function handler(eventPtr: usize, eventLen: usize, ctxPtr: usize, ctxLen: usize): i32 {
  return invoke(eventPtr, eventLen, ctxPtr, ctxLen, fail);
}

const MIB = 1 << 20;

/** Every buffer stays reachable, so the garbage collector cannot free it. */
const held = new Array<ArrayBuffer>();

/** Global, so that the endless loop has an effect the optimiser keeps. */
let spins: u64 = 0;

function fail(event: JSON.Value, _ctx: Context): Result {
  const mode = event.isObj ? (<JSON.Obj>event).getString("fail") : null;
  if (mode === null) return Result.ok(event);
  const name = mode.valueOf();
  if (name == "error") return Result.error("CustomError", "the event asked for an error");
  if (name == "trap") throw new Error("the event asked for a trap");
  if (name == "oom") {
    while (true) held.push(new ArrayBuffer(MIB));
  }
  if (name == "timeout") {
    while (true) spins++;
  }
  if (name == "oversize") return Result.ok(new JSON.Str("a".repeat(7 * MIB)));
  if (name == "invalid_json") return Result.ok(new JSON.Float(NaN));
  return Result.ok(event);
}
