// lambda-wasm's JavaScript runtime glue. lib.rs evaluates this script once
// per execution environment and calls its value with the native object
// (native.rs); the hooks it returns drive everything else:
//
//   environ(variables)           makes process.env `variables` (default: the
//                                WASI environment); once before init and
//                                again after each snapshot restore
//   init(pause)                  starts loading the handler (once); with
//                                `pause`, step stops once it settled instead
//                                of telling the host
//   step()                       one turn of the event loop (lib.rs calls it
//                                after QuickJS's job queue drained): the
//                                milliseconds to sleep, 0 for "again", -1 at
//                                the end of the environment, -2 paused
//                                (before init, or after the handler loaded
//                                with `pause`), -3 the handler failed to load
//                                with `pause`
//   resolve(base, specifier)     an ES import's resolved name (a file:// URL)
//   load(name)                   the ES module source for a resolved name
//   rejection(promise, reason, handled)   QuickJS's rejection tracker
//   recordReads()                process.env records the variables read
//                                (while a handler snapshot is taken)
//   reportReads()                process.env plain again; sends the V frame
//                                of the names read
//
// Evaluating this script reads nothing from the environment or the task
// root, so the host can snapshot the runner right after it (level (a) of
// docs/abi.md's pre-initialisation), and again paused after init (level (b)).
//
// It behaves as AWS's Node.js runtime interface client, aws-lambda-ric 3.x
// (the Node.js 22 runtime, the last one with callback handlers): the same
// handler resolution and init errors, the same context, the same callback
// rules (callbackWaitsForEmptyEventLoop, a returned promise, the
// "beforeExit" default of a null response), the same error bodies
// ({errorType, errorMessage, trace}) and the same console log lines.
//
// Frames to the host (native.call) start with one ASCII kind byte:
//   N                  init is done; the answer is the first invocation
//   R + JSON           the invocation's response; answer: the next one
//   E + error JSON     the invocation's error; answer: the next one
//   I + error JSON     init failed; the answer is "" and the runner ends
//   L + digit + line   one log line, level 0 TRACE .. 5 FATAL, as the Node
//                      runtime writes it; answer: ""
//   V + JSON           {names, all}: the variables the handler's import
//                      read (reportReads); answer: ""
// An invocation is 8 NUL-separated fields: request id, deadline (epoch ms),
// invoked function ARN, trace id, client context JSON, Cognito identity
// JSON, tenant id, event JSON. "" means no more events.

