# skyloop — `make demo` and `make test` work on a fresh Debian machine with Go:
# they install what is missing and start Xvfb themselves when there is no display.

GO          ?= go
BIN         := bin
GAMES       := breakout arena
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
XVFB        := tools/dev/with-xvfb.sh
DEMO_OUT    := out/demo

.PHONY: all deps build demo test lint vet fmt-check bench clean

all: build

deps:
	@tools/dev/deps.sh

build: deps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./games/...
	$(GO) build -o $(BIN)/skyloop-plugin-disk ./plugins/disk
	$(GO) build -o $(BIN)/skyloop-plugin-s3 ./plugins/s3
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
	echo "demo: as a GIF: $(DEMO_OUT)/breakout.gif; watch it in a browser: bin/skyloop --config $(DEMO_OUT)/config.toml serve"; \
	echo "demo: config used: $(DEMO_OUT)/config.toml; log: $(DEMO_OUT)/breakout.log"

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet: deps
	$(GO) vet ./...

lint: deps fmt-check vet
	$(GO) run $(STATICCHECK) ./...

# Everything: formatting, vet, staticcheck, and every test with a real
# display (Xvfb + Mesa llvmpipe). SKYLOOP_REQUIRE_DISPLAY=1 turns any GL
# test that would skip for lack of a display into a failure.
# XDG_DATA_HOME and XDG_CONFIG_HOME point at a scratch directory, so no
# test reads the developer's own config or saves, or leaves data in them.
test: deps lint
	@tools/dev/deps.sh test
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	XDG_DATA_HOME="$$scratch/data" XDG_CONFIG_HOME="$$scratch/config" SKYLOOP_CONFIG= \
	SKYLOOP_REQUIRE_DISPLAY=1 $(XVFB) $(GO) test -count=1 -timeout 20m ./...

# Go benchmarks (segment encoding, pipeline) and the game/capture tables of
# docs/benchmarks.md.
bench: build
	$(XVFB) $(GO) test -run '^$$' -bench . -benchtime 20x ./engine/...
	$(XVFB) tools/dev/bench-games.sh
	$(XVFB) tools/dev/bench-capture.sh

clean:
	rm -rf $(BIN) out
