"""Requests/s of `lambda-wasm serve` against `cargo lambda watch` serving the
native hello (bench/native-hello), with the same client: 2,000 Invoke
requests from 64 threads, each on its own keep-alive connection, every
answer checked against its own id. `make bench` runs it; the numbers go in
BENCHMARKS.md ("serve under load").

usage: python3 bench/serve_load.py LAMBDA_WASM GUEST_DIR NATIVE_HELLO CARGO_LAMBDA
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

REQUESTS = 2000
THREADS = 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, process, what):
    until = time.time() + 30
    while time.time() < until:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def load(port, function):
    """Sends REQUESTS invocations from THREADS threads; returns requests/s."""
    counter = iter(range(REQUESTS))
    lock = threading.Lock()
    failures = []

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            body = json.dumps({"first_name": f"req-{n}", "last_name": "Smith"})
            connection.request("POST", f"/2015-03-31/functions/{function}/invocations", body,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200 or json.loads(answer) != {"message": f"Hello req-{n} Smith!"}:
                failures.append((n, response.status, answer[:200]))

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        sys.exit(f"{len(failures)} wrong answers, e.g. {failures[:3]}")
    return REQUESTS / elapsed


def lambda_wasm_row(binary, guest_dir, concurrency):
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "hello.handler", "--task-root", guest_dir, "--listen", f"127.0.0.1:{port}",
         "--concurrency", str(concurrency)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server, "lambda-wasm serve")
        load(port, "hello")  # warm every environment
        return load(port, "hello")
    finally:
        server.kill()
        server.wait()


def cargo_lambda_row(native_hello, cargo_lambda):
    work = tempfile.mkdtemp(prefix="serve-load-")
    # `watch` only invokes [[bin]] targets of the Cargo project it runs in.
    with open(os.path.join(work, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "serve-load"\nversion = "0.0.0"\nedition = "2021"\n\n'
                '[[bin]]\nname = "hello"\npath = "hello.rs"\n\n[workspace]\n')
    with open(os.path.join(work, "hello.rs"), "w") as f:
        f.write("fn main() {}\n")
    port = free_port()
    emulator = subprocess.Popen(
        [cargo_lambda, "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port)],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
    runtime = None
    try:
        wait_for(port, emulator, "cargo lambda watch")
        runtime = subprocess.Popen(
            [native_hello], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt/hello",
                 "AWS_LAMBDA_FUNCTION_NAME": "hello", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                 "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"})
        load(port, "hello")
        return load(port, "hello")
    finally:
        for process in (runtime, emulator):
            if process is not None:
                process.kill()
                process.wait()


def main():
    binary, guest_dir, native_hello, cargo_lambda = map(os.path.abspath, sys.argv[1:5])
    cores = os.cpu_count()
    rows = [
        (f"lambda-wasm serve, hello.wasm, {cores} environments", lambda_wasm_row(binary, guest_dir, cores)),
        ("lambda-wasm serve, hello.wasm, 1 environment", lambda_wasm_row(binary, guest_dir, 1)),
        ("cargo lambda watch + native hello (1 runtime process)", cargo_lambda_row(native_hello, cargo_lambda)),
    ]
    print(f"{REQUESTS} requests from {THREADS} threads (keep-alive), answers checked:")
    for name, rate in rows:
        print(f"  {name:58} {rate:8.0f} requests/s")


if __name__ == "__main__":
    main()