(function (native) {
  "use strict";

  const env = {}; // process.env, filled by environ()
  let TASK_ROOT = "/var/task";
  const RUNTIME_FILE = "/var/runtime/index.mjs";

  // --- paths (node:path's posix functions) --------------------------------

  function normalizeParts(parts) {
    const out = [];
    for (const part of parts) {
      if (part === "" || part === ".") continue;
      if (part === "..") out.pop();
      else out.push(part);
    }
    return out;
  }

  const path = {
    sep: "/",
    delimiter: ":",
    resolve(...segments) {
      let joined = "";
      for (let i = segments.length - 1; i >= 0 && !joined.startsWith("/"); i--) {
        if (segments[i]) joined = segments[i] + (joined ? "/" + joined : "");
      }
      if (!joined.startsWith("/")) joined = process.cwd() + "/" + joined;
      return "/" + normalizeParts(joined.split("/")).join("/");
    },
    normalize(p) {
      if (p === "") return ".";
      const absolute = p.startsWith("/");
      const trailing = p.endsWith("/");
      const parts = [];
      for (const part of p.split("/")) {
        if (part === "" || part === ".") continue;
        if (part === ".." && parts.length && parts[parts.length - 1] !== "..") parts.pop();
        else if (part !== ".." || !absolute) parts.push(part);
      }
      let out = (absolute ? "/" : "") + parts.join("/");
      if (out === "") out = ".";
      return trailing && out !== "/" ? out + "/" : out;
    },
    join(...segments) {
      const joined = segments.filter((s) => s !== "").join("/");
      return joined === "" ? "." : path.normalize(joined);
    },
    dirname(p) {
      const trimmed = p.length > 1 ? p.replace(/\/+$/, "") : p;
      const i = trimmed.lastIndexOf("/");
      if (i < 0) return ".";
      return i === 0 ? "/" : trimmed.slice(0, i);
    },
    basename(p, ext) {
      const trimmed = p.length > 1 ? p.replace(/\/+$/, "") : p;
      let base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
      if (ext && base.endsWith(ext) && base !== ext) base = base.slice(0, -ext.length);
      return base;
    },
    extname(p) {
      const base = path.basename(p);
      const i = base.lastIndexOf(".");
      return i <= 0 ? "" : base.slice(i);
    },
    isAbsolute: (p) => p.startsWith("/"),
    relative(from, to) {
      const a = path.resolve(from).split("/").filter(Boolean);
      const b = path.resolve(to).split("/").filter(Boolean);
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      return [...Array(a.length - i).fill(".."), ...b.slice(i)].join("/");
    },
    parse(p) {
      const base = path.basename(p);
      const ext = path.extname(p);
      return { root: p.startsWith("/") ? "/" : "", dir: path.dirname(p), base, ext, name: ext ? base.slice(0, -ext.length) : base };
    },
    format(o) {
      const dir = o.dir || o.root || "";
      const base = o.base || (o.name || "") + (o.ext || "");
      return dir ? (dir.endsWith("/") ? dir + base : dir + "/" + base) : base;
    },
  };
  path.posix = path;

  // --- util.inspect and util.format (Node's rules, without colours) --------

  const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const BREAK_LENGTH = 80;

  function quote(s) {
    let q = "'";
    if (s.includes("'")) q = !s.includes('"') ? '"' : !s.includes("`") && !s.includes("${") ? "`" : "'";
    const escaped = s.replace(/[\\\n\t\r\b\f\v\x00-\x1f\x7f]/g, (c) => {
      const named = { "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f", "\v": "\\v" }[c];
      return named || "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase();
    });
    return q + (q === "'" ? escaped.replace(/'/g, "\\'") : escaped) + q;
  }

  function formatNumber(n) {
    return Object.is(n, -0) ? "-0" : String(n);
  }

  function formatPrimitive(value) {
    switch (typeof value) {
      case "string": return quote(value);
      case "number": return formatNumber(value);
      case "bigint": return value + "n";
      case "symbol": return value.toString();
      default: return String(value);
    }
  }

  function constructorName(obj) {
    let proto = Object.getPrototypeOf(obj);
    while (proto) {
      const desc = Object.getOwnPropertyDescriptor(proto, "constructor");
      if (desc && typeof desc.value === "function" && desc.value.name) return desc.value.name;
      proto = Object.getPrototypeOf(proto);
    }
    return null;
  }

  function functionBase(fn) {
    const source = Function.prototype.toString.call(fn);
    if (source.startsWith("class") && /^class\b/.test(source)) {
      const parent = Object.getPrototypeOf(fn);
      const ext = parent && parent.name ? ` extends ${parent.name}` : "";
      return `[class ${fn.name || "(anonymous)"}${ext}]`;
    }
    const tag = fn[Symbol.toStringTag];
    const kind = tag === "AsyncFunction" || tag === "GeneratorFunction" || tag === "AsyncGeneratorFunction" ? tag : "Function";
    return fn.name ? `[${kind}: ${fn.name}]` : `[${kind} (anonymous)]`;
  }

  function errorText(err) {
    const stack = stackOf(err);
    return stack || `[${Error.prototype.toString.call(err)}]`;
  }

  function formatKey(key) {
    if (typeof key === "symbol") return `[${key.toString()}]`;
    return IDENTIFIER.test(key) ? key : quote(key);
  }

  function inspect(value, options) {
    const ctx = { depth: 2, seen: [], circular: new Map(), currentDepth: 0, indentation: 0, ...options };
    return formatValue(ctx, value, 0, false);
  }

  function formatValue(ctx, value, recurseTimes, nested) {
    if (typeof value !== "object" && typeof value !== "function") {
      return nested || typeof value !== "string" ? formatPrimitive(value) : value;
    }
    if (value === null) return "null";
    if (ctx.seen.includes(value)) {
      let index = ctx.circular.get(value);
      if (index === undefined) {
        index = ctx.circular.size + 1;
        ctx.circular.set(value, index);
      }
      return `[Circular *${index}]`;
    }
    const custom = value[Symbol.for("nodejs.util.inspect.custom")];
    if (typeof custom === "function" && custom !== inspect) {
      const result = custom.call(value, ctx.depth - recurseTimes, { ...ctx }, inspect);
      if (result !== value) return typeof result === "string" ? result : formatValue(ctx, result, recurseTimes, true);
    }
    return formatRaw(ctx, value, recurseTimes);
  }

  function formatRaw(ctx, value, recurseTimes) {
    let keys = Object.keys(value);
    const symbols = Object.getOwnPropertySymbols(value).filter((s) => Object.prototype.propertyIsEnumerable.call(value, s));
    const name = constructorName(value);
    const prefix = name === null ? "[Object: null prototype] " : name !== "Object" ? `${name} ` : "";
    let braces;
    let base = "";
    let entries;
    let isArrayLike = false;
    if (Array.isArray(value)) {
      isArrayLike = true;
      keys = keys.filter((k) => !/^\d+$/.test(k));
      braces = [`${name !== "Array" ? prefix : ""}[`, "]"];
      if (value.length === 0 && keys.length === 0 && symbols.length === 0) return `${braces[0]}]`;
      entries = (r) => formatArray(ctx, value, r);
    } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      isArrayLike = true;
      keys = keys.filter((k) => !/^\d+$/.test(k));
      if (value._isBuffer) {
        const hex = Array.from(value.subarray(0, 50), (b) => b.toString(16).padStart(2, "0")).join(" ");
        return `<Buffer${hex ? " " + hex : ""}${value.length > 50 ? ` ... ${value.length - 50} more bytes` : ""}>`;
      }
      braces = [`${name}(${value.length}) [`, "]"];
      if (value.length === 0 && keys.length === 0) return `${braces[0]}]`;
      entries = () => formatArray(ctx, value, recurseTimes);
    } else if (value instanceof Map) {
      braces = [`${prefix === "" ? "Map " : prefix}`.replace(/ $/, `(${value.size}) {`), "}"];
      if (value.size === 0 && keys.length === 0) return `${braces[0]}}`;
      entries = (r) => [...value].map(([k, v]) => `${formatValue(ctx, k, r, true)} => ${formatValue(ctx, v, r, true)}`);
    } else if (value instanceof Set) {
      braces = [`${prefix === "" ? "Set " : prefix}`.replace(/ $/, `(${value.size}) {`), "}"];
      if (value.size === 0 && keys.length === 0) return `${braces[0]}}`;
      entries = (r) => [...value].map((v) => formatValue(ctx, v, r, true));
    } else {
      braces = ["{", "}"];
      if (typeof value === "function") {
        base = functionBase(value);
        keys = keys.filter((k) => k !== "prototype");
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (value instanceof Error) {
        base = errorText(value);
        keys = keys.filter((k) => k !== "stack" && k !== "message");
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (value instanceof Date) {
        base = Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (value instanceof RegExp) {
        base = RegExp.prototype.toString.call(value);
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (value instanceof Promise) {
        braces = ["Promise {", "}"];
        entries = () => ["<unknown>"];
      } else if (value instanceof WeakMap || value instanceof WeakSet) {
        return `${name} { <items unknown> }`;
      } else if (value instanceof ArrayBuffer) {
        const bytes = Array.from(new Uint8Array(value).subarray(0, 50), (b) => b.toString(16).padStart(2, "0")).join(" ");
        return `ArrayBuffer { [Uint8Contents]: <${bytes}${value.byteLength > 50 ? ` ... ${value.byteLength - 50} more bytes` : ""}>, byteLength: ${value.byteLength} }`;
      } else if (value instanceof String || value instanceof Number || value instanceof Boolean) {
        const type = value instanceof String ? "String" : value instanceof Number ? "Number" : "Boolean";
        base = `[${type}: ${formatPrimitive(value.valueOf())}]`;
        if (type === "String") keys = keys.filter((k) => !/^\d+$/.test(k));
        if (keys.length === 0 && symbols.length === 0) return base;
      } else {
        const tag = value[Symbol.toStringTag];
        const label = prefix + (typeof tag === "string" && tag !== "" && tag !== name ? `[${tag}] ` : "");
        braces = [`${label}{`, "}"];
        if (keys.length === 0 && symbols.length === 0) return `${label}{}`;
      }
    }
    if (recurseTimes > ctx.depth) {
      if (isArrayLike) return "[Array]";
      return `[${name === null ? "Object: null prototype" : name || "Object"}]`;
    }
    ctx.seen.push(value);
    ctx.currentDepth = recurseTimes;
    const output = entries ? entries(recurseTimes + 1) : [];
    for (const key of [...keys, ...symbols]) output.push(formatProperty(ctx, value, key, recurseTimes + 1));
    ctx.seen.pop();
    let result = reduceToSingleString(ctx, output, base, braces, isArrayLike, recurseTimes, value);
    const index = ctx.circular.get(value);
    if (index !== undefined) result = `<ref *${index}> ${result}`;
    return result;
  }

  function formatArray(ctx, value, recurseTimes) {
    const output = [];
    const limit = Math.min(value.length, 100);
    let holes = 0;
    const flushHoles = () => {
      if (holes) output.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`);
      holes = 0;
    };
    for (let i = 0; i < limit; i++) {
      if (!Object.prototype.hasOwnProperty.call(value, i)) {
        holes++;
        continue;
      }
      flushHoles();
      output.push(formatValue(ctx, value[i], recurseTimes, true));
    }
    flushHoles();
    if (value.length > limit) output.push(`... ${value.length - limit} more item${value.length - limit > 1 ? "s" : ""}`);
    return output;
  }

  function formatProperty(ctx, value, key, recurseTimes) {
    const desc = Object.getOwnPropertyDescriptor(value, key) || { value: value[key] };
    let shown;
    if (desc.get || desc.set) shown = desc.get && desc.set ? "[Getter/Setter]" : desc.get ? "[Getter]" : "[Setter]";
    else {
      ctx.indentation += 2;
      shown = formatValue(ctx, desc.value, recurseTimes, true);
      ctx.indentation -= 2;
    }
    return `${formatKey(key)}: ${shown}`;
  }

  function groupArrayElements(output, value) {
    let totalLength = 0;
    let maxLength = 0;
    const separatorSpace = 2;
    const dataLen = new Array(output.length);
    for (let i = 0; i < output.length; i++) {
      const len = output[i].length;
      dataLen[i] = len;
      totalLength += len + separatorSpace;
      if (maxLength < len) maxLength = len;
    }
    const actualMax = maxLength + separatorSpace;
    if (actualMax * 3 + 0 < BREAK_LENGTH && (totalLength / actualMax > 5 || maxLength <= 6)) {
      const averageBias = Math.sqrt(actualMax - totalLength / output.length);
      const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
      const columns = Math.min(
        Math.round(Math.sqrt(2.5 * biasedMax * output.length) / biasedMax),
        Math.floor((BREAK_LENGTH - 0) / actualMax),
        4 * 4,
        15,
      );
      if (columns <= 1) return output;
      const tmp = [];
      const maxLineLength = [];
      for (let i = 0; i < columns; i++) {
        let lineLength = 0;
        for (let j = i; j < output.length; j += columns) if (dataLen[j] > lineLength) lineLength = dataLen[j];
        maxLineLength.push(lineLength + separatorSpace);
      }
      const numbers = value !== undefined && output.every((_, i) => typeof value[i] === "number" || typeof value[i] === "bigint");
      for (let i = 0; i < output.length; i += columns) {
        const max = Math.min(i + columns, output.length);
        let str = "";
        let j = i;
        for (; j < max - 1; j++) {
          const padding = maxLineLength[j - i] + output[j].length - dataLen[j];
          str += numbers ? `${output[j]}, `.padStart(padding, " ") : `${output[j]}, `.padEnd(padding, " ");
        }
        if (numbers) {
          const padding = maxLineLength[j - i] + output[j].length - dataLen[j] - separatorSpace;
          str += output[j].padStart(padding, " ");
        } else {
          str += output[j];
        }
        tmp.push(str);
      }
      return tmp;
    }
    return output;
  }

  function reduceToSingleString(ctx, output, base, braces, isArrayLike, recurseTimes, value) {
    const entries = output.length;
    if (isArrayLike && entries > 6) output = groupArrayElements(output, value);
    if (ctx.currentDepth - recurseTimes < 3 && entries === output.length) {
      const start = output.length + ctx.indentation + braces[0].length + base.length + 10;
      let total = output.length + start;
      let fits = total + output.length <= BREAK_LENGTH;
      for (let i = 0; fits && i < output.length; i++) {
        total += output[i].length;
        fits = total <= BREAK_LENGTH;
      }
      if (fits && !base.includes("\n")) {
        const joined = output.join(", ");
        if (!joined.includes("\n")) return `${base ? base + " " : ""}${braces[0]} ${joined} ${braces[1]}`;
      }
    }
    const indentation = "\n" + " ".repeat(ctx.indentation);
    return `${base ? base + " " : ""}${braces[0]}${indentation}  ${output.join(`,${indentation}  `)}${indentation}${braces[1]}`;
  }

  function hasBuiltInToString(value) {
    let proto = value;
    while (proto && !Object.prototype.hasOwnProperty.call(proto, "toString")) proto = Object.getPrototypeOf(proto);
    if (!proto) return true;
    return [Object.prototype, Error.prototype, Date.prototype, Array.prototype, RegExp.prototype, Function.prototype].includes(proto);
  }

  function format(...args) {
    const first = args[0];
    let a = 0;
    let str = "";
    let join = "";
    if (typeof first === "string") {
      if (args.length === 1) return first;
      let lastPos = 0;
      for (let i = 0; i < first.length - 1; i++) {
        if (first.charCodeAt(i) !== 37) continue;
        const next = first.charCodeAt(++i);
        if (a + 1 !== args.length) {
          let temp;
          switch (next) {
            case 115: { // %s
              const arg = args[++a];
              if (typeof arg === "number") temp = formatNumber(arg);
              else if (typeof arg === "bigint") temp = arg + "n";
              else if (typeof arg !== "object" || arg === null || !hasBuiltInToString(arg)) temp = String(arg);
              else temp = inspect(arg, { depth: 0 });
              break;
            }
            case 106: // %j
              try {
                temp = JSON.stringify(args[++a]);
              } catch (e) {
                temp = "[Circular]";
              }
              break;
            case 100: { // %d
              const arg = args[++a];
              temp = typeof arg === "bigint" ? arg + "n" : typeof arg === "symbol" ? "NaN" : formatNumber(Number(arg));
              break;
            }
            case 79: // %O
              temp = inspect(args[++a]);
              break;
            case 111: // %o
              temp = inspect(args[++a], { depth: 4 });
              break;
            case 105: { // %i
              const arg = args[++a];
              temp = typeof arg === "bigint" ? arg + "n" : typeof arg === "symbol" ? "NaN" : formatNumber(parseInt(arg));
              break;
            }
            case 102: { // %f
              const arg = args[++a];
              temp = typeof arg === "symbol" ? "NaN" : formatNumber(parseFloat(arg));
              break;
            }
            case 99: // %c
              a += 1;
              temp = "";
              break;
            case 37: // %%
              str += first.slice(lastPos, i);
              lastPos = i + 1;
              continue;
            default:
              continue;
          }
          if (lastPos !== i - 1) str += first.slice(lastPos, i - 1);
          str += temp;
          lastPos = i + 1;
        } else if (next === 37) {
          str += first.slice(lastPos, i);
          lastPos = i + 1;
        }
      }
      if (lastPos !== 0) {
        a++;
        join = " ";
        if (lastPos < first.length) str += first.slice(lastPos);
      }
    }
    while (a < args.length) {
      const value = args[a];
      str += join + (typeof value !== "string" ? inspect(value) : value);
      join = " ";
      a++;
    }
    return str;
  }

  // --- errors ---------------------------------------------------------------

  // QuickJS's `stack` holds only the frames; V8's (and so Node's, and the
  // `trace` Lambda shows) starts with "Name: message". stackOf gives V8's shape.
  function stackOf(err) {
    let stack;
    try {
      stack = err.stack;
    } catch (e) {
      return undefined;
    }
    if (typeof stack !== "string") return stack;
    let header;
    try {
      header = Error.prototype.toString.call(err);
    } catch (e) {
      header = "Error";
    }
    const frames = stack.replace(/\n$/, "");
    return frames === "" ? header : frames.startsWith("    at ") ? header + "\n" + frames : frames;
  }

  function isError(obj) {
    return obj instanceof Error || (obj && typeof obj.name === "string" && typeof obj.message === "string" && typeof obj.stack === "string" && obj.name && obj.message && obj.stack);
  }

  function intoError(err) {
    return err instanceof Error ? err : new Error(err);
  }

  // Errors.toRapidResponse: the body Lambda returns for the error.
  function toRapidResponse(error) {
    try {
      if (isError(error)) {
        return {
          errorType: error.name?.replace(/\x7F/g, "%7F"),
          errorMessage: error.message?.replace(/\x7F/g, "%7F"),
          trace: stackOf(error).replace(/\x7F/g, "%7F").split("\n"),
        };
      }
      return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
    } catch (e) {
      return {
        errorType: "handled",
        errorMessage: "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack",
      };
    }
  }

  function withEnumerableProperties(error) {
    if (error instanceof Error) {
      const ret = Object.assign({ errorType: error.name, errorMessage: error.message, code: error.code }, error);
      const stack = stackOf(error);
      if (typeof stack === "string") ret.stack = stack.split("\n");
      return ret;
    }
    return error;
  }

  function toFormatted(error) {
    try {
      return "\t" + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
    } catch (e) {
      return "\t" + JSON.stringify(toRapidResponse(error));
    }
  }

  function runtimeError(name) {
    const cls = class extends Error {};
    Object.defineProperty(cls, "name", { value: name.slice("Runtime.".length) });
    cls.prototype.name = name;
    return cls;
  }
  const ImportModuleError = runtimeError("Runtime.ImportModuleError");
  const HandlerNotFound = runtimeError("Runtime.HandlerNotFound");
  const MalformedHandlerName = runtimeError("Runtime.MalformedHandlerName");
  const UserCodeSyntaxError = runtimeError("Runtime.UserCodeSyntaxError");
  const UnhandledPromiseRejection = runtimeError("Runtime.UnhandledPromiseRejection");
  const CallbackHandlerDeprecated = runtimeError("Runtime.CallbackHandlerDeprecated");

  // --- console: LogPatch --------------------------------------------------

  const LEVELS = {
    TRACE: { name: "TRACE", priority: 1, digit: "0" },
    DEBUG: { name: "DEBUG", priority: 2, digit: "1" },
    INFO: { name: "INFO", priority: 3, digit: "2" },
    WARN: { name: "WARN", priority: 4, digit: "3" },
    ERROR: { name: "ERROR", priority: 5, digit: "4" },
    FATAL: { name: "FATAL", priority: 6, digit: "5" },
  };
  let minLevel = LEVELS.TRACE; // AWS_LAMBDA_LOG_LEVEL's, set by environ()
  let jsonFormat = false; // AWS_LAMBDA_LOG_FORMAT=JSON, set by environ()
  let currentRequestId;
  let currentTenantId;

  function jsonErrorReplacer(_key, value) {
    if (value instanceof Error) {
      const stack = stackOf(value);
      return Object.assign(
        {
          errorType: value?.constructor?.name ?? "UnknownError",
          errorMessage: value.message,
          stackTrace: typeof stack === "string" ? stack.split("\n") : stack,
        },
        value,
      );
    }
    return value;
  }

  function formatJsonMessage(requestId, timestamp, level, tenantId, ...messageParams) {
    const result = { timestamp, level: level.name, requestId };
    if (tenantId != undefined && tenantId != null) result.tenantId = tenantId;
    if (messageParams.length === 1) {
      result.message = messageParams[0];
      try {
        return JSON.stringify(result, jsonErrorReplacer);
      } catch (e) {
        result.message = format(result.message);
        return JSON.stringify(result);
      }
    }
    result.message = format(...messageParams);
    for (const param of messageParams) {
      if (param instanceof Error) {
        const stack = stackOf(param);
        result.errorType = param?.constructor?.name ?? "UnknownError";
        result.errorMessage = param.message;
        result.stackTrace = typeof stack === "string" ? stack.split("\n") : [];
        break;
      }
    }
    return JSON.stringify(result);
  }

  function writeLog(level, message, ...params) {
    const time = new Date().toISOString();
    const line = jsonFormat
      ? formatJsonMessage(currentRequestId, time, level, currentTenantId, message, ...params)
      : `${time}\t${currentRequestId}\t${level.name}\t${format(message, ...params)}`;
    native.call("L" + level.digit + line.replace(/\n/g, "\r") + "\n");
  }

  function levelLogger(level) {
    // The level is checked at each call: AWS_LAMBDA_LOG_LEVEL is read after
    // this console was made (environ()).
    return (message, ...params) => {
      if (level.priority >= minLevel.priority) writeLog(level, message, ...params);
    };
  }

  const logError = levelLogger(LEVELS.ERROR);
  // structuredConsole.logError
  function logStructuredError(label, err) {
    if (jsonFormat) logError(intoError(err));
    else logError(label, toFormatted(intoError(err)));
  }

  function makeConsole() {
    const counts = new Map();
    const timers = new Map();
    const c = {
      trace: levelLogger(LEVELS.TRACE),
      debug: levelLogger(LEVELS.DEBUG),
      info: levelLogger(LEVELS.INFO),
      warn: levelLogger(LEVELS.WARN),
      error: logError,
      fatal: levelLogger(LEVELS.FATAL),
      dir: (obj, options) => native.write(1, inspect(obj, options) + "\n"),
      assert(condition, ...data) {
        if (!condition) {
          if (typeof data[0] === "string") data[0] = `Assertion failed: ${data[0]}`;
          else data.unshift("Assertion failed");
          c.warn(...data);
        }
      },
      count(label = "default") {
        const n = (counts.get(`${label}`) || 0) + 1;
        counts.set(`${label}`, n);
        c.log(`${label}: ${n}`);
      },
      countReset: (label = "default") => counts.delete(`${label}`),
      time: (label = "default") => timers.set(`${label}`, native.monotonicMs()),
      timeLog(label = "default", ...data) {
        const start = timers.get(`${label}`);
        if (start !== undefined) c.log(`${label}: ${formatDuration(native.monotonicMs() - start)}`, ...data);
      },
      timeEnd(label = "default") {
        c.timeLog(label);
        timers.delete(`${label}`);
      },
      group: (...data) => data.length && c.log(...data),
      groupCollapsed: (...data) => data.length && c.log(...data),
      groupEnd: () => {},
      table: (data) => c.log(data),
    };
    c.log = c.info;
    c.dirxml = c.log;
    return c;
  }

  function formatDuration(ms) {
    return ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms.toFixed(3)}ms`;
  }

  // --- timers ---------------------------------------------------------------

  const timers = new Map();
  let timerSequence = 0;

  class Timeout {
    constructor(callback, delay, args, repeat) {
      this._id = ++timerSequence;
      this._callback = callback;
      this._args = args;
      this._delay = Math.max(1, Number(delay) || 1);
      this._repeat = repeat;
      this._ref = true;
      this._due = native.monotonicMs() + (repeat === null ? 0 : this._delay);
      timers.set(this._id, this);
    }
    ref() {
      this._ref = true;
      return this;
    }
    unref() {
      this._ref = false;
      return this;
    }
    hasRef() {
      return this._ref;
    }
    refresh() {
      this._due = native.monotonicMs() + this._delay;
      if (!timers.has(this._id)) timers.set(this._id, this);
      return this;
    }
    close() {
      timers.delete(this._id);
      return this;
    }
    [Symbol.toPrimitive]() {
      return this._id;
    }
  }
  // setImmediate's handle: due now, run before later timers.
  class Immediate extends Timeout {}

  function clearTimer(handle) {
    if (handle == null) return;
    timers.delete(typeof handle === "object" ? handle._id : Number(handle));
  }

  function checkCallback(callback) {
    if (typeof callback !== "function") {
      const err = new TypeError(`The "callback" argument must be of type function. Received ${inspect(callback)}`);
      err.code = "ERR_INVALID_ARG_TYPE";
      throw err;
    }
  }

  const timerGlobals = {
    setTimeout(callback, delay, ...args) {
      checkCallback(callback);
      return new Timeout(callback, delay, args, false);
    },
    setInterval(callback, delay, ...args) {
      checkCallback(callback);
      return new Timeout(callback, delay, args, true);
    },
    setImmediate(callback, ...args) {
      checkCallback(callback);
      return new Immediate(callback, 0, args, null);
    },
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    clearImmediate: clearTimer,
  };

  function nextTimer() {
    let next = null;
    for (const timer of timers.values()) {
      if (next === null || timer._due < next._due || (timer._due === next._due && timer._id < next._id)) next = timer;
    }
    return next;
  }

  function hasRefedTimers() {
    for (const timer of timers.values()) if (timer._ref) return true;
    return false;
  }

  // Runs the earliest due timer, if any; lib.rs drains the job queue before
  // the next one, as Node runs microtasks between timer callbacks.
  function runDueTimer() {
    const timer = nextTimer();
    if (timer === null || timer._due > native.monotonicMs()) return false;
    if (timer._repeat === true) timer._due += timer._delay;
    else timers.delete(timer._id);
    try {
      timer._callback(...timer._args);
    } catch (err) {
      uncaughtException(err);
    }
    return true;
  }

  // --- encodings, URLs, crypto, structuredClone ------------------------------

  function utf8Encode(input) {
    const s = String(input);
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(out);
  }

  function utf8Decode(bytes, fatal) {
    let out = "";
    let chunk = [];
    const fail = () => {
      if (fatal) {
        const err = new TypeError("The encoded data was not valid for encoding utf-8");
        err.code = "ERR_ENCODING_INVALID_ENCODED_DATA";
        throw err;
      }
      chunk.push(0xfffd);
    };
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i];
      let need = 0;
      let c;
      if (b < 0x80) c = b;
      else if (b >= 0xc2 && b < 0xe0) (need = 1), (c = b & 31);
      else if (b >= 0xe0 && b < 0xf0) (need = 2), (c = b & 15);
      else if (b >= 0xf0 && b < 0xf5) (need = 3), (c = b & 7);
      else {
        fail();
        i++;
        continue;
      }
      let j = 1;
      for (; j <= need; j++) {
        const n = bytes[i + j];
        if (n === undefined || (n & 0xc0) !== 0x80) break;
        c = (c << 6) | (n & 63);
      }
      if (j <= need || (need === 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (need === 3 && (c < 0x10000 || c > 0x10ffff))) {
        fail();
        i += Math.max(1, j);
        continue;
      }
      i += need + 1;
      if (c >= 0x10000) {
        c -= 0x10000;
        chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
      } else chunk.push(c);
      if (chunk.length > 4096) {
        out += String.fromCharCode(...chunk);
        chunk = [];
      }
    }
    return out + String.fromCharCode(...chunk);
  }

  function toBytes(input) {
    if (input instanceof Uint8Array) return input;
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (input === undefined) return new Uint8Array(0);
    throw new TypeError('The "input" argument must be an instance of ArrayBuffer or ArrayBufferView');
  }

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }
    encode(input = "") {
      return utf8Encode(input);
    }
    encodeInto(input, dest) {
      const bytes = utf8Encode(input);
      const written = Math.min(bytes.length, dest.length);
      dest.set(bytes.subarray(0, written));
      return { read: String(input).length, written };
    }
  }

  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      const normalized = String(label).trim().toLowerCase();
      if (normalized !== "utf-8" && normalized !== "utf8" && normalized !== "unicode-1-1-utf-8") {
        const err = new RangeError(`The "${label}" encoding is not supported`);
        err.code = "ERR_ENCODING_NOT_SUPPORTED";
        throw err;
      }
      this.fatal = Boolean(options.fatal);
      this.ignoreBOM = Boolean(options.ignoreBOM);
    }
    get encoding() {
      return "utf-8";
    }
    decode(input) {
      let bytes = toBytes(input);
      if (!this.ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      return utf8Decode(bytes, this.fatal);
    }
  }

  const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  function base64Encode(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
      out += BASE64[n >> 18] + BASE64[(n >> 12) & 63];
      out += i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : "=";
      out += i + 2 < bytes.length ? BASE64[n & 63] : "=";
    }
    return out;
  }

  function base64Decode(text) {
    const clean = String(text).replace(/[\s=]/g, "").replace(/-/g, "+").replace(/_/g, "/");
    const out = [];
    let bits = 0;
    let value = 0;
    for (const ch of clean) {
      const index = BASE64.indexOf(ch);
      if (index < 0) break;
      value = (value << 6) | index;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >> bits) & 255);
      }
    }
    return new Uint8Array(out);
  }

  // Math.random from WASI's random_get (53 bits a number, 256 numbers a
  // draw) rather than QuickJS's generator, whose state a snapshot would
  // replay in every environment restored from it: environ() drops the pool.
  let randomPool = new Float64Array(0);
  let randomNext = 0;
  function random() {
    if (randomNext === randomPool.length) {
      const bytes = native.randomBytes(256 * 8);
      const words = new Uint32Array(bytes.buffer, bytes.byteOffset, 512);
      randomPool = new Float64Array(256);
      for (let i = 0; i < 256; i++) randomPool[i] = ((words[2 * i] >>> 5) * 67108864 + (words[2 * i + 1] >>> 6)) / 9007199254740992;
      randomNext = 0;
    }
    return randomPool[randomNext++];
  }
  Object.defineProperty(Math, "random", { value: random, writable: true, configurable: true });

  function randomUUID() {
    const b = native.randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
      const err = new TypeError("The data argument must be an integer-type TypedArray");
      err.name = "TypeMismatchError";
      throw err;
    }
    if (array.byteLength > 65536) {
      const err = new RangeError(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536)`);
      err.name = "QuotaExceededError";
      throw err;
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(native.randomBytes(array.byteLength));
    return array;
  }

  const crypto = { randomUUID, getRandomValues, subtle: undefined };

  // Buffer: the Uint8Array subclass handlers use for encodings (utf8,
  // base64, base64url, hex, latin1/binary, ascii), without Node's full API.
  const ENCODINGS = ["utf8", "utf-8", "base64", "base64url", "hex", "latin1", "binary", "ascii", "ucs2", "utf16le"];

  function checkEncoding(encoding) {
    const e = String(encoding || "utf8").toLowerCase();
    if (!ENCODINGS.includes(e)) {
      const err = new TypeError(`Unknown encoding: ${encoding}`);
      err.code = "ERR_UNKNOWN_ENCODING";
      throw err;
    }
    return e;
  }

  function encodeString(text, encoding) {
    switch (checkEncoding(encoding)) {
      case "base64":
      case "base64url":
        return base64Decode(text);
      case "hex": {
        const bytes = [];
        for (let i = 0; i + 1 < text.length; i += 2) {
          const byte = parseInt(text.slice(i, i + 2), 16);
          if (Number.isNaN(byte)) break;
          bytes.push(byte);
        }
        return new Uint8Array(bytes);
      }
      case "latin1":
      case "binary":
      case "ascii":
        return Uint8Array.from(text, (c) => c.charCodeAt(0) & 255);
      case "ucs2":
      case "utf16le": {
        const bytes = new Uint8Array(text.length * 2);
        for (let i = 0; i < text.length; i++) (bytes[2 * i] = text.charCodeAt(i) & 255), (bytes[2 * i + 1] = text.charCodeAt(i) >> 8);
        return bytes;
      }
      default:
        return utf8Encode(text);
    }
  }

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") return Buffer._wrap(encodeString(value, encodingOrOffset));
      if (value instanceof ArrayBuffer) return new Buffer(value, encodingOrOffset || 0, length ?? value.byteLength - (encodingOrOffset || 0));
      if (ArrayBuffer.isView(value) || Array.isArray(value)) return Buffer._wrap(Uint8Array.from(value, (b) => b & 255));
      if (value && value.type === "Buffer" && Array.isArray(value.data)) return Buffer._wrap(Uint8Array.from(value.data));
      throw new TypeError("The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.");
    }
    static _wrap(bytes) {
      return new Buffer(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    static alloc(size, fill) {
      const buf = new Buffer(size);
      if (fill !== undefined) buf.fill(typeof fill === "string" ? encodeString(fill)[0] : fill);
      return buf;
    }
    static allocUnsafe(size) {
      return new Buffer(size);
    }
    static isBuffer(value) {
      return value instanceof Buffer;
    }
    static isEncoding(encoding) {
      return ENCODINGS.includes(String(encoding).toLowerCase());
    }
    static byteLength(value, encoding) {
      return typeof value === "string" ? encodeString(value, encoding).length : value.byteLength;
    }
    static concat(list, totalLength) {
      const total = totalLength ?? list.reduce((n, b) => n + b.length, 0);
      const out = Buffer.alloc(total);
      let offset = 0;
      for (const b of list) {
        out.set(b.subarray(0, Math.max(0, total - offset)), offset);
        offset += b.length;
        if (offset >= total) break;
      }
      return out;
    }
    static compare(a, b) {
      return a.compare(b);
    }
    get _isBuffer() {
      return true;
    }
    toString(encoding, start = 0, end = this.length) {
      const bytes = this.subarray(start, end);
      switch (checkEncoding(encoding)) {
        case "base64":
          return base64Encode(bytes);
        case "base64url":
          return base64Encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
        case "hex":
          return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        case "latin1":
        case "binary":
          return Array.from(bytes, (b) => String.fromCharCode(b)).join("");
        case "ascii":
          return Array.from(bytes, (b) => String.fromCharCode(b & 127)).join("");
        case "ucs2":
        case "utf16le": {
          let out = "";
          for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
          return out;
        }
        default:
          return utf8Decode(bytes, false);
      }
    }
    toJSON() {
      return { type: "Buffer", data: Array.from(this) };
    }
    equals(other) {
      return this.compare(other) === 0;
    }
    compare(other) {
      for (let i = 0; i < Math.min(this.length, other.length); i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
    }
    write(text, offset = 0, encoding = "utf8") {
      const bytes = encodeString(text, encoding).subarray(0, this.length - offset);
      this.set(bytes, offset);
      return bytes.length;
    }
    slice(start, end) {
      return this.subarray(start, end);
    }
    readUInt8(offset = 0) {
      return this[offset];
    }
    readUInt32BE(offset = 0) {
      return new DataView(this.buffer, this.byteOffset).getUint32(offset);
    }
    readUInt32LE(offset = 0) {
      return new DataView(this.buffer, this.byteOffset).getUint32(offset, true);
    }
  }

  function structuredClone(value, memo = new Map()) {
    if (typeof value !== "object" || value === null) {
      if (typeof value === "function" || typeof value === "symbol") {
        const err = new Error(`${typeof value === "function" ? String(value) : value.toString()} could not be cloned.`);
        err.name = "DataCloneError";
        throw err;
      }
      return value;
    }
    if (memo.has(value)) return memo.get(value);
    let copy;
    if (Array.isArray(value)) {
      copy = new Array(value.length);
      memo.set(value, copy);
      for (const key of Object.keys(value)) copy[key] = structuredClone(value[key], memo);
      return copy;
    }
    if (value instanceof Date) copy = new Date(value.getTime());
    else if (value instanceof RegExp) copy = new RegExp(value.source, value.flags);
    else if (value instanceof ArrayBuffer) copy = value.slice(0);
    else if (ArrayBuffer.isView(value)) copy = new value.constructor(structuredClone(value.buffer, memo), value.byteOffset, value.length ?? value.byteLength);
    else if (value instanceof Map) {
      copy = new Map();
      memo.set(value, copy);
      for (const [k, v] of value) copy.set(structuredClone(k, memo), structuredClone(v, memo));
      return copy;
    } else if (value instanceof Set) {
      copy = new Set();
      memo.set(value, copy);
      for (const v of value) copy.add(structuredClone(v, memo));
      return copy;
    } else if (value instanceof Error) {
      const Ctor = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError }[value.name] || Error;
      copy = new Ctor(value.message);
      if (value.stack !== undefined) copy.stack = value.stack;
      if ("cause" in value) copy.cause = structuredClone(value.cause, memo);
    } else if (value instanceof Boolean || value instanceof Number || value instanceof String) {
      copy = Object(value.valueOf());
    } else {
      const tag = Object.prototype.toString.call(value);
      if (tag !== "[object Object]" || typeof value.then === "function" || value instanceof Promise || value instanceof WeakMap) {
        const err = new Error(`${tag.slice(8, -1)} object could not be cloned.`);
        err.name = "DataCloneError";
        throw err;
      }
      copy = {};
      memo.set(value, copy);
      for (const key of Object.keys(value)) copy[key] = structuredClone(value[key], memo);
      return copy;
    }
    memo.set(value, copy);
    return copy;
  }

  // URL and URLSearchParams: the WHATWG parts handlers use (absolute and
  // relative URLs of special schemes, search params), without IDNA.
  const SPECIAL_PORTS = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };

  function encodeSet(s, pattern) {
    return String(s).replace(pattern, (c) => Array.from(utf8Encode(c), (b) => "%" + b.toString(16).toUpperCase().padStart(2, "0")).join(""));
  }

  class URLSearchParams {
    constructor(init = "") {
      this._list = [];
      this._url = null;
      if (typeof init === "string") this._parse(init);
      else if (init instanceof URLSearchParams) this._list = init._list.map(([k, v]) => [k, v]);
      else if (init && typeof init[Symbol.iterator] === "function") for (const [k, v] of init) this._list.push([String(k), String(v)]);
      else if (init && typeof init === "object") for (const k of Object.keys(init)) this._list.push([k, String(init[k])]);
    }
    _parse(s) {
      this._list = [];
      for (const part of s.replace(/^\?/, "").split("&")) {
        if (part === "") continue;
        const i = part.indexOf("=");
        const decode = (x) => {
          try {
            return decodeURIComponent(x.replace(/\+/g, " "));
          } catch (e) {
            return x;
          }
        };
        this._list.push(i < 0 ? [decode(part), ""] : [decode(part.slice(0, i)), decode(part.slice(i + 1))]);
      }
    }
    _update() {
      if (this._url) this._url._search = this._list.length ? "?" + this.toString() : "";
    }
    get size() {
      return this._list.length;
    }
    append(k, v) {
      this._list.push([String(k), String(v)]);
      this._update();
    }
    delete(k, v) {
      this._list = this._list.filter(([a, b]) => a !== String(k) || (v !== undefined && b !== String(v)));
      this._update();
    }
    get(k) {
      const e = this._list.find(([a]) => a === String(k));
      return e ? e[1] : null;
    }
    getAll(k) {
      return this._list.filter(([a]) => a === String(k)).map(([, b]) => b);
    }
    has(k, v) {
      return this._list.some(([a, b]) => a === String(k) && (v === undefined || b === String(v)));
    }
    set(k, v) {
      const i = this._list.findIndex(([a]) => a === String(k));
      if (i < 0) this._list.push([String(k), String(v)]);
      else {
        this._list[i][1] = String(v);
        this._list = this._list.filter(([a], j) => j <= i || a !== String(k));
      }
      this._update();
    }
    sort() {
      this._list.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      this._update();
    }
    forEach(fn, thisArg) {
      for (const [k, v] of this._list) fn.call(thisArg, v, k, this);
    }
    keys() {
      return this._list.map(([k]) => k)[Symbol.iterator]();
    }
    values() {
      return this._list.map(([, v]) => v)[Symbol.iterator]();
    }
    entries() {
      return this._list.map(([k, v]) => [k, v])[Symbol.iterator]();
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    toString() {
      const enc = (s) => encodeSet(s, /[^*\-._A-Za-z0-9 ]/gu).replace(/ /g, "+");
      return this._list.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
    }
    get [Symbol.toStringTag]() {
      return "URLSearchParams";
    }
  }

  function invalidUrl(input) {
    const err = new TypeError("Invalid URL");
    err.code = "ERR_INVALID_URL";
    err.input = input;
    return err;
  }

  class URL {
    constructor(input, base) {
      input = String(input).trim();
      const match = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(input);
      if (match) this._parseAbsolute(match[1].toLowerCase() + ":", match[2], input);
      else {
        if (base === undefined) throw invalidUrl(input);
        const b = base instanceof URL ? base : new URL(base);
        this._resolve(b, input);
      }
    }
    _parseAbsolute(protocol, rest, input) {
      this._protocol = protocol;
      this._username = this._password = this._hostname = this._port = "";
      let hash = "";
      let search = "";
      const h = rest.indexOf("#");
      if (h >= 0) (hash = rest.slice(h)), (rest = rest.slice(0, h));
      const q = rest.indexOf("?");
      if (q >= 0) (search = rest.slice(q)), (rest = rest.slice(0, q));
      const special = protocol in SPECIAL_PORTS;
      if (special) rest = rest.replace(/\\/g, "/");
      if (rest.startsWith("//") || (special && protocol !== "file:")) {
        // file:///p has an empty host; http:/x, http:x and http:///x do not.
        rest = protocol === "file:" ? rest.slice(2) : rest.replace(/^\/*/, "");
        const slash = rest.indexOf("/");
        const authority = slash < 0 ? rest : rest.slice(0, slash);
        rest = slash < 0 ? "" : rest.slice(slash);
        this._setAuthority(authority, input);
        if (special && protocol !== "file:" && this._hostname === "") throw invalidUrl(input);
        this._pathname = special ? normalizeUrlPath(rest || "/") : rest;
        this._opaque = false;
      } else if (rest.startsWith("/")) {
        this._pathname = normalizeUrlPath(rest);
        this._opaque = false;
      } else {
        this._pathname = rest;
        this._opaque = true;
      }
      this._pathname = encodeSet(this._pathname, /[^\x21-\x7e]|["<>`{}]|#/gu);
      this._search = search === "?" ? "" : encodeSet(search, /[^\x21-\x7e]|["<>#]|'/gu);
      this._hash = hash === "#" ? "" : encodeSet(hash, /[^\x21-\x7e]|["<>`]/gu);
      this._params = null;
    }
    _setAuthority(authority, input) {
      const at = authority.lastIndexOf("@");
      if (at >= 0) {
        const [user, ...pass] = authority.slice(0, at).split(":");
        this._username = user;
        this._password = pass.join(":");
        authority = authority.slice(at + 1);
      }
      const port = /:(\d*)$/.exec(authority);
      if (port) {
        authority = authority.slice(0, port.index);
        this._port = port[1] === "" || SPECIAL_PORTS[this._protocol] === String(Number(port[1])) ? "" : String(Number(port[1]));
        if (Number(port[1]) > 65535) throw invalidUrl(input);
      }
      if (/[\s#%/:<>?@[\\\]^|]/.test(authority.replace(/^\[.*\]$/, ""))) throw invalidUrl(input);
      this._hostname = this._protocol in SPECIAL_PORTS ? authority.toLowerCase() : authority;
    }
    _resolve(base, input) {
      Object.assign(this, base);
      this._params = null;
      input = this._protocol in SPECIAL_PORTS ? input.replace(/\\/g, "/") : input;
      if (input.startsWith("//")) return this._parseAbsolute(this._protocol, input, input);
      let hash = "";
      let search = null;
      const h = input.indexOf("#");
      if (h >= 0) (hash = input.slice(h)), (input = input.slice(0, h));
      const q = input.indexOf("?");
      if (q >= 0) (search = input.slice(q)), (input = input.slice(0, q));
      if (input.startsWith("/")) this._pathname = normalizeUrlPath(input);
      else if (input !== "") this._pathname = normalizeUrlPath(this._pathname.replace(/[^/]*$/, "") + input);
      if (input !== "" || search !== null) this._search = search === null || search === "?" ? "" : search;
      this._hash = hash === "#" ? "" : hash;
      this._pathname = encodeSet(this._pathname, /[^\x21-\x7e]|["<>`{}]/gu);
    }
    get protocol() {
      return this._protocol;
    }
    set protocol(v) {
      this._protocol = String(v).replace(/:?$/, ":").toLowerCase();
    }
    get username() {
      return this._username;
    }
    set username(v) {
      this._username = String(v);
    }
    get password() {
      return this._password;
    }
    set password(v) {
      this._password = String(v);
    }
    get hostname() {
      return this._hostname;
    }
    set hostname(v) {
      this._hostname = String(v);
    }
    get port() {
      return this._port;
    }
    set port(v) {
      this._port = SPECIAL_PORTS[this._protocol] === String(v) ? "" : String(v);
    }
    get host() {
      return this._hostname + (this._port ? ":" + this._port : "");
    }
    set host(v) {
      const [h, p] = String(v).split(":");
      this._hostname = h;
      if (p !== undefined) this.port = p;
    }
    get origin() {
      return this._protocol in SPECIAL_PORTS && this._protocol !== "file:" ? `${this._protocol}//${this.host}` : "null";
    }
    get pathname() {
      return this._pathname;
    }
    set pathname(v) {
      v = String(v);
      this._pathname = this._opaque ? v : normalizeUrlPath(v.startsWith("/") ? v : "/" + v);
    }
    get search() {
      return this._search;
    }
    set search(v) {
      v = String(v);
      this._search = v === "" || v === "?" ? "" : v.startsWith("?") ? v : "?" + v;
      if (this._params) this._params._parse(this._search);
    }
    get searchParams() {
      if (!this._params) {
        this._params = new URLSearchParams(this._search);
        this._params._url = this;
      }
      return this._params;
    }
    get hash() {
      return this._hash;
    }
    set hash(v) {
      v = String(v);
      this._hash = v === "" || v === "#" ? "" : v.startsWith("#") ? v : "#" + v;
    }
    get href() {
      const auth = this._username ? this._username + (this._password ? ":" + this._password : "") + "@" : "";
      const authority = this._opaque ? "" : this._protocol in SPECIAL_PORTS || this._hostname !== "" ? "//" + auth + this.host : "";
      return this._protocol + authority + this._pathname + this._search + this._hash;
    }
    set href(v) {
      const parsed = new URL(v);
      Object.assign(this, parsed);
    }
    toString() {
      return this.href;
    }
    toJSON() {
      return this.href;
    }
    static canParse(input, base) {
      try {
        new URL(input, base);
        return true;
      } catch (e) {
        return false;
      }
    }
    get [Symbol.toStringTag]() {
      return "URL";
    }
  }

  function normalizeUrlPath(p) {
    const parts = p.split("/");
    const out = [];
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i];
      const last = i === parts.length - 1;
      if (part === "." || part.toLowerCase() === "%2e") {
        if (last) out.push("");
      } else if (part === ".." || /^(\.|%2e){2}$/i.test(part)) {
        out.pop();
        if (last) out.push("");
      } else out.push(part);
    }
    return "/" + out.join("/");
  }

  function fileURLToPath(url) {
    const u = typeof url === "string" ? new URL(url) : url;
    if (u.protocol !== "file:") {
      const err = new TypeError("The URL must be of scheme file");
      err.code = "ERR_INVALID_URL_SCHEME";
      throw err;
    }
    return decodeURIComponent(u.pathname);
  }

  function pathToFileURL(p) {
    return new URL("file://" + encodeSet(path.resolve(p), /[^\x21-\x7e]|[%?#"<>`{}]/gu));
  }

  // --- EventEmitter (node:events), used by process and common packages ----

  class EventEmitter {
    constructor() {
      this._events = new Map();
    }
    on(name, listener) {
      if (!this._events) this._events = new Map();
      if (!this._events.has(name)) this._events.set(name, []);
      this._events.get(name).push(listener);
      return this;
    }
    addListener(name, listener) {
      return this.on(name, listener);
    }
    prependListener(name, listener) {
      this.on(name, listener);
      const list = this._events.get(name);
      list.unshift(list.pop());
      return this;
    }
    once(name, listener) {
      const wrapped = (...args) => {
        this.off(name, wrapped);
        listener.apply(this, args);
      };
      wrapped.listener = listener;
      return this.on(name, wrapped);
    }
    off(name, listener) {
      const list = this._events?.get(name);
      if (list) {
        const i = list.findIndex((l) => l === listener || l.listener === listener);
        if (i >= 0) list.splice(i, 1);
      }
      return this;
    }
    removeListener(name, listener) {
      return this.off(name, listener);
    }
    removeAllListeners(name) {
      if (name === undefined) this._events?.clear();
      else this._events?.delete(name);
      return this;
    }
    emit(name, ...args) {
      const list = this._events?.get(name);
      if (!list || list.length === 0) {
        if (name === "error") throw args[0] instanceof Error ? args[0] : new Error(`Unhandled error. (${inspect(args[0])})`);
        return false;
      }
      for (const listener of [...list]) listener.apply(this, args);
      return true;
    }
    listeners(name) {
      return (this._events?.get(name) || []).map((l) => l.listener || l);
    }
    listenerCount(name) {
      return this._events?.get(name)?.length || 0;
    }
    eventNames() {
      return [...(this._events?.keys() || [])];
    }
    setMaxListeners() {
      return this;
    }
    getMaxListeners() {
      return 10;
    }
  }
  EventEmitter.EventEmitter = EventEmitter;
  EventEmitter.defaultMaxListeners = 10;
  EventEmitter.once = (emitter, name) => new Promise((resolve) => emitter.once(name, (...args) => resolve(args)));

  // --- process --------------------------------------------------------------

  const startMs = native.monotonicMs();
  const process = new EventEmitter();
  Object.assign(process, {
    env,
    argv: ["/var/lang/bin/node", RUNTIME_FILE],
    argv0: "node",
    execArgv: [],
    execPath: "/var/lang/bin/node",
    platform: "linux",
    arch: "wasm32",
    pid: 1,
    ppid: 0,
    title: "node",
    version: "v22.0.0",
    versions: { node: "22.0.0", quickjs: "ng" },
    release: { name: "node" },
    exitCode: undefined,
    cwd: () => TASK_ROOT,
    chdir: () => {
      throw new Error("process.chdir() is not supported in lambda-wasm");
    },
    uptime: () => (native.monotonicMs() - startMs) / 1000,
    hrtime: Object.assign(
      (previous) => {
        const ns = BigInt(Math.round(native.monotonicMs() * 1e6));
        let s = Number(ns / 1000000000n);
        let n = Number(ns % 1000000000n);
        if (previous) {
          s -= previous[0];
          n -= previous[1];
          if (n < 0) (s -= 1), (n += 1e9);
        }
        return [s, n];
      },
      { bigint: () => BigInt(Math.round(native.monotonicMs() * 1e6)) },
    ),
    memoryUsage: Object.assign(() => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }), { rss: () => 0 }),
    cpuUsage: () => ({ user: 0, system: 0 }),
    nextTick: (callback, ...args) => queueMicrotask(() => callback(...args)),
    emitWarning: (warning) => native.write(2, `(node:1) ${warning instanceof Error ? `${warning.name}: ${warning.message}` : `Warning: ${warning}`}\n`),
    exit: (code) => native.exit(code === undefined ? process.exitCode || 0 : Number(code)),
    abort: () => native.exit(134),
    stdout: { write: (chunk) => (native.write(1, String(chunk)), true), isTTY: false, fd: 1 },
    stderr: { write: (chunk) => (native.write(2, String(chunk)), true), isTTY: false, fd: 2 },
    stdin: { isTTY: false, fd: 0 },
    features: {},
    config: { variables: {} },
  });

  // --- globals --------------------------------------------------------------

  const consoleObject = makeConsole();
  const performance = globalThis.performance || {};
  if (typeof performance.now !== "function") performance.now = () => native.monotonicMs();
  if (typeof performance.timeOrigin !== "number") performance.timeOrigin = Date.now() - native.monotonicMs();

  function defineGlobal(name, value) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }

  defineGlobal("global", globalThis);
  defineGlobal("console", consoleObject);
  defineGlobal("process", process);
  for (const [name, fn] of Object.entries(timerGlobals)) defineGlobal(name, fn);
  if (typeof globalThis.queueMicrotask !== "function") defineGlobal("queueMicrotask", (fn) => Promise.resolve().then(fn));
  defineGlobal("structuredClone", (value) => structuredClone(value));
  defineGlobal("Buffer", Buffer);
  defineGlobal("TextEncoder", TextEncoder);
  defineGlobal("TextDecoder", TextDecoder);
  defineGlobal("URL", URL);
  defineGlobal("URLSearchParams", URLSearchParams);
  defineGlobal("crypto", crypto);
  defineGlobal("performance", performance);
  if (typeof globalThis.btoa !== "function") {
    defineGlobal("btoa", (s) => base64Encode(Array.from(String(s), (c) => c.charCodeAt(0))));
    defineGlobal("atob", (s) => String.fromCharCode(...base64Decode(s)));
  }
  // fetch over the host's outbound HTTP (fetch.js).
  const web = native.fetchGlue({ exchange: native.exchange, utf8Encode, utf8Decode, toBytes, URL, URLSearchParams });
  for (const name of ["fetch", "Headers", "Request", "Response"]) defineGlobal(name, web[name]);
  defineGlobal("awslambda", {
    streamifyResponse: (handler) => {
      handler[Symbol.for("aws.lambda.runtime.handler.streaming")] = "response";
      return handler;
    },
  });

  // --- built-in modules (node:*) ----------------------------------------------

  function promisify(fn) {
    return (...args) => new Promise((resolve, reject) => fn(...args, (err, value) => (err ? reject(err) : resolve(value))));
  }

  function fsError(code, syscall, p) {
    const messages = { ENOENT: "no such file or directory", EISDIR: "illegal operation on a directory", EROFS: "read-only file system" };
    const err = new Error(`${code}: ${messages[code]}, ${syscall} '${p}'`);
    Object.assign(err, { errno: -2, code, syscall, path: p });
    return err;
  }

  function readFileSync(p, options) {
    const file = p instanceof URL ? fileURLToPath(p) : String(p);
    if (native.stat(file) === 2) throw fsError("EISDIR", "read", file);
    const text = native.readFile(path.resolve(file));
    if (text === null) throw fsError("ENOENT", "open", file);
    const encoding = typeof options === "string" ? options : options?.encoding;
    return encoding ? text : Buffer.from(text);
  }

  const builtins = {
    path: () => path,
    util: () => ({
      format,
      inspect: Object.assign(inspect, { custom: Symbol.for("nodejs.util.inspect.custom"), defaultOptions: { depth: 2, breakLength: 80 } }),
      promisify,
      inherits(ctor, superCtor) {
        Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
        Object.setPrototypeOf(ctor, superCtor);
        ctor.super_ = superCtor;
      },
      deprecate: (fn) => fn,
      isDeepStrictEqual: (a, b) => JSON.stringify(a) === JSON.stringify(b),
      types: { isPromise: (v) => v instanceof Promise, isDate: (v) => v instanceof Date, isRegExp: (v) => v instanceof RegExp, isNativeError: (v) => v instanceof Error },
      TextEncoder,
      TextDecoder,
    }),
    events: () => EventEmitter,
    url: () => ({ URL, URLSearchParams, fileURLToPath, pathToFileURL }),
    timers: () => ({ ...timerGlobals }),
    "timers/promises": () => ({
      setTimeout: (delay, value) => new Promise((resolve) => timerGlobals.setTimeout(resolve, delay, value)),
      setImmediate: (value) => new Promise((resolve) => timerGlobals.setImmediate(resolve, value)),
    }),
    process: () => process,
    crypto: () => ({ randomUUID, getRandomValues, webcrypto: crypto, randomBytes: (n) => Buffer._wrap(native.randomBytes(n)) }),
    fs: () => ({
      readFileSync,
      existsSync: (p) => native.stat(String(p)) !== 0,
      promises: { readFile: async (p, options) => readFileSync(p, options) },
    }),
    "fs/promises": () => ({ readFile: async (p, options) => readFileSync(p, options) }),
    buffer: () => ({ Buffer }),
  };
  const builtinCache = new Map();

  function builtinName(specifier) {
    const name = specifier.startsWith("node:") ? specifier.slice(5) : specifier;
    return Object.prototype.hasOwnProperty.call(builtins, name) ? name : null;
  }

  function loadBuiltin(name) {
    if (!builtinCache.has(name)) builtinCache.set(name, builtins[name]());
    return builtinCache.get(name);
  }

  // --- module resolution (Node's algorithm, CommonJS and ES) ----------------

  // Node's CommonJS resolution error; `stack` is the chain of requiring
  // files, ending with the runtime that loaded the handler.
  function notFound(specifier, stack) {
    const err = new Error(`Cannot find module '${specifier}'\nRequire stack:\n- ${stack.join("\n- ")}`);
    err.code = "MODULE_NOT_FOUND";
    err.requireStack = stack;
    return err;
  }

  function requireStack(module) {
    const stack = [];
    for (let m = module; m; m = m.parent) stack.push(m.filename);
    return [...stack, RUNTIME_FILE];
  }

  const isFile = (p) => native.stat(p) === 1;
  const isDirectory = (p) => native.stat(p) === 2;
  const packageJsonCache = new Map();

  function readPackageJson(dir) {
    if (!packageJsonCache.has(dir)) {
      const text = native.readFile(dir + "/package.json");
      let parsed = null;
      if (text !== null) {
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          parsed = null;
        }
      }
      packageJsonCache.set(dir, parsed);
    }
    return packageJsonCache.get(dir);
  }

  // The nearest package.json's "type", as Node decides .js files' format.
  function packageType(file) {
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      if (dir.endsWith("/node_modules")) return undefined;
      const pkg = readPackageJson(dir);
      if (pkg) return pkg.type;
      if (dir === "/") return undefined;
    }
  }

  const EXTENSIONS = ["", ".js", ".mjs", ".cjs", ".json"];

  function resolveFile(p) {
    for (const ext of EXTENSIONS) if (isFile(p + ext)) return p + ext;
    return null;
  }

  function resolveDirectory(dir, conditions) {
    const pkg = readPackageJson(dir);
    if (pkg) {
      const exported = pkg.exports !== undefined ? resolveExports(dir, pkg.exports, ".", conditions) : null;
      if (exported) return exported;
      if (typeof pkg.main === "string") {
        const main = resolveFile(path.resolve(dir, pkg.main)) || resolveIndex(path.resolve(dir, pkg.main));
        if (main) return main;
      }
    }
    return resolveIndex(dir);
  }

  function resolveIndex(dir) {
    for (const ext of [".js", ".mjs", ".cjs", ".json"]) if (isFile(dir + "/index" + ext)) return dir + "/index" + ext;
    return null;
  }

  function resolveTarget(dir, target, conditions, star) {
    if (typeof target === "string") {
      const replaced = star === undefined ? target : target.replace(/\*/g, star);
      const file = path.resolve(dir, replaced);
      return isFile(file) ? file : resolveFile(file);
    }
    if (Array.isArray(target)) {
      for (const t of target) {
        const found = resolveTarget(dir, t, conditions, star);
        if (found) return found;
      }
      return null;
    }
    if (target && typeof target === "object") {
      for (const key of Object.keys(target)) {
        if (key === "default" || conditions.includes(key)) {
          const found = resolveTarget(dir, target[key], conditions, star);
          if (found) return found;
        }
      }
    }
    return null;
  }

  function resolveExports(dir, exports, subpath, conditions) {
    const isMap = exports && typeof exports === "object" && !Array.isArray(exports) && Object.keys(exports).some((k) => k.startsWith("."));
    if (!isMap) return subpath === "." ? resolveTarget(dir, exports, conditions) : null;
    if (Object.prototype.hasOwnProperty.call(exports, subpath)) return resolveTarget(dir, exports[subpath], conditions);
    for (const key of Object.keys(exports)) {
      const star = key.indexOf("*");
      if (star < 0) continue;
      const [prefix, suffix] = [key.slice(0, star), key.slice(star + 1)];
      if (subpath.startsWith(prefix) && subpath.endsWith(suffix) && subpath.length >= key.length - 1) {
        return resolveTarget(dir, exports[key], conditions, subpath.slice(prefix.length, subpath.length - suffix.length));
      }
    }
    return null;
  }

  function resolvePackage(specifier, fromDir, conditions) {
    const parts = specifier.split("/");
    const nameLength = specifier.startsWith("@") ? 2 : 1;
    const name = parts.slice(0, nameLength).join("/");
    const subpath = parts.length > nameLength ? "./" + parts.slice(nameLength).join("/") : ".";
    const dirs = [];
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      if (!dir.endsWith("/node_modules")) dirs.push(dir === "/" ? "/node_modules" : dir + "/node_modules");
      if (dir === "/") break;
    }
    dirs.push("/opt/nodejs/node22/node_modules", "/opt/nodejs/node_modules");
    for (const modules of dirs) {
      const pkgDir = modules + "/" + name;
      if (!isDirectory(pkgDir)) continue;
      const pkg = readPackageJson(pkgDir);
      if (pkg && pkg.exports !== undefined) {
        const found = resolveExports(pkgDir, pkg.exports, subpath, conditions);
        if (found) return found;
        continue;
      }
      const target = path.resolve(pkgDir, subpath);
      const found = subpath === "." ? resolveDirectory(pkgDir, conditions) : resolveFile(target) || (isDirectory(target) && resolveDirectory(target, conditions));
      if (found) return found;
    }
    return null;
  }

  // A file path for `specifier` imported or required from `fromDir`.
  function resolvePath(specifier, fromDir, stack, conditions) {
    if (specifier.startsWith("file://")) specifier = fileURLToPath(specifier);
    let found = null;
    if (specifier.startsWith("/") || specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || specifier === "..") {
      const target = path.resolve(fromDir, specifier);
      found = resolveFile(target) || (isDirectory(target) && resolveDirectory(target, conditions)) || null;
    } else {
      found = resolvePackage(specifier, fromDir, conditions);
    }
    if (!found) throw notFound(specifier, stack);
    return found;
  }

  // --- CommonJS -------------------------------------------------------------

  const moduleCache = Object.create(null);

  function makeRequire(parentModule) {
    const fromDir = parentModule ? parentModule.path : TASK_ROOT;
    const stack = requireStack(parentModule);
    const require = (specifier) => {
      const name = builtinName(String(specifier));
      if (name !== null) return loadBuiltin(name);
      return requireFile(resolvePath(String(specifier), fromDir, stack, ["require", "node"]), parentModule);
    };
    require.resolve = (specifier) => (builtinName(specifier) !== null ? specifier : resolvePath(specifier, fromDir, stack, ["require", "node"]));
    require.cache = moduleCache;
    require.main = undefined;
    return require;
  }

  function isEsmFile(file, source) {
    if (file.endsWith(".mjs")) return true;
    if (file.endsWith(".cjs") || file.endsWith(".json")) return false;
    const type = packageType(file);
    if (type === "module") return true;
    if (type === "commonjs") return false;
    // Node 22's module syntax detection for .js files of no declared type.
    return /^[ \t]*(import[ \t]*[{*"']|import[ \t]+[\w$]+[ \t]*(,|from\b)|export[ \t]+(default|const|let|var|function|async|class)\b|export[ \t]*[{*])/m.test(source);
  }

  function stripShebang(source) {
    return source.startsWith("#!") ? "//" + source.slice(2) : source;
  }

  function requireFile(file, parentModule) {
    const cached = moduleCache[file];
    if (cached) return cached.exports;
    const source = native.readFile(file);
    if (source === null) throw notFound(file, requireStack(parentModule));
    const module = { id: file, filename: file, path: path.dirname(file), exports: {}, loaded: false, children: [], parent: parentModule, paths: [] };
    module.require = makeRequire(module);
    if (file.endsWith(".json")) {
      module.exports = JSON.parse(source.replace(/^\uFEFF/, ""));
      moduleCache[file] = module;
      return module.exports;
    }
    if (isEsmFile(file, source)) {
      const err = new Error(`require() of ES Module ${file} not supported.\nInstead change the require to a dynamic import() which is available in all CommonJS modules.`);
      err.code = "ERR_REQUIRE_ESM";
      throw err;
    }
    moduleCache[file] = module;
    try {
      const wrapper = native.compile(`(function (exports, require, module, __filename, __dirname) { ${stripShebang(source)}\n})`, file);
      wrapper.call(module.exports, module.exports, module.require, module, file, module.path);
    } catch (err) {
      delete moduleCache[file];
      throw err;
    }
    module.loaded = true;
    if (parentModule) parentModule.children.push(module);
    return module.exports;
  }

  // --- ES modules (lib.rs's resolver and loader call these) ------------------

  const BUILTIN_PREFIX = "node:";

  function resolveHook(base, specifier) {
    const name = builtinName(specifier);
    if (name !== null) return BUILTIN_PREFIX + name;
    const parent = base.startsWith("file://") ? fileURLToPath(base) : base || RUNTIME_FILE;
    try {
      return "file://" + resolvePath(specifier, path.dirname(parent), [parent], ["import", "node"]);
    } catch (err) {
      throw err.code === "MODULE_NOT_FOUND" ? esmNotFound(specifier, parent) : err;
    }
  }

  // Node's ES resolution error, which names the importing file.
  function esmNotFound(specifier, parent) {
    const relative = /^(\/|\.\.?\/|file:)/.test(specifier);
    const what = relative ? `module '${path.resolve(path.dirname(parent), specifier.replace(/^file:\/\//, ""))}'` : `package '${specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")}'`;
    const err = new Error(`Cannot find ${what} imported from ${parent}`);
    err.code = "ERR_MODULE_NOT_FOUND";
    return err;
  }

  // The names of a CommonJS module's exports an ES module can import.
  function namedExports(exports) {
    if ((typeof exports !== "object" && typeof exports !== "function") || exports === null) return [];
    return Object.keys(exports).filter((k) => k !== "default" && IDENTIFIER.test(k));
  }

  // ES source re-exporting a value the runtime holds (a CommonJS module's
  // exports, JSON, a built-in): default, and each name as Node's
  // cjs-module-lexer would find it. Evaluates the CommonJS module now, while
  // the importing graph links (Node evaluates it at the same point).
  function facadeSource(key, value) {
    facades.set(key, value);
    const get = `globalThis[Symbol.for("lambda-wasm.facade")](${JSON.stringify(key)})`;
    const names = namedExports(value);
    return `const m = ${get};\nexport default m;\n` + names.map((n) => `export const ${n} = m.${n};\n`).join("");
  }
  const facades = new Map();
  Object.defineProperty(globalThis, Symbol.for("lambda-wasm.facade"), { value: (key) => facades.get(key) });

  function loadHook(name) {
    if (name.startsWith(BUILTIN_PREFIX)) return facadeSource(name, loadBuiltin(name.slice(BUILTIN_PREFIX.length)));
    const file = fileURLToPath(name);
    const source = native.readFile(file);
    if (source === null) throw notFound(file, [RUNTIME_FILE]);
    if (file.endsWith(".json")) return facadeSource(name, JSON.parse(source));
    if (isEsmFile(file, source)) return stripShebang(source);
    return facadeSource(name, requireFile(file, undefined));
  }

  // --- the handler (UserFunction.load) --------------------------------------

  // Loads the handler: a promise of the function (ES modules evaluate,
  // top-level await included, before it settles).
  async function loadHandler(appRoot, fullHandlerString) {
    if (fullHandlerString.includes("..")) {
      throw new MalformedHandlerName(`'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
    }
    const handlerString = path.basename(fullHandlerString);
    const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
    const match = handlerString.match(/^([^.]*)\.(.*)$/);
    if (!match || match.length !== 3) throw new MalformedHandlerName("Bad handler");
    const [, moduleName, handlerPath] = match;
    let userApp;
    try {
      userApp = await loadUserApp(appRoot, moduleRoot, moduleName);
    } catch (e) {
      if (e instanceof SyntaxError) throw syntaxError(e);
      if (e && (e.code === "MODULE_NOT_FOUND" || e.code === "ERR_MODULE_NOT_FOUND")) throw new ImportModuleError(String(e));
      throw e;
    }
    let handler = resolveHandler(userApp, handlerPath);
    if (!handler && userApp && typeof userApp === "object" && "default" in userApp) handler = resolveHandler(userApp.default, handlerPath);
    if (!handler) throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
    if (typeof handler !== "function") throw new HandlerNotFound(`${fullHandlerString} is not a function`);
    return handler;
  }

  function syntaxError(e) {
    const err = new UserCodeSyntaxError(String(e));
    err.stack = stackOf(e);
    return err;
  }

  function resolveHandler(object, nestedProperty) {
    return nestedProperty.split(".").reduce((nested, key) => nested && nested[key], object);
  }

  async function loadUserApp(appRoot, moduleRoot, moduleName) {
    const lambdaStylePath = path.resolve(appRoot, moduleRoot, moduleName);
    const importFile = (file) => import("file://" + file);
    if (isFile(lambdaStylePath)) return requireFile(lambdaStylePath);
    const js = lambdaStylePath + ".js";
    if (isFile(js)) return isEsmFile(js, native.readFile(js)) ? importFile(js) : requireFile(js);
    if (isFile(lambdaStylePath + ".mjs")) return importFile(lambdaStylePath + ".mjs");
    if (isFile(lambdaStylePath + ".cjs")) return requireFile(lambdaStylePath + ".cjs");
    const found = resolvePackage(moduleName, appRoot, ["require", "node"]) || resolvePackage(moduleName, path.resolve(appRoot, moduleRoot), ["require", "node"]);
    if (!found) throw notFound(moduleName, [RUNTIME_FILE]);
    return requireFile(found);
  }

  // --- invocations (Runtime, CallbackContext, InvokeContext) ----------------

  let handler = null;
  let initStarted = false;
  let pauseAfterInit = false;
  let init = null; // {handler} or {error} once loading settled
  let outgoing = null; // the frame to send at the next step
  let current = null; // the invocation being served
  let ended = false;
  const NO_OP = () => {};
  let beforeExit = NO_OP;

  function parseJsonHeader(value, name) {
    if (!value) return undefined;
    try {
      return JSON.parse(value);
    } catch (err) {
      throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
    }
  }

  function serialize(result) {
    try {
      return JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      throw new Error("Unable to stringify response body");
    }
  }

  // The callback, the context's callback half and markCompleted, as
  // CallbackContext.build makes them: only the first call counts.
  function buildCallbackContext(invocation) {
    let isCompleteInvoked = false;
    let waitForEmptyEventLoop = true;
    const postError = (err) => {
      logStructuredError("Invoke Error", err);
      respond(invocation, "E", JSON.stringify(toRapidResponse(err)));
    };
    const complete = (result) => {
      if (isCompleteInvoked) {
        consoleObject.error("Invocation has already been reported as done. Cannot call complete more than once per invocation.");
        return;
      }
      isCompleteInvoked = true;
      let body;
      try {
        body = serialize(result);
      } catch (err) {
        postError(err);
        return;
      }
      respond(invocation, "R", body);
    };
    const callback = (err, result) => {
      beforeExit = NO_OP;
      if (err !== undefined && err !== null) postError(err);
      else if (!waitForEmptyEventLoop) complete(result);
      else beforeExit = () => timerGlobals.setImmediate(() => complete(result));
    };
    const done = (err, result) => {
      beforeExit = NO_OP;
      if (err !== undefined && err !== null) postError(err);
      else complete(result);
    };
    let finished = false;
    const once = (fn) => (...args) => {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: once((result) => done(null, result)),
      fail: once((err) => (err === undefined || err === null ? done("handled") : done(err, null))),
      done: once(done),
    };
    return [once(callback), context, () => (isCompleteInvoked = true)];
  }

  // Queues the invocation's answer; the first one wins, as Lambda keeps the
  // first post for a request id.
  function respond(invocation, kind, body) {
    if (invocation !== current || invocation.answered) return;
    invocation.answered = true;
    outgoing = kind + body;
  }

  function startInvocation(frame) {
    const fields = frame.split("\0");
    const [requestId, deadline, arn, traceId, clientContext, identity, tenantId] = fields;
    const event = fields.slice(7).join("\0");
    currentRequestId = requestId;
    currentTenantId = tenantId || undefined;
    if (traceId) env._X_AMZN_TRACE_ID = traceId;
    else delete env._X_AMZN_TRACE_ID;
    const invocation = { requestId, answered: false };
    current = invocation;
    const [callback, callbackContext, markCompleted] = buildCallbackContext(invocation);
    beforeExit = () => {
      markCompleted();
      respond(invocation, "R", "null");
    };
    try {
      const deadlineMs = Number(deadline);
      const context = Object.assign(
        callbackContext,
        {
          functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
          functionName: env.AWS_LAMBDA_FUNCTION_NAME,
          memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
          logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
          logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
        },
        {
          clientContext: parseJsonHeader(clientContext, "ClientContext"),
          identity: parseJsonHeader(identity, "CognitoIdentity"),
          invokedFunctionArn: arn,
          awsRequestId: requestId,
          tenantId: tenantId || undefined,
          getRemainingTimeInMillis: () => deadlineMs - Date.now(),
        },
      );
      const result = handler(JSON.parse(event), context, callback);
      if (result && typeof result.then === "function") {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  // process.on("uncaughtException") of the Node runtime: logged, and the
  // invocation (or init) fails with it.
  function uncaughtException(err) {
    if (process.listenerCount("uncaughtException") > 0) {
      process.emit("uncaughtException", err, "uncaughtException");
      return;
    }
    logStructuredError("Uncaught Exception", err);
    failCurrent(err);
  }

  function failCurrent(err) {
    if (init === null) init = { error: err };
    else if (current) respond(current, "E", JSON.stringify(toRapidResponse(err)));
  }

  const unhandled = new Map(); // promise -> reason

  function rejectionHook(promise, reason, handled) {
    if (handled) unhandled.delete(promise);
    else unhandled.set(promise, reason);
  }

  // After the job queue drained: rejections still unhandled are Node's
  // `unhandledRejection`.
  function reportRejections() {
    const pending = [...unhandled];
    unhandled.clear();
    for (const [promise, reason] of pending) {
      if (process.listenerCount("unhandledRejection") > 0) {
        process.emit("unhandledRejection", reason, promise);
        continue;
      }
      const error = new UnhandledPromiseRejection(reason);
      error.reason = reason;
      logStructuredError("Unhandled Promise Rejection", error);
      failCurrent(error);
    }
  }

  // Sends a frame that the host answers with the next invocation.
  function exchange(frame) {
    const reply = native.call(frame);
    if (reply === "") {
      ended = true;
      return -1;
    }
    startInvocation(reply);
    return 0;
  }

  function initError(error) {
    logStructuredError("Uncaught Exception", error);
    native.call("I" + JSON.stringify(toRapidResponse(error)));
    ended = true;
    return -1;
  }

  const PAUSED = -2;
  const LOAD_FAILED = -3;

  function step() {
    if (ended) return -1;
    if (!initStarted) return PAUSED;
    if (unhandled.size) reportRejections();
    if (init !== null && handler === null) {
      if (pauseAfterInit) return init.error === undefined ? PAUSED : LOAD_FAILED;
      if (init.error !== undefined) return initError(init.error);
      handler = init.handler;
      return exchange("N");
    }
    if (outgoing !== null) {
      const frame = outgoing;
      outgoing = null;
      current = null;
      return exchange(frame);
    }
    if (runDueTimer()) return 0;
    if (!hasRefedTimers()) {
      if (init === null) {
        // Top-level await on a promise nothing will settle: Node exits with 13.
        init = { error: Object.assign(new Error("Runtime exited with error: exit status 13 (unsettled top-level await)"), { name: "Runtime.ExitError" }) };
        return 0;
      }
      const listener = beforeExit;
      if (listener === NO_OP) return -1; // Node's process would exit here, mid-invocation.
      beforeExit = NO_OP;
      listener();
      return 0;
    }
    const next = nextTimer();
    return Math.max(0, next._due - native.monotonicMs());
  }

  function startInit() {
    loadHandler(TASK_ROOT, env._HANDLER || "index.handler").then(
      (fn) => {
        if (fn.length >= 3 && /^AWS_Lambda_nodejs(2[4-9]|[3-9]\d)/.test(env.AWS_EXECUTION_ENV || "")) {
          init = {
            error: new CallbackHandlerDeprecated(
              "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.",
            ),
          };
        } else init = { handler: fn };
      },
      (error) => {
        init = { error };
      },
    );
  }

  function initHook(pause) {
    pauseAfterInit = pause;
    if (!initStarted) {
      initStarted = true;
      startInit();
    }
  }

  // The function's variables, and what a restored snapshot must not keep
  // from the instance it was taken in: the clock's origin and the random
  // numbers already drawn.
  function environHook(variables = native.environment()) {
    for (const key of Object.keys(env)) delete env[key];
    Object.assign(env, variables);
    TASK_ROOT = env.LAMBDA_TASK_ROOT || "/var/task";
    minLevel = LEVELS[(env.AWS_LAMBDA_LOG_LEVEL || "").toUpperCase()] || LEVELS.TRACE;
    jsonFormat = (env.AWS_LAMBDA_LOG_FORMAT || "").toUpperCase() === "JSON";
    native.resumeClock();
    randomNext = randomPool.length;
  }

  // Which variables the handler's import reads, for a handler snapshot's
  // record (docs/abi.md "Pre-initialisation"): process.env is a Proxy of
  // env meanwhile; one a module kept goes on passing reads through.
  let reads = null;

  function recordReadsHook() {
    reads = { names: new Set(), all: false };
    const read = (name) => {
      if (reads && typeof name === "string") reads.names.add(name);
    };
    process.env = new Proxy(env, {
      get: (target, name) => (read(name), Reflect.get(target, name)),
      has: (target, name) => (read(name), Reflect.has(target, name)),
      getOwnPropertyDescriptor: (target, name) => (read(name), Reflect.getOwnPropertyDescriptor(target, name)),
      ownKeys: (target) => {
        if (reads) reads.all = true;
        return Reflect.ownKeys(target);
      },
    });
  }

  function reportReadsHook() {
    process.env = env;
    const names = reads ? [...reads.names].sort() : [];
    native.call("V" + JSON.stringify({ names, all: reads ? reads.all : false }));
    reads = null;
  }

  return {
    environ: environHook,
    init: initHook,
    step,
    resolve: resolveHook,
    load: loadHook,
    rejection: rejectionHook,
    recordReads: recordReadsHook,
    reportReads: reportReadsHook,
  };
});
