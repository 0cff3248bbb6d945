#!/usr/bin/env bash
# Runs a command with an X display. When DISPLAY is unset it starts Xvfb on a
# free display number with a screen large enough for 1080p windows, runs the
# command, and stops Xvfb whatever happens. Exits with the command's status.
set -uo pipefail

if [ -n "${DISPLAY:-}" ]; then
	exec "$@"
fi

n=90
while [ -e "/tmp/.X${n}-lock" ] || [ -e "/tmp/.X11-unix/X${n}" ]; do
	n=$((n + 1))
done
Xvfb ":${n}" -screen 0 2048x1152x24 -nolisten tcp -noreset >"/tmp/skyloop-xvfb-${n}.log" 2>&1 &
xvfb_pid=$!
trap 'kill "$xvfb_pid" 2>/dev/null; wait "$xvfb_pid" 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
	[ -S "/tmp/.X11-unix/X${n}" ] && break
	if ! kill -0 "$xvfb_pid" 2>/dev/null; then
		echo "with-xvfb: Xvfb failed to start; its log:" >&2
		cat "/tmp/skyloop-xvfb-${n}.log" >&2
		exit 1
	fi
	sleep 0.05
done
if [ ! -S "/tmp/.X11-unix/X${n}" ]; then
	echo "with-xvfb: Xvfb :${n} did not come up in 5 s" >&2
	exit 1
fi
export DISPLAY=":${n}"
"$@"
