#!/usr/bin/env bash
# Installs what building and testing skyloop needs on Debian/Ubuntu, when it
# is missing: Xvfb and Mesa (OpenGL without a GPU or display), EGL (the
# headless renderer, docs/headless.md), and the X11 headers GLFW's cgo
# build compiles against; with the argument "test" also
# what the tests start: versitygw (S3), vsftpd and pure-ftpd (FTP),
# Chromium (the replay viewer's browser test) and ffmpeg (skyloop export
# --format mp4). As root it runs apt-get;
# as anyone else it prints the exact command and fails.
set -euo pipefail

packages=(
	xvfb xauth                       # a virtual X server for headless runs
	libgl1-mesa-dri libgl1-mesa-dev  # Mesa llvmpipe: OpenGL 4.5 core in software
	libegl-dev libegl1 libegl-mesa0  # headless EGL (-headless): the headers, glvnd's libEGL, Mesa's surfaceless platform
	libgbm1                          # needed by libegl-mesa0's platforms
	libx11-dev libxrandr-dev libxinerama-dev libxcursor-dev libxi-dev libxxf86vm-dev
	pkg-config gcc
	e2fsprogs                        # chattr: tests make a directory unwritable as root
)

if [ "${1:-}" = test ]; then
	packages+=(
		chromium                     # headless browser for the skyloop serve test (/usr/bin/chromium)
		ffmpeg                       # skyloop export --format mp4, and ffprobe in its test
		vsftpd                       # FTP server of the plugins/ftp and engine FTP tests
		libsodium23                  # needed by pure-ftpd, unpacked below
	)
fi

# pure-ftpd, the second FTP server the tests start, conflicts with vsftpd
# as a Debian package (both provide ftp-server): its package is unpacked,
# not installed, into the directory plugins/ftp/ftptest looks in.
pure_ftpd_dir=/usr/local/lib/skyloop/pure-ftpd
install_pure_ftpd() {
	if [ -x "$pure_ftpd_dir/usr/sbin/pure-ftpd" ] || command -v pure-ftpd >/dev/null || [ -x /usr/sbin/pure-ftpd ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: pure-ftpd missing; as root run: tools/dev/deps.sh test (it unpacks Debian's pure-ftpd into $pure_ftpd_dir)" >&2
		return 1
	fi
	echo "deps: unpacking Debian's pure-ftpd into $pure_ftpd_dir" >&2
	local tmp
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -q pure-ftpd >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q pure-ftpd >/dev/null; })
	mkdir -p "$pure_ftpd_dir"
	dpkg-deb -x "$tmp"/pure-ftpd_*.deb "$pure_ftpd_dir"
	rm -rf "$tmp"
}

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ! command -v go >/dev/null; then
	echo "deps: Go is not on PATH; install Go 1.26 from https://go.dev/dl/" >&2
	exit 1
fi
if [ "${1:-}" = test ] && ! command -v versitygw >/dev/null && [ ! -x "$(go env GOPATH)/bin/versitygw" ]; then
	# The S3 server the plugins/s3 tests start on 127.0.0.1.
	echo "deps: installing versitygw v1.8.0 (go install, about 2 minutes)" >&2
	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
if [ ${#missing[@]} -eq 0 ]; then
	if [ "${1:-}" = test ]; then
		install_pure_ftpd
	fi
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages: ${missing[*]}" >&2
	echo "deps: install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
if [ "${1:-}" = test ]; then
	install_pure_ftpd
fi
