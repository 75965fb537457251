#!/bin/sh
# JavaScript cold starts with and without pre-initialisation, for
# BENCHMARKS.md: `lambda-wasm invoke` (test mode, whose module cache holds the
# snapshots) of the seed's hello and of a ~2 MB esbuild bundle
# (bench/js-bundle: lodash, moment with its locales, ramda, zod, date-fns;
# installed from npm into target/bench/js-bundle), beside Node.js running
# the same files once and the Python guest's hello. Each line: the median
# of N fresh processes, wall time (spawn to exit) and the REPORT line's Init
# Duration. Usage: bench/js-cold-start.sh [N] (default 11); needs `make js
# python` and node.
set -eu
N=${1:-11}
BIN=target/release/lambda-wasm
WORK=target/bench/js-bundle
export LAMBDA_WASM_JS_HOME=${LAMBDA_WASM_JS_HOME:-target/release/js}
export LAMBDA_WASM_PYTHON_HOME=${LAMBDA_WASM_PYTHON_HOME:-target/release/python}
export XDG_CACHE_HOME="$PWD/target/bench/js-cache"

mkdir -p "$WORK/out"
cp bench/js-bundle/package.json bench/js-bundle/entry.mjs "$WORK/"
[ -d "$WORK/node_modules/lodash" ] || (cd "$WORK" && npm install --silent --no-audit --no-fund </dev/null)
"$WORK/node_modules/.bin/esbuild" "$WORK/entry.mjs" --bundle --format=esm --platform=node \
  --outfile="$WORK/out/index.mjs" --log-level=warning
EVENT=$(mktemp)
echo '{"first_name": "John", "last_name": "Smith"}' >"$EVENT"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure LABEL PREINIT HANDLER TASK_ROOT: N cold starts through `invoke`.
measure() {
  walls= inits=
  rm -rf "$XDG_CACHE_HOME"
  LAMBDA_WASM_PREINIT=$2 "$BIN" invoke "$3" --task-root "$4" --event "$EVENT" >/dev/null 2>&1 # takes the snapshots
  for _ in $(seq "$N"); do
    start=$(date +%s%N)
    init=$(LAMBDA_WASM_PREINIT=$2 "$BIN" invoke "$3" --task-root "$4" --event "$EVENT" 2>&1 >/dev/null |
      sed -n 's/.*Init Duration: \([0-9.]*\) ms.*/\1/p')
    walls="$walls $(( ($(date +%s%N) - start) / 1000 ))"
    inits="$inits $init"
  done
  printf '%-58s wall %8.1f ms   init %8.1f ms\n' "$1" \
    "$(echo $walls | tr ' ' '\n' | median | awk '{ print $1 / 1000 }')" \
    "$(echo $inits | tr ' ' '\n' | median)"
}

# node_once LABEL FILE: N fresh `node` processes importing FILE and calling its handler once.
node_once() {
  walls=
  for _ in $(seq "$N"); do
    start=$(date +%s%N)
    node --input-type=module -e "const m = await import('$PWD/$2'); await m.handler(JSON.parse(process.argv[1]));" \
      '{"first_name": "John", "last_name": "Smith"}' >/dev/null
    walls="$walls $(( ($(date +%s%N) - start) / 1000 ))"
  done
  printf '%-58s wall %8.1f ms\n' "$1" "$(echo $walls | tr ' ' '\n' | median | awk '{ print $1 / 1000 }')"
}

for level in off runtime handler; do
  preinit=$level; [ "$level" = handler ] && preinit=
  measure "JavaScript hello, pre-init $level" "$preinit" index.handler guests/js/hello
done
for level in off handler; do
  preinit=$level; [ "$level" = handler ] && preinit=
  measure "JavaScript $(($(wc -c <"$WORK/out/index.mjs") / 1024)) KB bundle, pre-init $level" "$preinit" index.handler "$WORK/out"
done
for level in off handler; do
  preinit=$level; [ "$level" = handler ] && preinit=
  measure "Python hello, pre-init $level" "$preinit" lambda_function.lambda_handler guests/python/hello
done
node_once "Node.js $(node --version), hello" guests/js/hello/index.mjs
node_once "Node.js $(node --version), the bundle" "$WORK/out/index.mjs"
rm -f "$EVENT"
