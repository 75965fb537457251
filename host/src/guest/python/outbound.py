# Outbound HTTP(S) for Python handlers. The host appends this file to
# runtime.py; OUTBOUND_SOURCE is compiled and run the first time the
# handler imports `ssl`, `http.client`, `urllib3.connection` or
# `botocore.awsrequest` (see OutboundImportHook in runtime.py), in a
# namespace holding `call` (the host bridge), `sys` and `modules`.
#
# The guest has no sockets and no TLS: the host makes every request (an `H`
# frame in the ABI's wire format, docs/abi.md "Outbound HTTP") under the
# deployer's allow-list, speaks TLS itself and signs AWS requests with
# credentials the guest never holds. So:
#
# - `ssl` is a stand-in with the names urllib3 and botocore import; its
#   contexts record settings and never wrap a socket (the host verifies
#   certificates with the webpki roots).
# - http.client's and urllib3's connections get a HostSocket instead of a
#   TCP socket: connect() asks the host whether the host:port may be reached
#   (a `CONNECT` request: the policy check, no connection), so a denial is
#   raised where the libraries expect connection errors (urllib's URLError,
#   urllib3's NewConnectionError, hence botocore's EndpointConnectionError);
#   the request bytes http.client writes are collected, and when it reads the
#   response they go to the host as one request.
# - The host connects at that `CONNECT` (TCP, and TLS for https, keeping the
#   connection for the request), so a certificate it refuses is raised at
#   connect() as CPython's ssl raises it: ssl.SSLCertVerificationError with
#   OpenSSL's verify code and message (urllib's URLError reason, urllib3's
#   and botocore's SSLError).
# - botocore's `Expect: 100-continue` is dropped: the host sends the body
#   with the request anyway, and waiting for an interim response would need
#   select() on a socket the guest does not have.

