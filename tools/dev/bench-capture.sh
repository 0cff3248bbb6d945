#!/usr/bin/env bash
# Capture benchmarks for docs/benchmarks.md: fps with capture off and on for
# the sample games (rects: the 200-rectangle scene) at 720p and 1080p (recording what the player sees,
# capture.source = "window"), render-thread capture cost, encode time and
# stored bytes per codec against PNG-per-frame. Run from the repository root
# (`make bench-capture`); needs a display or runs under tools/dev/with-xvfb.sh.
#
#   FRAMES=600 GAMES="breakout arena rects" tools/dev/bench-capture.sh
#
# The goals table (capture on ÷ off, medians of interleaved runs) is one
# command: bin/skyloop bench capture --runs 3 --scene breakout:1280x720,rects:1280x720,rects:1920x1080,arena:1280x720
set -euo pipefail

frames=${FRAMES:-600}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o bin/ ./games/... ./tools/dev/segstat

config() { # codec readback
	cat >"$out/$1-$2.toml" <<TOML
[capture]
source = "window"
codec = "$1"
readback = "$2"
[[sink]]
name = "bench"
plugin = "disk"
[sink.settings]
root = "$out/root-$1-$2"
TOML
	echo "$out/$1-$2.toml"
}

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" | head -1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); GL: $(DISPLAY=${DISPLAY:-} glxinfo -B 2>/dev/null | sed -n 's/.*OpenGL renderer string: //p' || echo unknown)"
echo "frames per run: $frames, -autoplay -lockstep -seed 1 -vsync=false"
echo
echo "| game | size | capture (codec, readback) | fps | frame median ms | frame p99 ms | capture render-thread median ms | p99 ms | encode ms/frame | dropped | bytes/frame | PNG bytes/frame | PNG ÷ stored |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for game in ${GAMES:-breakout arena rects}; do
	for size in 1280x720 1920x1080; do
		for mode in off zstd s2 zstd-pbo; do
			args=(-autoplay -lockstep -seed 1 -frames "$frames" -size "$size" -vsync=false -bench)
			if [ "$mode" = off ]; then
				log=$(bin/"$game" "${args[@]}" -capture=false 2>&1)
			else
				codec=${mode%-pbo}
				rb=sync
				[ "$mode" != "$codec" ] && rb=pbo
				cfg=$(config "$codec" "$rb")
				rm -rf "$out/root-$codec-$rb"
				log=$(bin/"$game" "${args[@]}" -config "$cfg" 2>&1)
			fi
			fps=$(echo "$log" | field fps)
			med=$(echo "$log" | field frame_time_median)
			p99=$(echo "$log" | grep '^frames=' | sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p')
			if [ "$mode" = off ]; then
				echo "| $game | $size | off | $fps | $med | $p99 | – | – | – | – | – | – | – |"
				continue
			fi
			cl=$(echo "$log" | grep '^capture')
			cmed=$(echo "$cl" | field render_thread_median)
			cp99=$(echo "$cl" | sed -n 's/.*render_thread_median=[0-9.]*ms p99=\([0-9.]*\)ms.*/\1/p')
			enc=$(echo "$cl" | sed -n 's/.*encode \([0-9.]*\) ms\/frame.*/\1/p')
			drop=$(echo "$cl" | sed -n 's/.*dropped \([0-9]*\) .*/\1/p')
			sess=$(ls -d "$out/root-$codec-$rb/$game"/*/sessions/*/ | head -1)
			st=$(bin/segstat "$sess")
			echo "| $game | $size | $codec, $rb | $fps | $med | $p99 | $cmed | $cp99 | $enc | $drop | $(echo "$st" | field bytes_per_frame) | $(echo "$st" | field png_bytes_per_frame) | $(echo "$st" | field png_over_stored) |"
		done
	done
done
