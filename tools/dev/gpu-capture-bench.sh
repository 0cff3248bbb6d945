#!/usr/bin/env bash
# Render-thread capture cost per frame (readback pbo against sync) and fps
# with capture off and on, at 1080p and 4K, rendering headless through EGL
# (the device platform on an NVIDIA GPU, Mesa's surfaceless platform on
# llvmpipe). Writes results.json and results.txt (a short table naming the
# driver) to OUTDIR. docs/headless.md explains it.
#
#   tools/dev/gpu-capture-bench.sh [OUTDIR]                 # default: $OUT, else out/gpu-capture-bench
#   tools/dev/gpu-capture-bench.sh --prepare [CARRYDIR]     # here: build and fetch what a GPU machine lacks
#   tools/dev/gpu-capture-bench.sh --carry CARRYDIR [OUTDIR] # there: use what --prepare made
#
# Environment: SIZES (default "1920x1080 3840x2160"), FRAMES per run
# (default 600), MODES (default "off sync pbo"), GAME (default breakout),
# SOURCE (capture.source, default window: the -size image), CODEC (default
# zstd), BUDGET (seconds for all runs, default 480: later runs are skipped
# past it), RUN_TIMEOUT (seconds per run, default 90).
#
# With Go on PATH it builds the game itself; without (a GPU machine's
# image), --carry names a directory made by --prepare here: the game binary,
# the GL dispatch libraries as Debian packages (unpacked into / when libEGL
# is missing, as root) and the X11 client libraries GLFW links against
# (unpacked under /tmp and put on LD_LIBRARY_PATH).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

gl_debs=(libegl1 libglvnd0 libgl1 libglx0 libopengl0 libgles2)
x11_debs=(libx11-6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0)

if [ "${1:-}" = --prepare ]; then
	carry=${2:-out/gpu-bench-carry}
	game=${GAME:-breakout}
	rm -rf "$carry" && mkdir -p "$carry/bin" "$carry/gl" "$carry/x11"
	echo "gpu-capture-bench: building games/$game into $carry/bin (x86-64, $(go env GOOS)/$(go env GOARCH))" >&2
	go build -trimpath -o "$carry/bin/$game" "./games/$game"
	echo "gpu-capture-bench: fetching ${gl_debs[*]} ${x11_debs[*]} (Debian packages, amd64)" >&2
	o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
	(cd "$carry/gl" && apt-get "${o[@]}" download -q "${gl_debs[@]}" >/dev/null) ||
		{ apt-get update -q >/dev/null && (cd "$carry/gl" && apt-get "${o[@]}" download -q "${gl_debs[@]}" >/dev/null); }
	(cd "$carry/x11" && apt-get "${o[@]}" download -q "${x11_debs[@]}" >/dev/null)
	du -sh "$carry" >&2
	echo "gpu-capture-bench: ready; on the GPU machine: tools/dev/gpu-capture-bench.sh --carry $carry \"\$OUT\" (carry $carry)" >&2
	exit 0
fi

carry=
if [ "${1:-}" = --carry ]; then
	carry=${2:?--carry needs the directory --prepare made}
	shift 2
