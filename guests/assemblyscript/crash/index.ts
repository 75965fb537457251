// crash: a handler that aborts on request, to show (and test) what a failed
// assertion or `throw` does: the SDK's abort handler logs it at FATAL and
// traps, the host reports Runtime.WasmTrap, and the next event gets a fresh
// instance.
//
// {"abort": "why"} throws an Error with "why"; any other event is returned as is.
//
// Build and run (from the repository root):
//
//   make guests-as
//   echo '{"abort":"boom"}' | lambda-wasm invoke crash.handler --task-root target/wasm32-wasip1/guest-as

import { Context, JSON, Result, invoke } from "../../../guest-sdk/assemblyscript";
export { lambda_abi_version, lambda_alloc } from "../../../guest-sdk/assemblyscript";

export function handler(eventPtr: usize, eventLen: usize, ctxPtr: usize, ctxLen: usize): i32 {
  return invoke(eventPtr, eventLen, ctxPtr, ctxLen, echoOrAbort);
}

function echoOrAbort(event: JSON.Value, _ctx: Context): Result {
  if (event.isObj) {
    const reason = (<JSON.Obj>event).getString("abort");
    if (reason !== null) throw new Error(reason.valueOf());
  }
  return Result.ok(event);
}
