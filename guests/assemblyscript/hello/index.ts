// hello: the seed's Python `hello` handler, ported to AssemblyScript.
//
//   def lambda_handler(event, context):
//       message = 'Hello {} {}!'.format(event['first_name'], event['last_name'])
//       return {'message': message}
//
// {"first_name":"John","last_name":"Smith"} gives {"message":"Hello John Smith!"};
// a missing key gives the function error Python would raise: errorType
// KeyError, errorMessage 'first_name' (as the Rust port does).
//
// Build and run (from the repository root):
//
//   make guests-as
//   lambda-wasm invoke hello.handler --task-root target/wasm32-wasip1/guest-as --event guests/events/hello.json

import { Context, JSON, Result, invoke, stringify } from "../../../guest-sdk/assemblyscript";
export { lambda_abi_version, lambda_alloc } from "../../../guest-sdk/assemblyscript";

export function handler(eventPtr: usize, eventLen: usize, ctxPtr: usize, ctxLen: usize): i32 {
  return invoke(eventPtr, eventLen, ctxPtr, ctxLen, greet);
}

/** Greets the person named in the event; an event that is not an object has
 * no keys, so it is a KeyError too. */
function greet(event: JSON.Value, _ctx: Context): Result {
  const fields = event.isObj ? <JSON.Obj>event : new JSON.Obj();
  const firstName = fields.get("first_name");
  if (firstName === null) return keyError("first_name");
  const lastName = fields.get("last_name");
  if (lastName === null) return keyError("last_name");
  const response = new JSON.Obj();
  response.set("message", "Hello " + pythonStr(firstName) + " " + pythonStr(lastName) + "!");
  return Result.ok(response);
}

/** Python's KeyError: its message is the key quoted, as str(KeyError('k')) is 'k'. */
function keyError(key: string): Result {
  return Result.error("KeyError", "'" + key + "'");
}

/** Python's str() of a JSON value, for '{}'.format(value). */
function pythonStr(value: JSON.Value): string {
  if (value.isString) return (<JSON.Str>value).valueOf();
  if (value.isNull) return "None";
  if (value.isBool) return (<JSON.Bool>value).valueOf() ? "True" : "False";
  return stringify(value);
}
