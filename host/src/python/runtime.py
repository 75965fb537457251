# lambda-wasm's Python runtime: the host runs this as `python -c` inside
# CPython 3.15 for WASI and calls `run()` once per execution environment.
#
# It behaves like AWS's Python runtime interface client (awslambdaric,
# bootstrap.py and friends): the same handler resolution and init errors, the
# same LambdaContext, the same marshalling, the same error shapes and logs.
# It talks to the host only through `_host.call(frame) -> bytes`; a frame
# starts with one ASCII kind byte:
#
#   N                  init done, give me the first event
#   R + JSON           the current invocation's response
#   E + error JSON     the current invocation's error
#   I + error JSON     init failed (the host answers b"" and we return)
#   L + digit + text   one log record (0 TRACE .. 5 FATAL); the host answers b""
#
# The answer to N, R and E is the next invocation, NUL-separated: request id,
# deadline (epoch ms), invoked function ARN, trace id, client context JSON,
# Cognito identity JSON, tenant id, event JSON; b"" means no more events.
#
# Cold start matters: `logging` (~80 ms here), `decimal` (~35 ms),
# `traceback` (~60 ms) and `importlib` are never imported eagerly. The
# root logger's Lambda handler is installed by an import hook the first time
# anything imports `logging`; Decimal is recognised without importing it;
# tracebacks are formatted here as `traceback.format_list` does.
#
# Every name lives in one function so the per-event loop uses fast locals.


