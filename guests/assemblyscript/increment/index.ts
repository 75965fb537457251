// increment: the seed's Python `increment` handler, ported to AssemblyScript.
//
//   logger = logging.getLogger()
//   logger.setLevel(logging.INFO)
//
//   def lambda_handler(event, context):
//       result = None
//       action = event.get('action')
//       if action == 'increment':
//           result = event.get('number', 0) + 1
//           logger.info('Calculated result of %s', result)
//       else:
//           logger.error("%s is not a valid action.", action)
//       return {'result': result}
//
// {"action":"increment","number":3} gives {"result":4} and the INFO record
// "Calculated result of 4"; any other action gives {"result":null} and the
// ERROR record "<action> is not a valid action." (None when there is no
// action). Integers stay integers, floats stay floats; adding 1 to a
// non-number is Python's TypeError.
//
// Build and run (from the repository root):
//
//   make guests-as
//   lambda-wasm invoke increment.handler --task-root target/wasm32-wasip1/guest-as --event guests/events/increment.json

import { Context, JSON, Level, Logger, Result, invoke } from "../../../guest-sdk/assemblyscript";
export { lambda_abi_version, lambda_alloc } from "../../../guest-sdk/assemblyscript";

/** The module-level logger at INFO, as logger.setLevel(logging.INFO). */
const logger = new Logger(Level.Info);

export function handler(eventPtr: usize, eventLen: usize, ctxPtr: usize, ctxLen: usize): i32 {
  return invoke(eventPtr, eventLen, ctxPtr, ctxLen, increment);
}

/** Increments `number` (default 0) when `action` is "increment". */
function increment(event: JSON.Value, _ctx: Context): Result {
  if (!event.isObj) {
    return Result.error("AttributeError", "'" + pythonType(event) + "' object has no attribute 'get'");
  }
  const fields = <JSON.Obj>event;
  const action = valueOr(fields, "action", JSON.Value.Null());
  const response = new JSON.Obj();
  if (!(action.isString && (<JSON.Str>action).valueOf() == "increment")) {
    logger.error(pythonStr(action) + " is not a valid action.");
    response.set("result", JSON.Value.Null());
    return Result.ok(response);
  }
  const number = valueOr(fields, "number", JSON.Value.Integer(0));
  if (number.isInteger) {
    const sum = (<JSON.Integer>number).valueOf() + 1;
    return logged(response, JSON.Value.Integer(sum), sum.toString());
  }
  if (number.isFloat) {
    const sum = (<JSON.Float>number).valueOf() + 1;
    return logged(response, JSON.Value.Float(sum), sum.toString());
  }
  if (number.isBool) {
    const sum: i64 = (<JSON.Bool>number).valueOf() ? 2 : 1;
    return logged(response, JSON.Value.Integer(sum), sum.toString());
  }
  return typeError(number);
}

/** Logs the result at INFO and returns {"result": sum}. */
function logged(response: JSON.Obj, sum: JSON.Value, text: string): Result {
  logger.info("Calculated result of " + text);
  response.set("result", sum);
  return Result.ok(response);
}

/** Python's dict.get(key, default). */
function valueOr(fields: JSON.Obj, key: string, fallback: JSON.Value): JSON.Value {
  const value = fields.get(key);
  return value !== null ? value : fallback;
}

/** The TypeError of `value + 1` for a value that is not a number, in Python's words. */
function typeError(value: JSON.Value): Result {
  if (value.isString) return Result.error("TypeError", "can only concatenate str (not \"int\") to str");
  if (value.isArr) return Result.error("TypeError", "can only concatenate list (not \"int\") to list");
  return Result.error("TypeError", "unsupported operand type(s) for +: '" + pythonType(value) + "' and 'int'");
}

/** The Python type name of a JSON value. */
function pythonType(value: JSON.Value): string {
  if (value.isNull) return "NoneType";
  if (value.isBool) return "bool";
  if (value.isFloat) return "float";
  if (value.isInteger) return "int";
  if (value.isString) return "str";
  if (value.isArr) return "list";
  return "dict";
}

/** Python's str() of a JSON value, for %s. */
function pythonStr(value: JSON.Value): string {
  return value.isString ? (<JSON.Str>value).valueOf() : pythonRepr(value);
}

/** Python's repr() of a JSON value (close enough for log messages). */
function pythonRepr(value: JSON.Value): string {
  if (value.isNull) return "None";
  if (value.isBool) return (<JSON.Bool>value).valueOf() ? "True" : "False";
  if (value.isString) return "'" + (<JSON.Str>value).valueOf().replaceAll("\\", "\\\\").replaceAll("'", "\\'") + "'";
  if (value.isArr) {
    const items = (<JSON.Arr>value).valueOf();
    const parts = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) parts[i] = pythonRepr(items[i]);
    return "[" + parts.join(", ") + "]";
  }
  if (value.isObj) {
    const fields = (<JSON.Obj>value).valueOf();
    const keys = fields.keys();
    const parts = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      parts[i] = pythonRepr(JSON.Value.String(keys[i])) + ": " + pythonRepr(fields.get(keys[i]));
    }
    return "{" + parts.join(", ") + "}";
  }
  return value.stringify(); // a number
}
