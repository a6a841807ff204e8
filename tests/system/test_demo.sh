#!/usr/bin/env bash
# The demo as a system test: runs scripts/demo.sh --check with the binaries
# of NTM_BUILD (default build-test/). It shows the route cases with scripted
# nodes, then remote DLNA through the DLNA Agent with minidlna, including a
# move into the home network during a stream. The demo prints one "ok -" or
# "not ok -" line per step, checking outcomes and not timings, and closes
# with "N passed, N failed". It exits 1 when a step failed.
set -uo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
export NTM_BUILD=${NTM_BUILD:-$REPO/build-test}
exec bash "$REPO/scripts/demo.sh" --check