fi
out=${1:-${OUT:-out/gpu-capture-bench}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
sizes=${SIZES:-1920x1080 3840x2160}
frames=${FRAMES:-600}
modes=${MODES:-off sync pbo}
game=${GAME:-breakout}
source=${SOURCE:-window}
codec=${CODEC:-zstd}
budget=${BUDGET:-480}
run_timeout=${RUN_TIMEOUT:-90}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
log() { echo "gpu-capture-bench: $*" >&2; }

# --- libraries: what a bare GPU machine lacks --------------------------------
if [ -n "$carry" ]; then
	if ! ldconfig -p 2>/dev/null | grep -q 'libEGL\.so\.1 '; then
		if [ "$(id -u)" -eq 0 ] && compgen -G "$carry/gl/*.deb" >/dev/null; then
			log "libEGL.so.1 missing: unpacking $carry/gl/*.deb into /"
			for f in "$carry"/gl/*.deb; do dpkg -x "$f" /; done
			ldconfig
		else
			log "libEGL.so.1 missing and cannot unpack $carry/gl (not root, or no packages there)"
		fi
	fi
	if ! ldconfig -p 2>/dev/null | grep -q 'libX11\.so\.6 ' && compgen -G "$carry/x11/*.deb" >/dev/null; then
		x11=/tmp/gpu-capture-bench-x11
		mkdir -p "$x11"
		for f in "$carry"/x11/*.deb; do dpkg -x "$f" "$x11"; done
		export LD_LIBRARY_PATH="$x11/usr/lib/x86_64-linux-gnu:$x11/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
		log "X11 client libraries (GLFW links them; unused headless) from $x11"
	fi
fi
nv_vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$nv_vendor" ] &&
	! ls /usr/share/glvnd/egl_vendor.d/*nvidia* >/dev/null 2>&1; then
	export __EGL_VENDOR_LIBRARY_FILENAMES=$nv_vendor
	log "EGL vendor: $nv_vendor"
fi

# --- the game ---------------------------------------------------------------
if [ -n "$carry" ] && [ -x "$carry/bin/$game" ]; then
	bin=$carry/bin/$game
elif command -v go >/dev/null; then
	mkdir -p bin
	go build -o bin/ "./games/$game"
	bin=bin/$game
else
	log "no Go here and no $game binary: run tools/dev/gpu-capture-bench.sh --prepare where Go is, then --carry DIR here"
	exit 1
fi
if missing=$(ldd "$bin" 2>&1 | grep 'not found'); then
	log "$bin cannot load:"
	echo "$missing" >&2
	exit 1
fi

# --- machine and driver ------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs || true)
gpu=
if command -v nvidia-smi >/dev/null; then
	gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)
fi
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
# jfield FILE KEY: a number from the engine's -bench-json (one key a line).
jfield() { sed -n "s/^ *\"$2\": *\([-0-9.e+]*\),\{0,1\}$/\1/p" "$1" | head -1; }
# lfield LOG KEY: a quoted value from the engine's log line.
lfield() {
	local v
	v=$(sed -n "s/.* $2=\"\([^\"]*\)\".*/\1/p" "$1" | head -1)
	[ -n "$v" ] || v=$(sed -n "s/.* $2=\([^\" ][^ ]*\).*/\1/p" "$1" | head -1)
	echo "$v"
}

config() { # readback
	cat >"$work/$1.toml" <<TOML
player = "bench"
spool_dir = "$work/spool-$1"
exit_wait_seconds = 10
[capture]
codec = "$codec"
readback = "$1"
source = "$source"
[[sink]]
name = "bench"
plugin = "disk"
[sink.settings]
root = "$work/sink-$1"
fsync = false
TOML
	echo "$work/$1.toml"
}

runs=()
platform= renderer= glversion=
for size in $sizes; do
	for mode in $modes; do
		if [ $((SECONDS - start)) -ge "$budget" ]; then
			log "budget of ${budget}s spent: skipping $size $mode"
			continue
		fi
		tag=$size-$mode
		args=(-headless -autoplay -lockstep -seed 1 -frames "$frames" -size "$size" -vsync=false -bench-json "$work/$tag.json")
		if [ "$mode" = off ]; then
			args+=(-capture=false)
		else
			args+=(-config "$(config "$mode")")
			rm -rf "$work/spool-$mode" "$work/sink-$mode"
		fi
		log "$game $size capture=$mode ($frames frames)"
		t0=$SECONDS
		if ! env -u DISPLAY -u WAYLAND_DISPLAY XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" SKYLOOP_CONFIG= \
			timeout "$run_timeout" "$bin" "${args[@]}" >"$work/$tag.log" 2>&1; then
			log "$tag failed; its log:"
			tail -20 "$work/$tag.log" >&2
			cp "$work/$tag.log" "$out/" || true
			continue
		fi
		if [ -z "$platform" ]; then
			platform=$(sed -n 's/.*\(gl: headless EGL ([^)]*)\).*/\1/p' "$work/$tag.log" | head -1)
			renderer=$(lfield "$work/$tag.log" renderer)
			glversion=$(lfield "$work/$tag.log" gl_version)
		fi
		runs+=("$tag")
		log "  done in $((SECONDS - t0))s: fps $(jfield "$work/$tag.json" fps), capture median $(jfield "$work/$tag.json" capture_render_thread_median_ms) ms"
	done
