# lambda-wasm's Python runtime. The host runs this file as `python -c` in
# CPython 3.15 for WASI and calls the interpreter's `run()` once per execution
# environment; this script imports the handler, then serves every event of
# the environment in one loop.
#
# It behaves like AWS's Python runtime interface client, awslambdaric
# (bootstrap.py, lambda_context.py, lambda_runtime_marshaller.py): the same
# handler resolution and init errors, the same LambdaContext, the same JSON,
# the same error bodies and error log lines, the same root logger setup.
#
# The host is reached only through `_host.call(frame) -> bytes`. A frame
# starts with one ASCII kind byte:
#
#   N                  init is done; the answer is the first invocation
#   R + JSON           the current invocation's response; answer: the next one
#   E + error JSON     the current invocation's error; answer: the next one
#   I + error JSON     init failed; the answer is b"" and the script ends
#   L + digit + text   one log record, level 0 TRACE .. 5 FATAL, formatted
#                      as awslambdaric writes it (text or JSON); answer: b""
#   V + JSON           the variables the handler's import read, while a
#                      handler snapshot is taken; answer: b""
#
# An invocation is 8 NUL-separated fields: request id, deadline (epoch ms),
# invoked function ARN, trace id, client context JSON, Cognito identity JSON,
# tenant id, event JSON (absent values are empty). b"" means no more events.
#
# Cold start: nothing slow is imported up front. `logging` (~80 ms in this
# interpreter) gets the Lambda log handler from an import hook when the
# function's code first imports it; `decimal`, `traceback` and `importlib` are
# not needed at all. Compiling this script is part of every cold start too, so
# the code that only errors, logging, Decimal or repr() need is kept as text
# (COLD_SOURCE, at the end) and compiled the first time it is used.


