#!/bin/sh
# Fuzz the segment decoder (FuzzDecode in fuzz_test.go).
#
#   engine/segment/fuzz.sh [DURATION [go test flags...]]    DURATION defaults to 5m
#
# e.g. engine/segment/fuzz.sh 30m -parallel=1 -fuzzminimizetime=10s
# Runs from anywhere inside the repository. A failing input is written to
# engine/segment/testdata/fuzz/FuzzDecode/ and replayed by every later
# `go test ./engine/segment/`: commit it with the fix. The execs counter
# pausing for a while after "new interesting" is the fuzzer minimizing the
# new input (up to -fuzzminimizetime, 60s by default), not a hang.
set -eu
cd "$(dirname "$0")/../.."
fuzztime=${1:-5m}
[ $# -gt 0 ] && shift
exec go test -run='^$' -fuzz=FuzzDecode -fuzztime="$fuzztime" "$@" ./engine/segment/
