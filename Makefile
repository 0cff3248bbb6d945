# skyloop — `make demo` and `make test` work on a fresh Debian machine with Go:
# they install what is missing and start Xvfb themselves when there is no display.

GO          ?= go
BIN         := bin
GAMES       := breakout arena
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
XVFB        := tools/dev/with-xvfb.sh
DEMO_OUT    := out/demo

.PHONY: all deps build demo test test-headless gpu-capture-bench lint vet fmt-check bench clean

all: build

deps:
	@tools/dev/deps.sh

build: deps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./games/...
	$(GO) build -o $(BIN)/skyloop-plugin-disk ./plugins/disk
	$(GO) build -o $(BIN)/skyloop-plugin-s3 ./plugins/s3
	$(GO) build -o $(BIN)/skyloop-plugin-ftp ./plugins/ftp
	CGO_ENABLED=0 $(GO) build -o $(BIN)/skyloop ./tools/skyloop

demo: build
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	@printf 'spool_dir = "%s"\n[capture]\nsource = "window"\n[[sink]]\nname = "local"\nplugin = "disk"\n[sink.settings]\nroot = "%s"\n' "$(CURDIR)/$(DEMO_OUT)/spool" "$(CURDIR)/$(DEMO_OUT)/sink" > $(DEMO_OUT)/config.toml
	@echo "demo: breakout plays itself for 300 frames in a 1280x720 window, recording through the spool to the disk plugin (under Xvfb when DISPLAY is unset)…"
	@$(XVFB) $(BIN)/breakout -autoplay -seed 1 -frames 300 -size 1280x720 -vsync=false -bench -config $(DEMO_OUT)/config.toml 2>&1 | tee $(DEMO_OUT)/breakout.log
	@echo; echo "demo: bin/skyloop lists what the disk plugin (bin/skyloop-plugin-disk) stored:"
	@$(BIN)/skyloop --config $(DEMO_OUT)/config.toml sessions
	@set -e; session=$$($(BIN)/skyloop --config $(DEMO_OUT)/config.toml sessions --json | sed -n 's/.*"session": "\(.*\)".*/\1/p' | head -1); \
	echo; echo "demo: every frame decoded and checked:"; $(BIN)/skyloop --config $(DEMO_OUT)/config.toml verify $$session; \
	$(BIN)/skyloop --config $(DEMO_OUT)/config.toml export $$session --format gif --fps 25 --out $(DEMO_OUT)/breakout.gif; \
	game=$${session%%/*}; rest=$${session#*/}; player=$${rest%%/*}; id=$${rest#*/}; \
	echo; echo "demo: the recording is in $(CURDIR)/$(DEMO_OUT)/sink/$$game/$$player/sessions/$$id/"; \
	echo "demo: as a GIF (real time, 25 frames a second): $(DEMO_OUT)/breakout.gif; watch it in a browser: bin/skyloop --config $(DEMO_OUT)/config.toml serve"; \
	echo "demo: config used: $(DEMO_OUT)/config.toml; log: $(DEMO_OUT)/breakout.log"
	@echo; echo "demo: saves — breakout keeps its best score, the bricks broken in all (a counter) and its achievements in the save slot \"record\" (engine/saves)."
	@echo "demo: two devices, A and B, each with its own saves directory, share the disk sink; device A plays 1200 ticks (-autoplay -seed 2 -lockstep) and saves:"
	@for d in a b; do printf 'player = "demo"\nspool_dir = "%s"\n[capture]\nenabled = false\n[saves]\ndir = "%s"\ndevice = "device-%s"\npoll_seconds = 0.5\n[[sink]]\nname = "local"\nplugin = "disk"\n[sink.settings]\nroot = "%s"\n' \
		"$(CURDIR)/$(DEMO_OUT)/device-$$d/spool" "$(CURDIR)/$(DEMO_OUT)/device-$$d/saves" $$d "$(CURDIR)/$(DEMO_OUT)/sink" > $(DEMO_OUT)/device-$$d.toml; done
	@$(call demo_device,a,2,device-a)
	@echo "demo: device B plays (-seed 5); within a poll it hears of A's record and adds its own bricks to it:"
	@$(call demo_device,b,5,device-b)
	@echo "demo: bin/skyloop saves show breakout/demo/record — the bricks of A and B add up, the higher best is kept:"
	@$(BIN)/skyloop --config $(DEMO_OUT)/device-a.toml saves show breakout/demo/record | sed -n '/^typed fields:/,/^$$/p'
	@echo "demo: device A restarts (-seed 3): its record survived (read from its own saves directory), then B's arrives:"
	@$(call demo_device,a,3,device-a-restart)
	@$(BIN)/skyloop --config $(DEMO_OUT)/device-a.toml saves show breakout/demo/record | grep -E '^  /(best|bricks) '
	@echo "demo: saves in $(DEMO_OUT)/device-{a,b}/saves, synced through $(DEMO_OUT)/sink/breakout/demo/saves/; history: bin/skyloop --config $(DEMO_OUT)/device-a.toml saves history breakout/demo/record"

