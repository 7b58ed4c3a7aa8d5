#!/usr/bin/env bash
# Runs the Python peer benchmark (Segment's official Python library, no network) and, when a Swift benchmark
# result is given, prints how many times faster or slower the Swift side is.
#
#   Benchmarks/run-peer-comparison.sh [SWIFT_RESULT_JSON] [-- PYTHON_BENCHMARK_ARGS...]
#
# SWIFT_RESULT_JSON: a JSON object with at least "messages_per_second"; if the path is missing or the file does
# not exist, only the Python figure is printed. Anything after "--" goes to python_peer_benchmark.py (e.g.
# --count 50000). The Python result JSON is written to $PYTHON_PEER_JSON (default .build-bench/python-peer.json).
# Run by hand only; CI never calls this. Needs python3 with venv and pip, and access to PyPI the first time.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

swift_json=""
if [[ $# -gt 0 && "$1" != "--" ]]; then
    swift_json="$1"
    shift
fi
if [[ $# -gt 0 && "$1" == "--" ]]; then
    shift
fi

python_json="${PYTHON_PEER_JSON:-$repo/.build-bench/python-peer.json}"
mkdir -p "$(dirname "$python_json")"

# Creates .build-bench-venv and installs the pinned segment-analytics-python if needed; prints its python.
venv_python="$(python3 "$here/bench_venv.py")"

echo "== python peer benchmark ($("$venv_python" -c 'from segment.analytics.version import VERSION; print("segment-analytics-python " + VERSION)'))"
"$venv_python" "$here/python_peer_benchmark.py" --json-out "$python_json" "$@"

if [[ -z "$swift_json" ]]; then
    echo "(no Swift result given: pass its JSON path as the first argument to print the ratio)"
    exit 0
fi
if [[ ! -f "$swift_json" ]]; then
    echo "(no Swift result at $swift_json: run the Swift benchmark first to print the ratio)"
    exit 0
fi

python3 - "$swift_json" "$python_json" <<'PY'
import json
import sys

swift_path, python_path = sys.argv[1], sys.argv[2]
with open(swift_path) as f:
    swift = json.load(f)
with open(python_path) as f:
    python = json.load(f)
x = swift.get("messages_per_second")
y = python.get("messages_per_second")
if not isinstance(x, (int, float)) or not isinstance(y, (int, float)) or y <= 0:
    sys.exit(f"cannot compare: swift messages_per_second={x!r}, python messages_per_second={y!r}")
if swift.get("messages") not in (None, python.get("messages")):
    print(f"note: message counts differ (swift {swift.get('messages')}, python {python.get('messages')})")
if python.get("dropped"):
    print(f"note: the Python run dropped {python['dropped']} messages; its figure is not comparable")
print(f"ratio swift/python = {x:.1f}/{y:.1f} = {x / y:.2f}")
PY
