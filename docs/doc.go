// Package docs holds no code: its tests prove that the code shown in
// README.md and docs/*.md works as written. They extract the fenced code
// blocks from those files when they run (never a copy of them) and:
//
//   - ```go blocks with a package clause are complete programs. Each is
//     written into a new module in a temporary directory outside the
//     repository (its go.mod requires github.com/skyloop-engine/skyloop and
//     replaces it with this checkout), vetted, built with `go build` and run.
//     A program that imports engine is a game: it runs under the display
//     (-frames 120 -vsync=false -size 320x240) with a config that records
//     to a disk sink in a temporary directory, and its recorded segments are
//     decoded with engine/segment and checked — the README's sample game
//     ("Write a game") pixel by pixel in every frame. A program that calls
//     sdk.Serve is a plugin: it is built as skyloop-plugin-NAME and proved
//     out of process with `skyloop plugin describe` and `skyloop plugin
//     check` (exit 0, every check passed). Other programs must exit 0.
//   - ```go blocks without a package clause are fragments, compiled by one
//     rule: a fragment becomes a file of its own in the package of the last
//     complete program above it in the same Markdown file (so it may use
//     what that program declares, as the README's TestConformance uses the
//     plugin's newStore), or, with no program above it, of a package
//     `snippet` of its own. The file imports the packages of fragmentImports
//     that the fragment names (sdk.X, testing.T, …) and is a _test.go file
//     when the fragment declares a Test function. The package is vetted and
//     its tests are run with `go test`.
//   - ```toml blocks parse with engine/config.Parse without error, and the
//     README's Config section names every key engine/config knows.
//   - ```sh blocks are not run, but every `skyloop SUBCOMMAND` they show
//     exists (`skyloop SUBCOMMAND --help` exits 0 and names it) with every
//     --flag shown, every `make TARGET` is a Makefile target and every
//     `bin/GAME` a directory under games/. In untagged blocks (synopses in
//     docs/tool.md) the lines that start with `skyloop` are checked the same.
//   - TestNewUser follows the README as a new user would: the sample game in
//     a new module, built with `go build`, run with no config file, with
//     HOME and the XDG directories in a temporary directory and no
//     skyloop-plugin-disk anywhere it could be found; it must record to the
//     default disk sink, and `skyloop sessions --json` and `skyloop verify`
//     (same environment, no --config) must find the session complete.
//
// Run them with a display:
//
//	tools/dev/with-xvfb.sh env SKYLOOP_REQUIRE_DISPLAY=1 go test ./docs/ -v
//
// Without a display the tests that run a game skip, saying so, unless
// SKYLOOP_REQUIRE_DISPLAY=1 makes that a failure (as `make test` does).
//
// Where it sits in the flow: outside it, beside the documentation; the
// tests use the engine, the tool and the plugins only as a reader of the
// README would.
package docs
