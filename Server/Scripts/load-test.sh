#!/usr/bin/env bash
# The load test of issue 11 (not run by CI): the built kommo-segment-server on loopback, driven at RATE webhooks per
# second (200) for SECONDS (60) with the bundled sample webhooks, the Kommo and Segment fakes also on loopback, the
# inbox on. Prints acknowledgement and end-to-end latency, Kommo requests per second, Segment requests per message,
# peak RSS, and whether every accepted webhook was done. Usage: Server/Scripts/load-test.sh [RATE [SECONDS]]
# CONFIGURATION=release (the default) or debug chooses the build. KOMMO_SEGMENT_LOAD_DATABASE_URL=postgres://… (an
# empty database) runs the same load with the stores in PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=${CONFIGURATION:-release}
swift build -c "$configuration" --build-tests
KOMMO_SEGMENT_LOAD_TEST=1 KOMMO_SEGMENT_LOAD_RATE="${1:-200}" KOMMO_SEGMENT_LOAD_SECONDS="${2:-60}" \
    swift test -c "$configuration" --skip-build --filter LoadTest
