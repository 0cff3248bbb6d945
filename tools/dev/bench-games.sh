#!/usr/bin/env bash
# Frame time (median, p99) and fps of each sample game at 720p and 1080p,
# capture off, for docs/benchmarks.md. Run from the repository root with a
# display (or under tools/dev/with-xvfb.sh).
set -euo pipefail
frames=${FRAMES:-600}
go build -o bin/ ./games/...
echo "| game | size | fps | frame median ms | frame p99 ms |"
echo "|---|---|---|---|---|"
for game in breakout arena; do
	for size in 1280x720 1920x1080; do
		line=$(bin/"$game" -autoplay -lockstep -seed 1 -frames "$frames" -size "$size" -vsync=false -capture=false -bench 2>&1 | grep '^frames=')
		fps=$(echo "$line" | sed -n 's/.* fps=\([0-9.]*\).*/\1/p')
		med=$(echo "$line" | sed -n 's/.*frame_time_median=\([0-9.]*\)ms.*/\1/p')
		p99=$(echo "$line" | sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p')
		echo "| $game | $size | $fps | $med | $p99 |"
	done
done
