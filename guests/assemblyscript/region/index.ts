// region: the seed's Python `region` handler, ported to AssemblyScript.
//
//   def lambda_handler(event, context):
//       json_region = os.environ['AWS_REGION']
//       return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
//               "body": json.dumps({"Region ": json_region})}
//
// The body is byte-identical to Python's json.dumps: {"Region ": "us-east-1"}
// (the key's trailing space, the ": " separator, non-ASCII escaped as
// \uXXXX). Without AWS_REGION the function error is Python's: errorType
// KeyError, errorMessage 'AWS_REGION'.
//
// Build and run (from the repository root):
//
//   make guests-as
//   lambda-wasm invoke region.handler --task-root target/wasm32-wasip1/guest-as --event guests/events/region.json

import { Context, JSON, Result, invoke } from "../../../guest-sdk/assemblyscript";
export { lambda_abi_version, lambda_alloc } from "../../../guest-sdk/assemblyscript";

export function handler(eventPtr: usize, eventLen: usize, ctxPtr: usize, ctxLen: usize): i32 {
  return invoke(eventPtr, eventLen, ctxPtr, ctxLen, reportRegion);
}

/** Reports the region the function runs in; the event is ignored. */
function reportRegion(_event: JSON.Value, _ctx: Context): Result {
  if (!process.env.has("AWS_REGION")) return Result.error("KeyError", "'AWS_REGION'");
  const region = process.env.get("AWS_REGION");
  const headers = new JSON.Obj();
  headers.set("Content-Type", "application/json");
  const response = new JSON.Obj();
  response.set("statusCode", 200);
  response.set("headers", headers);
  response.set("body", "{" + pythonJsonString("Region ") + ": " + pythonJsonString(region) + "}");
  return Result.ok(response);
}

/** A JSON string literal exactly as Python's json.dumps writes it with
 * ensure_ascii=True: everything outside printable ASCII escaped, \uXXXX in
 * lowercase hex. AssemblyScript strings are UTF-16, so a character above
 * U+FFFF is already its surrogate pair, escaped unit by unit as Python does. */
function pythonJsonString(text: string): string {
  const parts = new Array<string>();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x22) parts.push("\\\"");
    else if (c == 0x5c) parts.push("\\\\");
    else if (c == 0x0a) parts.push("\\n");
    else if (c == 0x0d) parts.push("\\r");
    else if (c == 0x09) parts.push("\\t");
    else if (c == 0x08) parts.push("\\b");
    else if (c == 0x0c) parts.push("\\f");
    else if (c >= 0x20 && c <= 0x7e) parts.push(String.fromCharCode(c));
    else parts.push("\\u" + c.toString(16).padStart(4, "0"));
  }
  return "\"" + parts.join("") + "\"";
}