# demo_device D SEED LOG: breakout plays 1200 ticks as device D of the demo
# (config $(DEMO_OUT)/device-D.toml), logging to LOG.log; its record lines
# are shown.
demo_device = $(XVFB) $(BIN)/breakout -autoplay -seed $(2) -lockstep -frames 1200 -size 320x240 -vsync=false -config $(DEMO_OUT)/device-$(1).toml \
	> $(DEMO_OUT)/$(3).log 2>&1 || { cat $(DEMO_OUT)/$(3).log; exit 1; }; sed -n 's/^.*INFO breakout: /  /p' $(DEMO_OUT)/$(3).log

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet: deps
	$(GO) vet ./...

lint: deps fmt-check vet
	$(GO) run $(STATICCHECK) ./...

# Everything: formatting, vet, staticcheck, and every test with a real
# display (Xvfb + Mesa llvmpipe), then the headless EGL tests again with no
# display at all (DISPLAY unset: Mesa's surfaceless platform; the tests
# that compare windowed and headless runs are in the first pass).
# SKYLOOP_REQUIRE_DISPLAY=1 turns any GL test that would skip for lack of a
# display or of EGL into a failure.
# XDG_DATA_HOME and XDG_CONFIG_HOME point at a scratch directory, so no
# test reads the developer's own config or saves, or leaves data in them.
test: deps lint
	@tools/dev/deps.sh test
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	XDG_DATA_HOME="$$scratch/data" XDG_CONFIG_HOME="$$scratch/config" SKYLOOP_CONFIG= \
	SKYLOOP_REQUIRE_DISPLAY=1 $(XVFB) $(GO) test -count=1 -timeout 20m ./... && \
	env -u DISPLAY -u WAYLAND_DISPLAY XDG_DATA_HOME="$$scratch/data" XDG_CONFIG_HOME="$$scratch/config" SKYLOOP_CONFIG= \
	SKYLOOP_REQUIRE_DISPLAY=1 $(GO) test -count=1 -timeout 5m -run '$(NO_DISPLAY_TESTS)' ./engine/ ./engine/internal/egl/

# The headless tests; those that need no display are run once more by
# `make test` with none (the others compare with a window under Xvfb).
HEADLESS_TESTS   := Headless|ChoosePlatform|DriverName|OpenGL41Core|EachPlatform|MissingLibrary|BadPlatform
NO_DISPLAY_TESTS := ^(TestHeadlessFlag|TestChoosePlatform|TestDriverName|TestHeadlessErrors|TestHeadlessInterrupt|TestOpenGL41Core|TestEachPlatform|TestMissingLibrary|TestBadPlatform)$$

# The headless EGL tests on their own (under Xvfb when DISPLAY is unset,
# for the ones that compare a windowed run with a headless one).
test-headless: deps
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	XDG_DATA_HOME="$$scratch/data" XDG_CONFIG_HOME="$$scratch/config" SKYLOOP_CONFIG= \
	SKYLOOP_REQUIRE_DISPLAY=1 $(XVFB) $(GO) test -count=1 -timeout 10m -v -run '$(HEADLESS_TESTS)' ./engine/ ./engine/internal/egl/

# Render-thread capture cost (readback pbo vs sync) and fps with capture
# off/on at 1080p and 4K, headless; on a GPU machine or here (llvmpipe).
# Results in $(GPU_BENCH_OUT) (docs/headless.md).
GPU_BENCH_OUT ?= out/gpu-capture-bench
gpu-capture-bench: build
	tools/dev/gpu-capture-bench.sh $(GPU_BENCH_OUT)

# Go benchmarks (segment encoding, pipeline) and the game/capture tables of
# docs/benchmarks.md.
bench: build
	$(XVFB) $(GO) test -run '^$$' -bench . -benchtime 20x ./engine/...
	$(XVFB) tools/dev/bench-games.sh
	$(XVFB) tools/dev/bench-capture.sh

clean:
	rm -rf $(BIN) out