OUTBOUND_SOURCE = r"""
SSL_SOURCE = r'''
"Stand-in for `ssl` under lambda-wasm: TLS is done by the host."
import enum as _enum

# The host's TLS (rustls) does what OpenSSL 3 would; libraries check this
# text for "OpenSSL " and warn otherwise.
OPENSSL_VERSION = "OpenSSL 3.0.0 compatible: TLS by the lambda-wasm host (rustls)"
OPENSSL_VERSION_INFO = (3, 0, 0, 0, 0)
OPENSSL_VERSION_NUMBER = 0x30000000
HAS_SNI = True
HAS_ALPN = True
HAS_NEVER_CHECK_COMMON_NAME = True
HAS_TLSv1_3 = True
HAS_ECDH = True
HAS_NPN = False
CHANNEL_BINDING_TYPES = []
_DEFAULT_CIPHERS = "DEFAULT"


class _SSLMethod(_enum.IntEnum):
    PROTOCOL_SSLv23 = 2
    PROTOCOL_TLS_CLIENT = 16
    PROTOCOL_TLS_SERVER = 17


PROTOCOL_TLS = PROTOCOL_SSLv23 = _SSLMethod.PROTOCOL_SSLv23
PROTOCOL_TLS_CLIENT = _SSLMethod.PROTOCOL_TLS_CLIENT
PROTOCOL_TLS_SERVER = _SSLMethod.PROTOCOL_TLS_SERVER


class Options(_enum.IntFlag):
    OP_ALL = 0x80000054
    OP_NO_SSLv2 = 0
    OP_NO_SSLv3 = 0x2000000
    OP_NO_TLSv1 = 0x4000000
    OP_NO_TLSv1_1 = 0x10000000
    OP_NO_TLSv1_2 = 0x8000000
    OP_NO_TLSv1_3 = 0x20000000
    OP_NO_COMPRESSION = 0x20000
    OP_NO_TICKET = 0x4000
    OP_NO_RENEGOTIATION = 0x40000000
    OP_CIPHER_SERVER_PREFERENCE = 0x400000
    OP_SINGLE_DH_USE = 0
    OP_SINGLE_ECDH_USE = 0
    OP_ENABLE_MIDDLEBOX_COMPAT = 0x100000


globals().update(Options.__members__)


class VerifyMode(_enum.IntEnum):
    CERT_NONE = 0
    CERT_OPTIONAL = 1
    CERT_REQUIRED = 2


globals().update(VerifyMode.__members__)


class VerifyFlags(_enum.IntFlag):
    VERIFY_DEFAULT = 0
    VERIFY_CRL_CHECK_LEAF = 0x4
    VERIFY_CRL_CHECK_CHAIN = 0xC
    VERIFY_X509_STRICT = 0x20
    VERIFY_X509_TRUSTED_FIRST = 0x8000
    VERIFY_X509_PARTIAL_CHAIN = 0x80000
    VERIFY_ALLOW_PROXY_CERTS = 0x40


globals().update(VerifyFlags.__members__)


class TLSVersion(_enum.IntEnum):
    MINIMUM_SUPPORTED = -2
    SSLv3 = 0x300
    TLSv1 = 0x301
    TLSv1_1 = 0x302
    TLSv1_2 = 0x303
    TLSv1_3 = 0x304
    MAXIMUM_SUPPORTED = -1


class Purpose(_enum.Enum):
    SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
    CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"


SSL_ERROR_SSL = 1
SSL_ERROR_WANT_READ = 2
SSL_ERROR_WANT_WRITE = 3
SSL_ERROR_WANT_X509_LOOKUP = 4
SSL_ERROR_SYSCALL = 5
SSL_ERROR_ZERO_RETURN = 6
SSL_ERROR_WANT_CONNECT = 7
SSL_ERROR_EOF = 8


class SSLError(OSError):
    # As CPython's: the message alone when there is one.
    def __str__(self):
        return self.strerror if isinstance(self.strerror, str) else super().__str__()


class SSLZeroReturnError(SSLError):
    pass


class SSLWantReadError(SSLError):
    pass


class SSLWantWriteError(SSLError):
    pass


class SSLSyscallError(SSLError):
    pass


class SSLEOFError(SSLError):
    pass


class SSLCertVerificationError(SSLError, ValueError):
    pass


CertificateError = SSLCertVerificationError

_NO_TLS = "the guest has no TLS: lambda-wasm's host makes https:// requests itself (http.client, urllib and urllib3 do so unchanged)"


class SSLContext:
    "Records what a library configures; the host's TLS does the work."

    sslsocket_class = None
    sslobject_class = None

    def __init__(self, protocol=PROTOCOL_TLS_CLIENT, *args, **kwargs):
        self.protocol = protocol
        self.options = Options.OP_ALL | Options.OP_NO_SSLv3
        client = protocol == PROTOCOL_TLS_CLIENT
        self.verify_mode = CERT_REQUIRED if client else CERT_NONE
        self.check_hostname = client
        self.verify_flags = VERIFY_X509_TRUSTED_FIRST
        self.minimum_version = TLSVersion.MINIMUM_SUPPORTED
        self.maximum_version = TLSVersion.MAXIMUM_SUPPORTED
        self.post_handshake_auth = None
        self.hostname_checks_common_name = False
        self.keylog_filename = None
        self.security_level = 2

    def load_default_certs(self, purpose=Purpose.SERVER_AUTH):
        pass

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        pass

    def set_default_verify_paths(self):
        pass

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        raise SSLError("client certificates are not supported: " + _NO_TLS)

    def set_ciphers(self, ciphers):
        pass

    def get_ciphers(self):
        return []

    def set_alpn_protocols(self, protocols):
        pass

    def set_npn_protocols(self, protocols):
        pass

    def set_ecdh_curve(self, name):
        pass

    def cert_store_stats(self):
        return {"x509": 0, "crl": 0, "x509_ca": 0}

    def get_ca_certs(self, binary_form=False):
        return []

    def wrap_socket(self, sock, *args, **kwargs):
        raise SSLError(_NO_TLS)

    def wrap_bio(self, *args, **kwargs):
        raise SSLError(_NO_TLS)


class SSLSocket:
    def __init__(self, *args, **kwargs):
        raise SSLError(_NO_TLS)


class SSLObject(SSLSocket):
    pass


class MemoryBIO:
    def __init__(self, *args, **kwargs):
        raise SSLError(_NO_TLS)


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None, cadata=None):
    return SSLContext(PROTOCOL_TLS_CLIENT if purpose == Purpose.SERVER_AUTH else PROTOCOL_TLS_SERVER)


def _create_unverified_context(*args, **kwargs):
    context = create_default_context()
    context.check_hostname = False
    context.verify_mode = CERT_NONE
    return context


_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context


def wrap_socket(sock, *args, **kwargs):
    raise SSLError(_NO_TLS)


def get_default_verify_paths():
    import collections
    return collections.namedtuple("DefaultVerifyPaths", "cafile capath openssl_cafile_env openssl_cafile openssl_capath_env openssl_capath")(None, None, "SSL_CERT_FILE", "", "SSL_CERT_DIR", "")


def DER_cert_to_PEM_cert(der_cert_bytes):
    import base64
    text = base64.standard_b64encode(der_cert_bytes).decode("ascii")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def PEM_cert_to_DER_cert(pem_cert_string):
    import base64
    body = pem_cert_string.strip()[len("-----BEGIN CERTIFICATE-----"):-len("-----END CERTIFICATE-----")]
    return base64.decodebytes(body.encode("ascii"))


def RAND_bytes(n):
    import os
    return os.urandom(n)


def RAND_status():
    return True
'''

# Status digits of the host's reply (docs/abi.md, `http_request`).
DENIED, FAILED, TIMED_OUT = 1, 2, 3
# What a failure's message says of a certificate the host refused, before
# rustls's reason (CERTIFICATE_NOT_ACCEPTED in host/src/outbound/client.rs).
CERTIFICATE_NOT_ACCEPTED = "TLS certificate not accepted"
RUSTLS_REASON = "invalid peer certificate: "

# rustls's reasons (their starts) as OpenSSL's X509 verify code and message,
# which CPython's SSLCertVerificationError carries. rustls does not tell a
# self-signed certificate from one of an unknown issuer: both are 20.
VERIFY_RESULTS = (
    (("UnknownIssuer",), 20, "unable to get local issuer certificate"),
    (("Expired", "certificate expired"), 10, "certificate has expired"),
    (("NotValidYet", "certificate not valid yet"), 9, "certificate is not yet valid"),
    (("NotValidForName", "certificate not valid for name"), 62, "Hostname mismatch, certificate is not valid for '%s'."),
    (("Revoked",), 23, "certificate revoked"),
    (("BadSignature",), 7, "certificate signature failure"),
    (("InvalidPurpose", "certificate does not allow"), 26, "unsupported certificate purpose"),
)
# OpenSSL's X509_V_ERR_UNSPECIFIED, for the other reasons (their text is rustls's).
VERIFY_UNSPECIFIED = 1


def host_exchange(wire, host):
    '''The host's response to one wire request for `host`: (status, headers,
    body), or an OSError carrying the host's message.'''
    reply = call(b"H" + wire)
    status = reply[0] - 48
    if status != 0:
        message = reply[1:].decode("utf-8", "replace")
        if status == DENIED:
            raise PermissionError(message)
        if status == TIMED_OUT:
            raise TimeoutError(message)
        if status == FAILED and CERTIFICATE_NOT_ACCEPTED in message:
            raise certificate_error(message, host)
        raise ConnectionError(message)
    head, _, body = reply[1:].partition(b"\n\n")
    lines = head.split(b"\n")
    return int(lines[0]), lines[1:], body


def certificate_error(message, host):
    '''ssl.SSLCertVerificationError as CPython raises it, the host's message
    (with rustls's reason) where CPython names its source line.'''
    import ssl
    reason = message.rpartition(RUSTLS_REASON)[2]
    code, verify_message = VERIFY_UNSPECIFIED, reason
    for starts, known_code, text in VERIFY_RESULTS:
        if reason.startswith(starts):
            code, verify_message = known_code, text.replace("%s", host)
            break
    error = ssl.SSLCertVerificationError(
        ssl.SSL_ERROR_SSL,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: %s (%s)" % (verify_message, message),
    )
    error.library, error.reason = "SSL", "CERTIFICATE_VERIFY_FAILED"
    error.verify_code, error.verify_message = code, verify_message
    return error


def check_reachable(scheme, host, port):
    '''Has the host check scheme://host:port and connect to it (docs/abi.md,
    `CONNECT`); the connection waits in the host for the request.'''
    wire = b"CONNECT %s://%s:%d\n\n" % (scheme.encode(), authority_host(host).encode("idna"), port)
    host_exchange(wire, host)


def authority_host(host):
    return "[%s]" % host if ":" in host else host


# Hop-by-hop headers of the host's response: the host already decoded the
# body, and each guest connection carries one exchange.
HOP_BY_HOP = (b"connection", b"keep-alive", b"transfer-encoding", b"content-length")


class HostSocket:
    '''What a connection holds instead of a TCP socket: it collects the
    request http.client writes and, when the response is read, has the host
    make the request.'''

    def __init__(self, scheme, host, port, timeout=None):
        self.scheme, self.host, self.port = scheme, host, port
        self.timeout = timeout
        self.sent = []
        self.response = None

    def sendall(self, data):
        self.sent.append(bytes(data))

    def send(self, data):
        self.sendall(data)
        return len(data)

    def finish_request(self):
        # Has the host make the request written so far, keeping the response
        # for makefile(); errors are raised here.
        request, self.sent = b"".join(self.sent), []
        self.response = self.exchange(request)

    def makefile(self, mode="rb", buffering=None, **kwargs):
        import io
        if self.response is None:
            self.finish_request()
        response, self.response = self.response, None
        return io.BytesIO(response)

    def exchange(self, request):
        '''Sends the HTTP/1.1 bytes http.client wrote; the response as HTTP/1.1 bytes.'''
        head, _, body = request.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        method, target, _ = lines[0].split(b" ", 2)
        headers = [line for line in lines[1:] if line]
        if any(h.lower().startswith(b"transfer-encoding:") and b"chunked" in h.lower() for h in headers):
            body = dechunk(body)
            headers = [h for h in headers if not h.lower().startswith(b"transfer-encoding:")]
        default = 443 if self.scheme == "https" else 80
        authority = authority_host(self.host) + ("" if self.port == default else ":%d" % self.port)
        absolute = target.startswith(b"http://") or target.startswith(b"https://")
        url = target if absolute else b"%s://%s%s" % (self.scheme.encode(), authority.encode("idna"), target)
        wire = b"%s %s\n%s\n\n%s" % (method, url, b"\n".join(headers), body) if headers else b"%s %s\n\n%s" % (method, url, body)
        status, response_headers, response_body = host_exchange(wire, self.host)
        keep_length = method == b"HEAD" or status in (204, 304)
        out = [b"HTTP/1.1 %d %s" % (status, modules["http.client"].responses.get(status, "").encode())]
        for line in response_headers:
            name = line.split(b":", 1)[0].strip().lower()
            if name not in HOP_BY_HOP or (keep_length and name == b"content-length"):
                out.append(line)
        if not keep_length:
            out.append(b"content-length: %d" % len(response_body))
        out.append(b"connection: close")
        return b"\r\n".join(out) + b"\r\n\r\n" + response_body

    def settimeout(self, timeout):
        self.timeout = timeout

    def gettimeout(self):
        return self.timeout

    def setsockopt(self, *args):
        pass

    def shutdown(self, how):
        pass

    def close(self):
        self.sent = []

    def fileno(self):
        return -1


def dechunk(body):
    out, pos = [], 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";", 1)[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2:end + 2 + size])
        pos = end + 2 + size + 2


def http_client_connect(self):
    '''http.client's HTTP(S)Connection.connect: check with the host, then a HostSocket.'''
    scheme = "https" if self.default_port == 443 else "http"
    check_reachable(scheme, self.host, self.port)
    self.sock = HostSocket(scheme, self.host, self.port, self.timeout)


def patch_http_client(module):
    connection = module.HTTPConnection
    send_request = connection.request

    def request(self, method, url, body=None, headers={}, **kwargs):
        # http.client's request() sends the whole request, so the host makes
        # it now: a failure is raised by request(), where urllib turns an
        # OSError into URLError, rather than by getresponse().
        send_request(self, method, url, body, headers, **kwargs)
        if isinstance(self.sock, HostSocket):
            self.sock.finish_request()

    connection.connect = http_client_connect
    connection.request = request
    if hasattr(module, "HTTPSConnection"):
        module.HTTPSConnection.connect = http_client_connect


def patch_urllib3(module):
    new_connection_error = modules["urllib3.exceptions"].NewConnectionError
    ssl_error = modules["ssl"].SSLError  # urllib3 imported it

    def connect(self):
        scheme = "https" if self.default_port == 443 else "http"
        try:
            check_reachable(scheme, self.host, self.port)
        except ssl_error:
            raise  # urllib3 makes it its SSLError
        except OSError as e:
            raise new_connection_error(self, str(e)) from e
        self.sock = HostSocket(scheme, self.host, self.port, self.timeout)
        if scheme == "https":
            self.is_verified = True  # by the host's TLS
            self.proxy_is_verified = None

    module.HTTPConnection.connect = connect
    module.HTTPSConnection.connect = connect


def patch_botocore(module):
    connection = module.AWSConnection
    send_request = connection.request

    def request(self, method, url, body=None, headers=None, *args, **kwargs):
        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "expect"}
        return send_request(self, method, url, body, headers, *args, **kwargs)

    connection.request = request


PATCHES = {
    "http.client": patch_http_client,
    "urllib3.connection": patch_urllib3,
    "botocore.awsrequest": patch_botocore,
}
"""