def _lambda_runtime():
    import sys
    import os
    import json
    from time import time as now
    import _host

    call = _host.call
    environ = os.environ
    modules = sys.modules

    # The names COLD_SOURCE's code sees, and what it defines once compiled.
    cold_names = {}

    def cold(name):
        if "log_error" not in cold_names:
            exec(compile(COLD_SOURCE, sys._getframe().f_code.co_filename, "exec"), cold_names)
        return cold_names[name]

    # Set per invocation, read by the log filter.
    current = {"request_id": None, "tenant_id": None}

    def send_log(digit, text):
        call(b"L" + digit + text.encode("utf-8", "backslashreplace"))

    class Fault(Exception):
        """awslambdaric's FaultException: an error with a Runtime.* type."""

        def __init__(self, exception_type, msg, trace=None):
            self.msg = msg
            self.exception_type = exception_type
            self.trace = trace

    def make_error(error_message, error_type, stack_trace, invoke_id=None):
        # awslambdaric's make_error; the host reads the type, message and
        # trace, and writes the body it posts itself.
        return {
            "errorMessage": error_message if error_message else "",
            "errorType": error_type if error_type else "",
            "requestId": invoke_id if invoke_id is not None else "",
            "stackTrace": stack_trace if stack_trace else [],
        }

    # --- marshalling: awslambdaric's Encoder (simplejson there) --------------

    raw_texts = []  # Decimal texts of the value being encoded (see cold default)

    def default(obj):
        return cold("default")(obj)

    def to_json(obj):
        if raw_texts:
            raw_texts.clear()
        if fast_encode is None:
            text = checked_encode(obj)
        else:
            try:
                text = "".join(fast_encode(obj, 0))
            except RecursionError:
                raw_texts.clear()
                text = checked_encode(obj)
        if raw_texts:
            text = cold("put_raw_texts")(text)
        return text

    loads = json.loads
    scan_once = json.decoder.JSONDecoder().scan_once

    def load_event(data):
        """json.loads of the event bytes, strict UTF-8 as simplejson decodes
        them; the C scanner directly when the text is one bare JSON value."""
        text = data.decode()
        try:
            value, end = scan_once(text, 0)
            if end == len(text):
                return value
        except Exception:
            pass
        return loads(text)

    def parse_json_header(header, name):
        try:
            return loads(header)
        except Exception as e:
            raise Fault("Runtime.LambdaContextUnmarshalError", "Unable to parse {} JSON: {}".format(name, str(e)), None)

    # --- the context: awslambdaric's LambdaContext ----------------------------

    class LambdaContext(object):
        def __init__(
            self,
            invoke_id,
            client_context,
            cognito_identity,
            epoch_deadline_time_in_ms,
            invoked_function_arn=None,
            tenant_id=None,
        ):
            self.aws_request_id = invoke_id
            (
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
            ) = context_env()
            self.invoked_function_arn = invoked_function_arn
            self.tenant_id = tenant_id
            self._w3c_fields = self._extract_and_strip_w3c(client_context)

            self.client_context = None
            if client_context is not None:
                self.client_context = cold("make_client_context")(client_context)

            identity = CognitoIdentity()
            identity.cognito_identity_id = None
            identity.cognito_identity_pool_id = None
            if cognito_identity is not None:
                identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
                identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
            self.identity = identity

            self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

        def get_remaining_time_in_millis(self):
            epoch_now_in_ms = int(now() * 1000)
            delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
            return delta_ms if delta_ms > 0 else 0

        def w3c(self):
            """Return the W3C trace-context at invoke time."""
            return dict(self._w3c_fields)

        @staticmethod
        def _extract_and_strip_w3c(client_context):
            if isinstance(client_context, dict) and "w3c" in client_context:
                return cold("extract_and_strip_w3c")(client_context)
            return {}

        def log(self, msg):
            # awslambdaric writes the text, as is, to its log sink: stdout.
            sys.stdout.write(str(msg))

        def __repr__(self):
            return cold("context_repr")(self)

    class CognitoIdentity(object):
        __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

        def __repr__(self):
            return cold("identity_repr")(self)

    # --- logging: the root logger's handler, once `logging` is imported ------

    class LoggingImportHook:
        """A meta path finder that only watches for the first `import logging`,
        then runs awslambdaric's logging setup right after the module ran."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "logging":
                return cold("logging_spec")(LoggingImportHook, name, path, target)
            return None

    # --- outbound HTTP: the `ssl` stand-in and the connection patches --------

    outbound_names = {}

    def outbound(name):
        if not outbound_names:
            outbound_names.update(call=call, sys=sys, modules=modules)
            exec(compile(OUTBOUND_SOURCE, sys._getframe().f_code.co_filename, "exec"), outbound_names)
        return outbound_names[name]

    outbound_patched = ("http.client", "urllib3.connection", "botocore.awsrequest")

    class OutboundImportHook:
        """A meta path finder that supplies `ssl` (the interpreter has no
        _ssl; the host does TLS) and patches the HTTP connection classes as
        their modules load, so that requests go through the host."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "ssl":
                return cold("source_spec")(name, outbound("SSL_SOURCE"))
            if name in outbound_patched:
                return cold("patched_spec")(OutboundImportHook, name, path, target, outbound("PATCHES")[name])
            return None

    for cls in (Fault, LambdaContext, CognitoIdentity, LoggingImportHook, OutboundImportHook):
        cls.__qualname__ = cls.__name__

    cold_names.update(
        sys=sys,
        os=os,
        environ=environ,
        send_log=send_log,
        make_error=make_error,
        to_json=to_json,
        raw_texts=raw_texts,
        current=current,
        CognitoIdentity=CognitoIdentity,
        RUNTIME_FILE=sys._getframe().f_code.co_filename,  # "<string>" under -c
    )

    # --- pre-initialisation: the interpreter may be snapshotted here -------
    # Run as a program, the steps follow each other at once. A pre-
    # initialising host (host/src/guest/interpreter/snapshot.rs) snapshots
    # the interpreter at this first yield, or at the second, after the
    # handler's import, and resumes it in each new execution environment
    # with os.environ made the function's (_lambda_wasm_environ). So nothing
    # above reads the environment; the handler's import sees the one the
    # snapshot was taken with; what follows the second yield reads the
    # function's.
    yield

    environ = os.environ
    cold_names["environ"] = environ

    def bind_stdio():
        # Stdio was set up when the interpreter was snapshotted: stdout is
        # block-buffered. Lines go out as they are written, and what is left
        # of a line is flushed before each answer (awslambdaric flushes each
        # write).
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
        return sys.stdout.flush, sys.stderr.flush

    flush_out, flush_err = bind_stdio()

    if "logging" in modules:
        cold("install_logging")(modules["logging"])
    else:
        sys.meta_path.insert(0, LoggingImportHook)
    for name in outbound_patched:
        if name in modules:
            outbound("PATCHES")[name](modules[name])
    sys.meta_path.insert(0, OutboundImportHook)

    # CPython reads PYTHONPYCACHEPREFIX at startup, before a snapshot's
    # restore; test mode sets it to its read-only bytecode cache.
    sys.pycache_prefix = environ.get("PYTHONPYCACHEPREFIX") or None

    # --- init: sys.path, then the handler (awslambdaric's _get_handler) ------

    for p in ("/opt/python", "/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2]):
        if os.path.isdir(p):
            sys.path.insert(0, p)
    task_root = environ.get("LAMBDA_TASK_ROOT") or "/var/task"
    sys.path.insert(0, task_root)
    # Lambda starts the runtime in the task root, so os.getcwd() is it and
    # open("data.json") reads a file shipped beside the handler; wasi-libc
    # starts in "/" (the host maps "." to the task root as well).
    try:
        os.chdir(task_root)
    except OSError:
        pass

    gcd_import = modules["_frozen_importlib"]._gcd_import

    def import_module(name):
        """importlib.import_module, without importing importlib (~8 ms here)."""
        if name.startswith("."):
            raise TypeError(f"the 'package' argument is required to perform a relative import for {name!r}")
        return gcd_import(name)

    def get_handler(handler):
        try:
            modname, fname = handler.rsplit(".", 1)
        except ValueError as e:
            raise Fault("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(handler, str(e)))
        try:
            if modname.split(".")[0] in sys.builtin_module_names:
                raise Fault(
                    "Runtime.BuiltInModuleConflict",
                    "Cannot use built-in module {} as a handler module".format(modname),
                )
            m = import_module(modname.replace("/", "."))
        except ImportError as e:
            raise Fault("Runtime.ImportModuleError", "Unable to import module '{}': {}".format(modname, str(e)))
        except SyntaxError as e:
            trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
            raise Fault("Runtime.UserCodeSyntaxError", "Syntax error in module '{}': {}".format(modname, str(e)), trace)
        try:
            request_handler = getattr(m, fname)
        except AttributeError:
            raise Fault("Runtime.HandlerNotFound", "Handler '{}' missing on module '{}'".format(fname, modname), None)
        return request_handler

    if environ.get("AWS_EXECUTION_ENV") == "AWS_Lambda_python3.15" and not environ.get("LAMBDA_DISABLE_PREVIEW_WARN"):
        cold("preview_warning")()

    try:
        request_handler = get_handler(environ.get("_HANDLER", "lambda_function.lambda_handler"))
        init_error = None
    except Fault as e:
        init_error = make_error(e.msg, e.exception_type, e.trace)
    except Exception as e:
        init_error = cold("fault_result")(e)

    # --- after the snapshot: the function's environment ---------------------

    yield init_error is None

    flush_out, flush_err = bind_stdio()
    # A snapshot holds the generators' states: numbers drawn after restore
    # must differ between execution environments, as SnapStart re-seeds.
    if "random" in modules:
        modules["random"].seed()
    if "numpy.random" in modules:
        modules["numpy.random"].seed()

    ensure_ascii = environ.get("AWS_EXECUTION_ENV") not in (
        "AWS_Lambda_python3.12",
        "AWS_Lambda_python3.13",
        "AWS_Lambda_python3.14",
        "AWS_Lambda_python3.15",
    )
    # json.JSONEncoder.encode, minus its per-call setup: the C encoder is made
    # once, without the circular-reference check. A circular value recurses
    # until RecursionError; it is then encoded again with the check, so the
    # error is the one awslambdaric reports ("Circular reference detected").
    #
    # NaN and the infinities: awslambdaric encodes them as the bare tokens
    # NaN/Infinity (allow_nan=True), which are not JSON; the host's responses
    # are JSON (docs/abi.md section 5), so they are a Runtime.MarshalError
    # here, with the json module's own reason, as allow_nan=False gives it.
    encoder = json.encoder
    encode_args = (
        default,
        encoder.encode_basestring_ascii if ensure_ascii else encoder.encode_basestring,
        None,
        ": ",
        ", ",
        False,
        False,
        False,
    )
    c_make_encoder = encoder.c_make_encoder
    if c_make_encoder is not None:
        fast_encode = c_make_encoder(None, *encode_args)
    else:
        fast_encode = None
    checked_encode = json.JSONEncoder(ensure_ascii=ensure_ascii, allow_nan=False, default=default).encode

    # awslambdaric reads five variables from os.environ for each context;
    # os.environ.get runs four Python-level calls for each. Same values, read
    # from os.environ's own store and decoded once while they do not change.
    env_data = getattr(environ, "_data", None)
    if isinstance(env_data, dict) and all(isinstance(k, bytes) for k in env_data):
        env_keys = (
            b"AWS_LAMBDA_LOG_GROUP_NAME",
            b"AWS_LAMBDA_LOG_STREAM_NAME",
            b"AWS_LAMBDA_FUNCTION_NAME",
            b"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            b"AWS_LAMBDA_FUNCTION_VERSION",
        )
        env_cache = [None, None]

        def context_env(_get=env_data.get):
            raw = tuple(map(_get, env_keys))
            if raw != env_cache[0]:
                env_cache[0] = raw
                env_cache[1] = tuple(None if v is None else v.decode("utf-8", "surrogateescape") for v in raw)
            return env_cache[1]

    else:

        def context_env():
            return (
                environ.get("AWS_LAMBDA_LOG_GROUP_NAME"),
                environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
                environ.get("AWS_LAMBDA_FUNCTION_NAME"),
                environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
                environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
            )

    if init_error is not None:
        flush_out()
        flush_err()
        cold("unhandled_warning")()
        cold("log_error")(init_error)
        call(b"I" + to_json(init_error).encode("utf-8", "backslashreplace"))
        return

    # --- the invocation loop: awslambdaric's handle_event_request ------------

    flush_out()
    flush_err()
    frame = call(b"N")
    trace_id = environ.get("_X_AMZN_TRACE_ID")
    while frame:
        request_id, deadline, arn, xray, client_context, cognito, tenant, event = frame.split(b"\0", 7)
        request_id = request_id.decode()
        tenant = tenant.decode() if tenant else None
        current["request_id"] = request_id
        current["tenant_id"] = tenant
        # update_xray_env_variable: set, or removed when the event has none.
        xray = xray.decode() if xray else None
        if xray != trace_id:
            if xray is not None:
                environ["_X_AMZN_TRACE_ID"] = xray
            elif "_X_AMZN_TRACE_ID" in environ:
                del environ["_X_AMZN_TRACE_ID"]
            trace_id = xray
        error = None
        try:
            context = LambdaContext(
                request_id,
                parse_json_header(client_context, "Client Context") if client_context else None,
                parse_json_header(cognito, "Cognito Identity") if cognito else None,
                int(deadline) if deadline else 0,
                arn.decode(),
                tenant,
            )
            try:
                event = load_event(event)
            except Exception as e:
                raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: {}".format(str(e)), None)
            response = request_handler(event, context)
            if isinstance(response, bytes):
                result = response
            else:
                try:
                    result = to_json(response).encode()
                except Exception as e:
                    raise Fault("Runtime.MarshalError", "Unable to marshal response: {}".format(str(e)), None)
        except Fault as e:
            error = make_error(e.msg, e.exception_type, e.trace, request_id)
        except Exception as e:
            error = cold("fault_result")(e, request_id)
        # Free this invocation's values now, so what their freeing costs (or
        # breaks) belongs to it and not to the next one.
        response = event = context = None
        flush_out()
        flush_err()
        if error is None:
            frame = call(b"R" + result)
        else:
            cold("log_error")(error)
            frame = call(b"E" + to_json(error).encode("utf-8", "backslashreplace"))
        result = None


# Compiled on first use, in a namespace holding the names cold_names lists.
COLD_SOURCE = r'''
import linecache
import time

NBSP = "\u00a0"
UNHANDLED_WARNING = (
    "LAMBDA_WARNING: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


def root_warning(message):
    """logging.warning(message), as awslambdaric logs its own warnings: through
    the root logger and the Lambda handler (importing logging installs it)."""
    import logging

    logging.warning(message)


def unhandled_warning():
    root_warning(UNHANDLED_WARNING)


def preview_warning():
    docs = "docs.amazonaws.cn" if environ.get("AWS_REGION", "").startswith("cn-") else "docs.aws.amazon.com"
    root_warning(
        "LAMBDA_WARNING: This is a preview runtime version and should not be used for production workloads. "
        "For further information and to provide feedback, see "
        f"https://{docs}/lambda/latest/dg/lambda-runtimes.html\r",
    )


# --- errors: awslambdaric's build_fault_result and log_error ------------------


def source_line(filename, lineno, module_globals):
    """The stripped first source line, as traceback's FrameSummary.line.

    linecache reads files through `tokenize` (~25 ms to import here); plain
    UTF-8 sources are put into linecache's cache directly instead."""
    if lineno is None:
        return None
    if filename not in linecache.cache and not (filename.startswith("<") and filename.endswith(">")):
        try:
            with open(filename, "rb") as f:
                data = f.read()
            if not any(b"coding" in line for line in data.split(b"\n", 2)[:2]):
                lines = data.decode("utf-8-sig").splitlines(True)
                if lines and not lines[-1].endswith("\n"):
                    lines[-1] += "\n"
                st = os.stat(filename)
                linecache.cache[filename] = (st.st_size, st.st_mtime, lines, filename)
        except (OSError, UnicodeDecodeError, ValueError):
            pass
    return linecache.getline(filename, lineno, module_globals).strip()


def extract_traceback(tb):
    """awslambdaric's extract_traceback: (filename, lineno, name, line) tuples."""
    frames = []
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        frames.append((code.co_filename, tb.tb_lineno, code.co_name, source_line(code.co_filename, tb.tb_lineno, frame.f_globals)))
        tb = tb.tb_next
    return frames


def format_list(frames):
    """traceback.format_list of 4-tuples (no column information, no carets)."""
    out = []
    for filename, lineno, name, line in frames:
        row = '  File "{}", line {}, in {}\n'.format(filename, lineno, name)
        if line:
            row += "    " + line + "\n"
        out.append(row)
    return out


def fault_result(exc, invoke_id=None):
    """The error of an exception, without the runtime's own leading frames
    (awslambdaric drops bootstrap.py's)."""
    frames = extract_traceback(exc.__traceback__)
    for i in range(len(frames)):
        if frames[i][0] != RUNTIME_FILE:
            frames = frames[i:]
            break
    return make_error(str(exc), type(exc).__name__, format_list(frames), invoke_id)


def log_error(error):
    """awslambdaric's log_error: one record, as its log sink writes it."""
    if log_format_json:
        log_error_json(error)
    else:
        log_error_text(error)


def log_error_json(error):
    """`{"timestamp", "level": "ERROR", errorMessage, errorType, requestId,
    stackTrace}`; the timestamp has no milliseconds in awslambdaric's form."""
    record = {"timestamp": time.strftime(JSON_DATETIME_FORMAT, time.gmtime()), "level": "ERROR"}
    record.update(error)
    send_log(b"4", to_json(record) + "\n")


def log_error_text(error):
    """`[ERROR] Type: message`, then the traceback, indentation as no-break
    spaces, lines joined by \r so that CloudWatch keeps one record."""
    description = "[ERROR]"
    error_type = error.get("errorType")
    if error_type:
        description += " " + error_type
    error_message = error.get("errorMessage")
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message
    lines = [description]
    stack_trace = error.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for line in element.splitlines():
                    stripped = line.lstrip(" ")
                    lines.append(NBSP * (len(line) - len(stripped)) + stripped)
    send_log(b"4", "\r".join(lines) + "\n")


# --- Decimal, as awslambdaric's Encoder.default writes it -----------------------
# The stdlib encoder cannot emit raw text, so a Decimal becomes a unique
# placeholder string, replaced by the Decimal's exact text afterwards.

PLACEHOLDER = "lambda-wasm-decimal-" + os.urandom(12).hex() + "-"


def default(obj):
    modules = sys.modules
    decimal = modules.get("decimal")
    if decimal is None and ("_decimal" in modules or "_pydecimal" in modules):
        import decimal
    if decimal is not None and isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return float("nan")
        raw_texts.append(str(obj))
        return PLACEHOLDER + str(len(raw_texts) - 1)
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


def put_raw_texts(text):
    for i, raw in enumerate(raw_texts):
        text = text.replace('"' + PLACEHOLDER + str(i) + '"', raw, 1)
    raw_texts.clear()
    return text


# --- the rest of awslambdaric's lambda_context --------------------------------

W3C_ALLOWED_FIELDS = ("traceparent", "tracestate", "baggage")


def extract_and_strip_w3c(client_context):
    raw_w3c = client_context.pop("w3c")
    if not isinstance(raw_w3c, dict):
        return {}
    fields = {}
    for key in W3C_ALLOWED_FIELDS:
        value = raw_w3c.get(key)
        if isinstance(value, str):
            fields[key] = value
    return fields


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}"
            "])"
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"custom={self.custom},"
            f"env={self.env},"
            f"client={self.client}"
            "])"
        )


def make_obj_from_dict(_class, _dict, fields=None):
    if _dict is None:
        return None
    obj = _class()
    set_obj_from_dict(obj, _dict)
    return obj


def set_obj_from_dict(obj, _dict, fields=None):
    if fields is None:
        fields = obj.__class__.__slots__
    for field in fields:
        setattr(obj, field, _dict.get(field, None))


def make_client_context(client_context):
    obj = make_obj_from_dict(ClientContext, client_context)
    obj.client = make_obj_from_dict(Client, obj.client)
    return obj


def context_repr(self):
    return (
        f"{self.__class__.__name__}(["
        f"aws_request_id={self.aws_request_id},"
        f"log_group_name={self.log_group_name},"
        f"log_stream_name={self.log_stream_name},"
        f"function_name={self.function_name},"
        f"memory_limit_in_mb={self.memory_limit_in_mb},"
        f"function_version={self.function_version},"
        f"invoked_function_arn={self.invoked_function_arn},"
        f"client_context={self.client_context},"
        f"identity={self.identity},"
        f"tenant_id={self.tenant_id}"
        "])"
    )


def identity_repr(self):
    return (
        f"{self.__class__.__name__}(["
        f"cognito_identity_id={self.cognito_identity_id},"
        f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
        "])"
    )


# --- logging: awslambdaric's _setup_logging ----------------------------------

log_format_json = (environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
log_level = environ.get("AWS_LAMBDA_LOG_LEVEL")
log_level = {None: "", "TRACE": "DEBUG"}.get(log_level, log_level).upper()
LEVEL_DIGITS = (b"0", b"1", b"2", b"3", b"4", b"5")
JSON_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# LogRecord attributes awslambdaric's JsonFormatter leaves out of a record.
RESERVED_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename",
    "module", "exc_info", "exc_text", "stack_info", "lineno", "funcName",
    "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
}


def json_formatter(logging):
    """awslambdaric's JsonFormatter: one JSON object per record, null fields dropped."""
    import json

    encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def stack_trace(exc_info):
        import traceback

        return traceback.format_tb(exc_info[2])

    class JsonFormatter(logging.Formatter):
        def __init__(self):
            super().__init__(datefmt=JSON_DATETIME_FORMAT)

        def format(self, record):
            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            exc_info = record.exc_info
            result = {
                "timestamp": self.formatTime(record, self.datefmt),
                "level": record.levelname,
                "message": (record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage()),
                "logger": record.name,
                "stackTrace": stack_trace(exc_info) if exc_info else None,
                "errorType": exc_info[0].__name__ if exc_info else None,
                "errorMessage": str(exc_info[1]) if exc_info else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None,
            }
            if getattr(record, "tenant_id", None) is not None:
                result["tenantId"] = record.tenant_id
            result.update(
                (key, value) for key, value in record.__dict__.items() if key not in RESERVED_FIELDS and key not in result
            )
            return encode({k: v for k, v in result.items() if v is not None}) + "\n"

    return JsonFormatter()


def install_logging(logging):
    logging.Formatter.converter = time.gmtime
    logger = logging.getLogger()

    class LambdaLoggerHandler(logging.Handler):
        """awslambdaric's handler: the record as its formatter writes it goes
        to the host, with its level for AWS_LAMBDA_LOG_LEVEL filtering."""

        def __init__(self):
            logging.Handler.__init__(self)

        def emit(self, record):
            digit = LEVEL_DIGITS[min(50, max(0, record.levelno)) // 10]
            send_log(digit, self.format(record))

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = current["request_id"] or ""
            record.tenant_id = current["tenant_id"]
            return True

    # awslambdaric uses LambdaLoggerHandlerWithFrameType when the format is
    # JSON or a level is set; code that inspects the root logger sees its name.
    name = "LambdaLoggerHandlerWithFrameType" if log_format_json or log_level else "LambdaLoggerHandler"
    for cls, cls_name in ((LambdaLoggerHandler, name), (LambdaLoggerFilter, "LambdaLoggerFilter")):
        cls.__name__ = cls.__qualname__ = cls_name
    handler = LambdaLoggerHandler()
    if log_format_json:
        handler.setFormatter(json_formatter(logging))
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    if log_level in logging._nameToLevel:
        logger.setLevel(log_level)
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


def logging_spec(hook, name, path, target):
    """The spec the import system would find for `logging`, its loader made
    to run install_logging right after the module's code."""
    try:
        sys.meta_path.remove(hook)
    except ValueError:
        pass
    return patched_spec(hook, name, path, target, install_logging)


def patched_spec(hook, name, path, target, after):
    """The spec the finders after `hook` would find for `name`, its loader
    made to run after(module) right after the module's code."""
    for finder in sys.meta_path:
        if finder is hook:
            continue
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec(name, path, target) if find_spec is not None else None
        if spec is not None:
            break
    else:
        return None
    loader = spec.loader
    real_exec = getattr(loader, "exec_module", None)
    if real_exec is None:
        return spec

    def exec_module(module):
        # The zip's loader is shared by every stdlib module: unpatch first,
        # so that what the module imports loads normally.
        try:
            del loader.exec_module
        except AttributeError:
            pass
        real_exec(module)
        try:
            after(module)
        except Exception as e:
            sys.stderr.write("lambda-wasm runtime: could not set up %s: %r\n" % (name, e))

    try:
        loader.exec_module = exec_module
    except (AttributeError, TypeError):
        # A loader that cannot be patched: wrap it instead.
        class Loader:
            def __getattr__(self, attr):
                return getattr(loader, attr)

            def create_module(self, spec):
                return loader.create_module(spec)

        wrapper = Loader()
        wrapper.exec_module = exec_module
        spec.loader = wrapper
    return spec


class SourceLoader:
    """Loads a module the runtime carries as source text (the `ssl` stand-in)."""

    def __init__(self, source):
        self.source = source

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(compile(self.source, "<lambda-wasm %s>" % module.__name__, "exec"), module.__dict__)


def source_spec(name, source):
    return sys.modules["_frozen_importlib"].ModuleSpec(name, SourceLoader(source), origin="lambda-wasm")
'''

# The runtime's steps (see "pre-initialisation" above); the host's loader
# runs them all, or a pre-initialising host one `turn` at a time. The host
# appends outbound.py (OUTBOUND_SOURCE, which the steps read when a handler
# first imports an HTTP library) after this file (python/mod.rs, RUNTIME_PY).
_lambda_wasm_steps = _lambda_runtime()


def _lambda_wasm_environ(variables):
    """Makes os.environ (and the C library's environment, which putenv
    updates) the function's: a restored interpreter holds the snapshot's."""
    import os

    os.environ.clear()
    os.environ.update(variables)


# The names of the environment variables read while recording (None: the
# whole environment was listed), for a handler snapshot's record.
_lambda_wasm_reads = set()


def _lambda_wasm_record_reads():
    """Records the variables read from os.environ and os.environb from now
    on (the handler's import, while a handler snapshot is taken) until
    _lambda_wasm_report_reads; every reference to the two mappings records,
    as their class is swapped, not the objects."""
    import os

    plain = os._Environ
    reads = _lambda_wasm_reads

    class Recording(plain):
        def __getitem__(self, key):
            reads.add(key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key)
            return plain.__getitem__(self, key)

        def __iter__(self):
            reads.add(None)
            return plain.__iter__(self)

    for mapping in (os.environ, getattr(os, "environb", None)):
        if mapping is not None:
            mapping.__class__ = Recording


def _lambda_wasm_report_reads():
    """Makes the mappings plain again and tells the host what was read."""
    import os
    import json
    import _host

    for mapping in (os.environ, getattr(os, "environb", None)):
        if mapping is not None:
            mapping.__class__ = os._Environ
    reads = _lambda_wasm_reads
    names = sorted(name for name in reads if name is not None)
    _host.call(b"V" + json.dumps({"names": names, "all": None in reads}).encode())
    reads.clear()