done
if [ ${#runs[@]} -eq 0 ]; then
	log "no run succeeded"
	exit 1
fi

# --- results ----------------------------------------------------------------
{
	echo "{"
	echo "  \"machine\": {\"cores\": $(nproc), \"cpu\": $(json_str "$cpu"), \"nvidia_smi\": $(json_str "$gpu")},"
	echo "  \"gl\": {\"platform\": $(json_str "$platform"), \"renderer\": $(json_str "$renderer"), \"version\": $(json_str "$glversion")},"
	echo "  \"game\": $(json_str "$game"), \"frames\": $frames, \"source\": $(json_str "$source"), \"codec\": $(json_str "$codec"),"
	echo "  \"args\": \"-headless -autoplay -lockstep -seed 1 -vsync=false\","
	echo "  \"runs\": ["
	sep=
	for tag in "${runs[@]}"; do
		size=${tag%-*} mode=${tag##*-}
		printf '%s    {"size": "%s", "capture": "%s", "stats": ' "$sep" "$size" "$mode"
		sed 's/^/    /' "$work/$tag.json" | sed '1s/^ *//'
		printf '    }'
		sep=$',\n'
	done
	echo
	echo "  ]"
	echo "}"
} >"$out/results.json"

{
	echo "gpu-capture-bench: $game, $frames frames a run, capture.source=$source codec=$codec, headless -autoplay -lockstep -vsync=false"
	echo "driver: ${platform:-?}; GL_RENDERER: ${renderer:-?}; GL_VERSION: ${glversion:-?}"
	[ -n "$gpu" ] && echo "nvidia-smi: $gpu"
	echo "machine: $(nproc) cores, $cpu"
	echo
	printf '%-10s %-7s %9s %9s %9s %12s %12s %8s %8s %8s\n' size capture fps "frame-med" "frame-p99" "capture-med" "capture-p99" captured dropped "on/off"
	printf '%-10s %-7s %9s %9s %9s %12s %12s %8s %8s %8s\n' "" "" "" ms ms "ms/frame" "ms/frame" "" "" fps
	for tag in "${runs[@]}"; do
		size=${tag%-*} mode=${tag##*-}
		j=$work/$tag.json
		fps=$(jfield "$j" fps)
		ratio=-
		if [ "$mode" != off ] && [ -f "$work/$size-off.json" ]; then
			ratio=$(awk -v a="$fps" -v b="$(jfield "$work/$size-off.json" fps)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
		fi
		cmed=- cp99=- capd=- drop=-
		if [ "$mode" != off ]; then
			cmed=$(printf '%.3f' "$(jfield "$j" capture_render_thread_median_ms)") cp99=$(printf '%.3f' "$(jfield "$j" capture_render_thread_p99_ms)")
			capd=$(jfield "$j" frames_captured) drop=$(jfield "$j" frames_dropped)
		fi
		printf '%-10s %-7s %9.1f %9.3f %9.3f %12s %12s %8s %8s %8s\n' "$size" "$mode" "$fps" "$(jfield "$j" frame_median_ms)" "$(jfield "$j" frame_p99_ms)" "$cmed" "$cp99" "$capd" "$drop" "$ratio"
	done
	echo
	echo "total: $((SECONDS - start)) s"
} >"$out/results.txt"
cat "$out/results.txt"
log "results in $out/results.json and $out/results.txt"
