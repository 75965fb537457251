// lambda-wasm's fetch: the WHATWG fetch API as Node.js (undici) gives it to
// handlers (fetch, Headers, Request, Response), over the host's outbound
// HTTP (docs/abi.md section 12). The runner has no sockets: each request is
// one `H` frame to the host, which checks LAMBDA_WASM_ALLOWED_HOSTS, speaks
// TLS, follows redirects and signs AWS requests, and answers with the whole
// response. lib.rs evaluates this script; runtime.js calls its value with
// what it needs and defines the globals it returns.
//
// The host call blocks the runner, so a fetch holds the event loop until its
// response is in (one request in flight per environment). Where Node's
// fetch can do more (streamed bodies, FormData, Blob, a response's final
// URL after redirects) this one does not; docs/abi.md lists the differences.

// (lib.rs evaluates it as strict code.)
(function ({ exchange, utf8Encode, utf8Decode, toBytes, URL, URLSearchParams }) {
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

  // Node's fetch rejects with this TypeError whatever failed; the cause
  // carries the reason (here the host's message: a denial names the host
  // and LAMBDA_WASM_ALLOWED_HOSTS).
  function fetchFailed(message) {
    return new TypeError("fetch failed", { cause: new Error(message) });
  }

  class Headers {
    constructor(init) {
      this._map = new Map(); // lower-case name -> [value, ...]
      if (init instanceof Headers) init.forEach((value, name) => this.append(name, value));
      else if (Array.isArray(init) || (init && typeof init[Symbol.iterator] === "function")) {
        for (const pair of init) {
          if (pair.length !== 2) throw new TypeError("Headers constructor: expected name/value pair to be length 2");
          this.append(pair[0], pair[1]);
        }
      } else if (init) for (const name of Object.keys(init)) this.append(name, init[name]);
    }
    static _checked(name, value) {
      name = String(name);
      value = String(value).trim();
      if (!TOKEN.test(name)) throw new TypeError(`Headers.append: "${name}" is an invalid header name.`);
      if (/[\r\n\0]/.test(value)) throw new TypeError(`Headers.append: "${value}" is an invalid header value.`);
      return [name.toLowerCase(), value];
    }
    append(name, value) {
      const [key, checked] = Headers._checked(name, value);
      const values = this._map.get(key);
      if (values) values.push(checked);
      else this._map.set(key, [checked]);
    }
    set(name, value) {
      const [key, checked] = Headers._checked(name, value);
      this._map.set(key, [checked]);
    }
    get(name) {
      const values = this._map.get(String(name).toLowerCase());
      return values ? values.join(", ") : null;
    }
    getSetCookie() {
      return [...(this._map.get("set-cookie") || [])];
    }
    has(name) {
      return this._map.has(String(name).toLowerCase());
    }
    delete(name) {
      this._map.delete(String(name).toLowerCase());
    }
    forEach(callback, thisArg) {
      for (const [name, value] of this) callback.call(thisArg, value, name, this);
    }
    *entries() {
      for (const name of [...this._map.keys()].sort()) {
        if (name === "set-cookie") for (const value of this._map.get(name)) yield [name, value];
        else yield [name, this.get(name)];
      }
    }
    *keys() {
      for (const [name] of this) yield name;
    }
    *values() {
      for (const [, value] of this) yield value;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    get [Symbol.toStringTag]() {
      return "Headers";
    }
  }

  // A body as bytes, and the Content-Type it implies (fetch's "extract a body").
  function extractBody(body) {
    if (body === undefined || body === null) return [null, null];
    if (typeof body === "string") return [utf8Encode(body), "text/plain;charset=UTF-8"];
    if (body instanceof URLSearchParams) return [utf8Encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return [new Uint8Array(toBytes(body)), null];
    return [utf8Encode(String(body)), "text/plain;charset=UTF-8"];
  }

  // What Request and Response share: a body read once, as text, JSON or bytes.
  class Body {
    _initBody(bytes) {
      this._bytes = bytes;
      this._used = false;
    }
    get body() {
      return this._bytes;
    }
    get bodyUsed() {
      return this._used;
    }
    _consume() {
      if (this._used) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
      this._used = true;
      return Promise.resolve(this._bytes || new Uint8Array(0));
    }
    async arrayBuffer() {
      const bytes = await this._consume();
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }
    async bytes() {
      return new Uint8Array(await this.arrayBuffer());
    }
    async text() {
      return utf8Decode(await this._consume(), false);
    }
    async json() {
      return JSON.parse(await this.text());
    }
  }

  class Request extends Body {
    constructor(input, init = {}) {
      super();
      const source = input instanceof Request ? input : null;
      let url;
      try {
        url = new URL(source ? source.url : String(input));
      } catch (cause) {
        throw new TypeError(`Failed to parse URL from ${source ? source.url : input}`, { cause });
      }
      if (url.username || url.password) {
        throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${url.href}`);
      }
      this.url = url.href;
      const method = String(init.method ?? source?.method ?? "GET");
      if (!TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
      const upper = method.toUpperCase();
      this.method = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"].includes(upper) ? upper : method;
      this.headers = new Headers(init.headers ?? source?.headers);
      this.signal = init.signal ?? source?.signal ?? null;
      this.redirect = init.redirect ?? source?.redirect ?? "follow";
      let [bytes, type] = init.body !== undefined ? extractBody(init.body) : [source?._bytes ?? null, null];
      if (bytes !== null && (this.method === "GET" || this.method === "HEAD")) {
        throw new TypeError("Request with GET/HEAD method cannot have body.");
      }
      if (type && !this.headers.has("content-type")) this.headers.set("content-type", type);
      this._initBody(bytes);
    }
    clone() {
      return new Request(this, { body: this._bytes });
    }
    get [Symbol.toStringTag]() {
      return "Request";
    }
  }

  class Response extends Body {
    constructor(body = null, init = {}) {
      super();
      const status = init.status ?? 200;
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
      }
      const [bytes, type] = extractBody(body);
      this.status = status;
      this.statusText = String(init.statusText ?? "");
      this.headers = new Headers(init.headers);
      if (type && !this.headers.has("content-type")) this.headers.set("content-type", type);
      this.type = "default";
      this.url = "";
      this.redirected = false;
      this._initBody(bytes);
    }
    get ok() {
      return this.status >= 200 && this.status <= 299;
    }
    clone() {
      if (this.bodyUsed) throw new TypeError("Response.clone: Body has already been consumed.");
      return Object.assign(new Response(this._bytes, this), { type: this.type, url: this.url });
    }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(JSON.stringify(data), { ...init, headers });
    }
    static error() {
      return Object.assign(new Response(null, { status: 200 }), { type: "error", status: 0 });
    }
    get [Symbol.toStringTag]() {
      return "Response";
    }
  }

  // The request in the ABI's wire format: "METHOD URL\n", header lines, a
  // blank line, the body.
  function wire(request) {
    let head = `${request.method} ${request.url}\n`;
    for (const [name, value] of request.headers) head += `${name}: ${value}\n`;
    const headBytes = utf8Encode(head + "\n");
    const body = request._bytes || new Uint8Array(0);
    const out = new Uint8Array(1 + headBytes.length + body.length);
    out[0] = 0x48; // "H"
    out.set(headBytes, 1);
    out.set(body, 1 + headBytes.length);
    return out;
  }

  // The host's answer: a status digit, then "STATUS\n", header lines, a
  // blank line and the body, or the reason the request failed.
  function parseReply(reply, request) {
    const outcome = reply[0] - 0x30;
    if (outcome !== 0) throw fetchFailed(utf8Decode(reply.subarray(1), false));
    let at = 1;
    const lines = [];
    for (;;) {
      const end = reply.indexOf(0x0a, at);
      if (end < 0) throw fetchFailed("the host's response has no end of head");
      const line = utf8Decode(reply.subarray(at, end), false).replace(/\r$/, "");
      at = end + 1;
      if (line === "") break;
      lines.push(line);
    }
    const status = Number(lines.shift());
    if (!(status >= 200 && status <= 599)) throw fetchFailed(`the server answered with status ${status}`);
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.append(line.slice(0, colon), line.slice(colon + 1));
    }
    const nullBody = request.method === "HEAD" || status === 204 || status === 304;
    const response = new Response(nullBody ? null : reply.slice(at), { status, headers });
    response.url = request.url;
    return response;
  }

  async function fetch(input, init) {
    const request = new Request(input, init);
    if (request.signal?.aborted) {
      throw request.signal.reason ?? Object.assign(new Error("This operation was aborted"), { name: "AbortError" });
    }
    const scheme = new URL(request.url).protocol;
    if (scheme !== "http:" && scheme !== "https:") throw fetchFailed(`unknown scheme ${scheme}`);
    // The headers Node's fetch adds when the caller did not.
    if (!request.headers.has("accept")) request.headers.set("accept", "*/*");
    if (!request.headers.has("user-agent")) request.headers.set("user-agent", "node");
    return parseReply(exchange(wire(request)), request);
  }

  return { fetch, Headers, Request, Response };
});
