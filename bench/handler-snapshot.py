#!/usr/bin/env python3
"""Cold starts of packaged functions with and without the handler snapshot
(`lambda-wasm package` vs `package --no-handler-snapshot`), for BENCHMARKS.md
("Handler snapshots at package time").

Each function is packaged both ways and unzipped; each unzipped `bootstrap`
is then started N times against a minimal Runtime API (this script's, one
event queued before the spawn) and timed from spawn to its first response
(wall), then killed: its CPU time (user + system, from wait4) is what the
process spent until then. Each cell is the median of N fresh processes.

Functions: the seed's Python hello, a Python handler importing numpy at
module level (bench/numpy-handler), the ~2 MB JavaScript bundle (bench/js-bundle, built by
bench/js-cold-start.sh into target/bench/js-bundle/out) and the seed's Ruby
hello; a function whose interpreter or bundle is missing is skipped with a
note.

Usage: bench/handler-snapshot.py [N] (default 11), from the repository's
root, after `make host python js ruby`; the homes default to
target/release/{python,js,ruby} (LAMBDA_WASM_*_HOME override them).
"""

import http.server
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = os.getcwd()
BIN = os.path.join(ROOT, "target/release/lambda-wasm")
WORK = os.path.join(ROOT, "target/bench/handler-snapshot")
EVENT = b'{"first_name": "John", "last_name": "Smith"}'
HOMES = {
    "python": ("LAMBDA_WASM_PYTHON_HOME", "target/release/python"),
    "js": ("LAMBDA_WASM_JS_HOME", "target/release/js"),
    "ruby": ("LAMBDA_WASM_RUBY_HOME", "target/release/ruby"),
}


class RuntimeApi(http.server.ThreadingHTTPServer):
    """Lambda's Runtime API for one event: `next` gives it, the response
    post records when it came (a second `next` waits until the server is
    closed)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answered = threading.Event()
        self.answered_at = None
        self.body = None
        self.given = False
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request, client_address):
        """A bootstrap killed while waiting on `next` resets its connection."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        api = self.server
        if api.given:
            api.answered.wait(60)
            time.sleep(60)
            return
        api.given = True
        deadline = str(int(time.time() * 1000) + 30000)
        self.send_response(200)
        for name, value in [
            ("Lambda-Runtime-Aws-Request-Id", "bench-1"),
            ("Lambda-Runtime-Deadline-Ms", deadline),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(EVENT))),
        ]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(EVENT)

    def do_POST(self):
        api = self.server
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        api.answered_at = time.perf_counter()
        api.body = (self.path, body)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        api.answered.set()


def cold_start(folder, handler, env):
    """One cold start of the bootstrap in `folder`: (wall ms, CPU ms, answer)."""
    api = RuntimeApi()
    variables = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % api.server_address[1],
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": folder,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/02/[$LATEST]bench",
        "TZ": ":UTC",
        "TMPDIR": env["TMPDIR"],
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [os.path.join(folder, "bootstrap")],
        cwd=folder,
        env=variables,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=env["log"],
    )
    if not api.answered.wait(120):
        process.kill()
        sys.exit("%s: no answer within 120 s; see %s" % (folder, env["log"].name))
    process.send_signal(signal.SIGKILL)
    _, _, usage = os.wait4(process.pid, 0)
    api.shutdown()
    api.server_close()
    wall = (api.answered_at - started) * 1000
    cpu = (usage.ru_utime + usage.ru_stime) * 1000
    return wall, cpu, api.body


def package(name, task_root, handler, home, snapshot):
    """`package`s `task_root` (with or without the handler snapshot) and
    unzips it into WORK/<name>-<with|without>; that folder."""
    kind = "with" if snapshot else "without"
    folder = os.path.join(WORK, "%s-%s" % (name, kind))
    shutil.rmtree(folder, ignore_errors=True)
    zip_path = folder + ".zip"
    command = [BIN, "package", "--task-root", task_root, "--out", zip_path, "--handler", handler]
    if not snapshot:
        command.append("--no-handler-snapshot")
    env = dict(os.environ, **{home[0]: home[1]})
    made = subprocess.run(command, env=env, capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit("%s: package failed:\n%s" % (name, made.stderr))
    if snapshot and "with a snapshot of" not in made.stderr:
        sys.exit("%s: package shipped no handler snapshot:\n%s" % (name, made.stderr))
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = archive.extract(info, folder)
            mode = info.external_attr >> 16
            if mode:
                os.chmod(path, mode & 0o777)
            stamp = time.mktime(info.date_time + (0, 0, -1))
            os.utime(path, (stamp, stamp))
    os.remove(zip_path)
    return folder


def functions():
    """(label, name, task root, handler, interpreter folder) of each function."""
    numpy_root = os.path.join(WORK, "numpy-src")
    os.makedirs(numpy_root, exist_ok=True)
    # the handler `make bench`'s packaged numpy row runs too
    shutil.copy(os.path.join(ROOT, "bench/numpy-handler/lambda_function.py"), numpy_root)
    bundle = os.path.join(ROOT, "target/bench/js-bundle/out")
    return [
        ("Python seed hello", "python-hello", "guests/python/hello", "lambda_function.lambda_handler", "python"),
        ("Python, `import numpy as np` at module level", "numpy", numpy_root, "lambda_function.lambda_handler", "python"),
        ("JavaScript ~2 MB esbuild bundle (bench/js-bundle)", "js-bundle", bundle, "index.handler", "js"),
        ("Ruby seed hello", "ruby-hello", "guests/ruby/hello", "lambda_function.lambda_handler", "ruby"),
    ]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    os.makedirs(WORK, exist_ok=True)
    rows = []
    for label, name, task_root, handler, language in functions():
        variable, default = HOMES[language]
        home = os.path.abspath(os.environ.get(variable) or default)
        if not os.path.isdir(home) or not os.path.isdir(task_root):
            print("skipped %s: no %s or no %s" % (label, home, task_root), file=sys.stderr)
            continue
        cells = []
        for snapshot in (False, True):
            folder = package(name, os.path.abspath(task_root), handler, (variable, home), snapshot)
            with tempfile.TemporaryDirectory() as tmp, open(folder + ".log", "w") as log:
                env = {"TMPDIR": tmp, "log": log}
                cold_start(folder, handler, env)  # unpacks a compressed .cwasm into this /tmp once
                runs = [cold_start(folder, handler, env) for _ in range(n)]
            answers = {body for _, _, body in runs}
            if len(answers) != 1 or "/response" not in next(iter(answers))[0]:
                sys.exit("%s: unexpected answers %s; see %s.log" % (label, answers, folder))
            cells.append(
                (statistics.median(cpu for _, cpu, _ in runs), statistics.median(wall for wall, _, _ in runs))
            )
        (cpu_off, wall_off), (cpu_on, wall_on) = cells
        rows.append((label, cpu_off, cpu_on, wall_off, wall_on))
        print("%-55s CPU %7.1f -> %7.1f ms   wall %7.1f -> %7.1f ms" % (label, cpu_off, cpu_on, wall_off, wall_on), file=sys.stderr)
    print("| function | CPU without → with | wall without → with |")
    print("|---|---:|---:|")
    for label, cpu_off, cpu_on, wall_off, wall_on in rows:
        print("| %s | %.1f → **%.1f** ms | %.1f → **%.1f** ms |" % (label, cpu_off, cpu_on, wall_off, wall_on))


if __name__ == "__main__":
    main()