def _lambda_runtime():
    import sys
    import os
    import time
    import json
    import linecache
    import _host

    call = _host.call
    environ = os.environ
    stdout, stderr = sys.stdout, sys.stderr
    # Stdio was set up when the interpreter was snapshotted (block-buffered
    # stdout); Lambda's runtime makes it unbuffered. Lines go out as written,
    # and each invocation flushes what is left before it answers.
    stdout.reconfigure(line_buffering=True)
    stderr.reconfigure(line_buffering=True)
    flush_out, flush_err = stdout.flush, stderr.flush

    RUNTIME_FILE = sys._getframe().f_code.co_filename  # "<string>" under -c
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

    # --- state shared with the logging handler and LambdaContext.log ---------
    current = {"request_id": None, "tenant_id": None}

    def send_log(digit, text):
        call(b"L" + digit + text.encode("utf-8", "backslashreplace"))

    # --- errors ---------------------------------------------------------------

    class Fault(Exception):
        """awslambdaric's FaultException."""

        def __init__(self, exception_type, msg, trace=None):
            self.msg = msg
            self.exception_type = exception_type
            self.trace = trace

    def source_line(filename, lineno, module_globals):
        """The stripped source line, as traceback's FrameSummary.line gives it.

        linecache reads files through `tokenize` (~25 ms to import here);
        plain UTF-8 sources are read directly into linecache's cache instead.
        """
        if lineno is None:
            return None
        if filename not in linecache.cache and not (filename.startswith("<") and filename.endswith(">")):
            try:
                with open(filename, "rb") as f:
                    data = f.read()
                head = data.split(b"\n", 2)[:2]
                if not any(b"coding" in h for h in head):
                    lines = data.decode("utf-8-sig").splitlines(True)
                    if lines and not lines[-1].endswith("\n"):
                        lines[-1] += "\n"
                    st = os.stat(filename)
                    linecache.cache[filename] = (st.st_size, st.st_mtime, lines, filename)
            except (OSError, UnicodeDecodeError, ValueError):
                pass
        return linecache.getline(filename, lineno, module_globals).strip()

    def extract_traceback(tb):
        """traceback.extract_tb as (filename, lineno, name, line) tuples."""
        frames = []
        while tb is not None:
            frame = tb.tb_frame
            code = frame.f_code
            lineno = tb.tb_lineno
            frames.append((code.co_filename, lineno, code.co_name, source_line(code.co_filename, lineno, frame.f_globals)))
            tb = tb.tb_next
        return frames

    def format_list(frames):
        """traceback.format_list of 4-tuples (no column information)."""
        out = []
        for filename, lineno, name, line in frames:
            row = '  File "{}", line {}, in {}\n'.format(filename, lineno, name)
            if line:
                row += "    " + line + "\n"
            out.append(row)
        return out

    def user_frames(tb):
        """The traceback without the runtime's own leading frames (as
        awslambdaric drops bootstrap.py's)."""
        frames = extract_traceback(tb)
        for i in range(len(frames)):
            if frames[i][0] != RUNTIME_FILE:
                return frames[i:]
        return frames

    def make_error(error_message, error_type, stack_trace):
        return {
            "errorMessage": error_message if error_message else "",
            "errorType": error_type if error_type else "",
            "stackTrace": stack_trace if stack_trace else [],
        }

    def fault_result(exc):
        return make_error(str(exc), type(exc).__name__, format_list(user_frames(exc.__traceback__)))

    def log_error(error):
        """awslambdaric's log_error (text form): one record, lines joined by \\r."""
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
        send_log(b"4", "\r".join(lines))

    # --- marshalling (awslambdaric's lambda_runtime_marshaller) --------------
    # simplejson there; the stdlib's C encoder here. Decimals are written as
    # their exact text (NaN as NaN) without importing `decimal` up front.

    ensure_ascii = environ.get("AWS_EXECUTION_ENV") not in {
        "AWS_Lambda_python3.12",
        "AWS_Lambda_python3.13",
        "AWS_Lambda_python3.14",
        "AWS_Lambda_python3.15",
    }
    raw_texts = []
    placeholder = "lambda-wasm-decimal-" + os.urandom(12).hex() + "-"
    modules = sys.modules

    def default(obj):
        decimal = modules.get("decimal")
        if decimal is None and ("_decimal" in modules or "_pydecimal" in modules):
            import decimal
        if decimal is not None and isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            raw_texts.append(str(obj))
            return placeholder + str(len(raw_texts) - 1)
        raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")

    encode = json.JSONEncoder(ensure_ascii=ensure_ascii, allow_nan=True, default=default).encode

    def to_json(obj):
        if raw_texts:
            raw_texts.clear()
        text = encode(obj)
        if raw_texts:
            for i, raw in enumerate(raw_texts):
                text = text.replace('"' + placeholder + str(i) + '"', raw, 1)
            raw_texts.clear()
        return text

    loads = json.loads

    # --- the context (awslambdaric's lambda_context) --------------------------

    W3C_ALLOWED_FIELDS = ("traceparent", "tracestate", "baggage")

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
            self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
            self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
            self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
            self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
            self.invoked_function_arn = invoked_function_arn
            self.tenant_id = tenant_id
            self._w3c_fields = self._extract_and_strip_w3c(client_context)

            self.client_context = make_obj_from_dict(ClientContext, client_context)
            if self.client_context is not None:
                self.client_context.client = make_obj_from_dict(Client, self.client_context.client)

            self.identity = make_obj_from_dict(CognitoIdentity, {})
            if cognito_identity is not None:
                self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
                self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

            self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

        def get_remaining_time_in_millis(self):
            epoch_now_in_ms = int(time.time() * 1000)
            delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
            return delta_ms if delta_ms > 0 else 0

        def w3c(self):
            """Return the W3C trace-context at invoke time."""
            return dict(self._w3c_fields)

        @staticmethod
        def _extract_and_strip_w3c(client_context):
            if not isinstance(client_context, dict):
                return {}
            if "w3c" not in client_context:
                return {}
            raw_w3c = client_context.pop("w3c")
            if not isinstance(raw_w3c, dict):
                return {}
            fields = {}
            for key in W3C_ALLOWED_FIELDS:
                value = raw_w3c.get(key)
                if isinstance(value, str):
                    fields[key] = value
            return fields

        def log(self, msg):
            # awslambdaric writes the text as is (no newline) to its log sink,
            # which is stdout; so does this.
            sys.stdout.write(str(msg))

        def __repr__(self):
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

    class CognitoIdentity(object):
        __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

        def __repr__(self):
            return (
                f"{self.__class__.__name__}(["
                f"cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
                "])"
            )

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
            return f"{self.__class__.__name__}([custom={self.custom},env={self.env},client={self.client}])"

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

    for cls in (LambdaContext, CognitoIdentity, Client, ClientContext):
        cls.__qualname__ = cls.__name__

    def parse_json_header(header, name):
        try:
            return loads(header)
        except Exception as e:
            raise Fault("Runtime.LambdaContextUnmarshalError", "Unable to parse {} JSON: {}".format(name, str(e)), None)

    # --- logging: installed when something first imports `logging` -----------

    log_format_json = (environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
    env_log_level = environ.get("AWS_LAMBDA_LOG_LEVEL")
    log_level = {None: "", "TRACE": "DEBUG"}.get(env_log_level, env_log_level).upper()
    level_digits = (b"0", b"1", b"2", b"3", b"4", b"5")

    def install_logging(logging):
        """awslambdaric's _setup_logging, with the host formatting each record."""
        logging.Formatter.converter = time.gmtime
        logger = logging.getLogger()

        class LambdaLoggerHandler(logging.Handler):
            def __init__(self):
                logging.Handler.__init__(self)

            def emit(self, record):
                try:
                    msg = self.format(record)
                    level = min(50, max(0, record.levelno)) // 10
                    send_log(level_digits[level], msg)
                except RecursionError:
                    raise
                except Exception:
                    self.handleError(record)

        class LambdaLoggerFilter(logging.Filter):
            def filter(self, record):
                record.aws_request_id = current["request_id"] or ""
                record.tenant_id = current["tenant_id"]
                return True

        handler = LambdaLoggerHandler()
        # The host adds the level, timestamp and request id (text) or builds
        # the JSON record; the message is the record's text plus any
        # exception or stack text, as logging.Formatter appends it.
        handler.setFormatter(logging.Formatter("%(message)s"))
        if log_level in logging._nameToLevel:
            logger.setLevel(log_level)
        handler.addFilter(LambdaLoggerFilter())
        logger.addHandler(handler)

    class LoggingImportHook:
        """A meta path finder that only watches for the first `import logging`
        and runs install_logging right after the module has executed."""

        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name != "logging":
                return None
            try:
                sys.meta_path.remove(cls)
            except ValueError:
                pass
            for finder in sys.meta_path:
                find_spec = getattr(finder, "find_spec", None)
                spec = find_spec(name, path, target) if find_spec is not None else None
                if spec is not None:
                    break
            else:
                return None
            loader = spec.loader
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            real_exec = loader.exec_module

            def exec_module(module):
                try:
                    del loader.exec_module
                except AttributeError:
                    pass
                real_exec(module)
                try:
                    install_logging(module)
                except Exception as e:
                    stderr.write("lambda-wasm runtime: could not install the Lambda log handler: %r\n" % (e,))

            try:
                loader.exec_module = exec_module
            except (AttributeError, TypeError):
                # A loader we cannot patch: install once the import is done
                # (the next event), which is still before any record of it.
                pending_logging.append(name)
            return spec

    pending_logging = []
    if "logging" in modules:
        install_logging(modules["logging"])
    else:
        sys.meta_path.insert(0, LoggingImportHook)

    def install_pending_logging():
        del pending_logging[:]
        if "logging" in modules:
            install_logging(modules["logging"])

    # --- init: sys.path, the handler ------------------------------------------

    task_root = environ.get("LAMBDA_TASK_ROOT") or "/var/task"
    extra_paths = [task_root]
    for p in ("/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2], "/opt/python"):
        if os.path.isdir(p):
            extra_paths.append(p)
    sys.path[0:0] = [p for p in extra_paths if p not in sys.path]

    gcd_import = modules["_frozen_importlib"]._gcd_import

    def import_module(name):
        """importlib.import_module without importing importlib (~8 ms here)."""
        if name.startswith("."):
            raise TypeError(f"the 'package' argument is required to perform a relative import for {name!r}")
        return gcd_import(name)

    def get_handler(handler):
        """awslambdaric's _get_handler."""
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

    if environ.get("AWS_EXECUTION_ENV", "") == "AWS_Lambda_python3.15" and not environ.get("LAMBDA_DISABLE_PREVIEW_WARN", ""):
        docs = "docs.amazonaws.cn" if environ.get("AWS_REGION", "").startswith("cn-") else "docs.aws.amazon.com"
        send_log(
            b"3",
            "LAMBDA_WARNING: This is a preview runtime version and should not be used for production workloads. "
            "For further information and to provide feedback, see "
            f"https://{docs}/lambda/latest/dg/lambda-runtimes.html\r",
        )

    try:
        request_handler = get_handler(environ.get("_HANDLER", "lambda_function.lambda_handler"))
        init_error = None
    except Fault as e:
        init_error = make_error(e.msg, e.exception_type, e.trace)
    except Exception as e:
        init_error = fault_result(e)
    if pending_logging:
        install_pending_logging()
    if init_error is not None:
        flush_out()
        flush_err()
        send_log(b"3", UNHANDLED_WARNING)
        log_error(init_error)
        call(b"I" + to_json(init_error).encode("utf-8", "backslashreplace"))
        return

    # --- the invocation loop ---------------------------------------------------

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
                event = loads(event)
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
            error = make_error(e.msg, e.exception_type, e.trace)
        except Exception as e:
            error = fault_result(e)
        flush_out()
        flush_err()
        if pending_logging:
            install_pending_logging()
        if error is None:
            frame = call(b"R" + result)
        else:
            log_error(error)
            frame = call(b"E" + to_json(error).encode("utf-8", "backslashreplace"))
        response = result = event = context = None


_lambda_runtime()
