package synctest_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

func TestMemoryBackend(t *testing.T) {
	synctest.Run(t, func(t *testing.T) sdk.Backend { return synctest.NewMemoryBackend() })
}

// ignoresIfNoneMatch is a broken backend: it drops the IfNoneMatch
// precondition and so overwrites existing objects.
type ignoresIfNoneMatch struct{ sdk.Backend }

func (b ignoresIfNoneMatch) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	opts.IfNoneMatch = false
	return b.Backend.Put(ctx, key, r, opts)
}

// noCaps claims no optional capability.
type noCaps struct{ sdk.Backend }

func (b noCaps) Info(ctx context.Context) (sdk.Info, error) {
	info, err := b.Backend.Info(ctx)
	info.Capabilities = sdk.Capabilities{}
	return info, err
}

const helperEnv = "SYNCTEST_HELPER"

// TestHelperBackends runs the suite against deliberately broken backends;
// it does something only when TestSuiteCatches runs it in a subprocess.
func TestHelperBackends(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		t.Skip("run by TestSuiteCatches in a subprocess")
	case "ignores-if-none-match":
		synctest.Run(t, func(t *testing.T) sdk.Backend { return ignoresIfNoneMatch{synctest.NewMemoryBackend()} })
	case "no-caps":
		synctest.Run(t, func(t *testing.T) sdk.Backend { return sdk.ValidatingBackend(noCaps{synctest.NewMemoryBackend()}) })
	case "no-caps-unguarded":
		synctest.Run(t, func(t *testing.T) sdk.Backend { return noCaps{synctest.NewMemoryBackend()} })
	case "no-caps-overwrites":
		synctest.Run(t, func(t *testing.T) sdk.Backend { return noCaps{ignoresIfNoneMatch{synctest.NewMemoryBackend()}} })
	}
}

func runHelper(t *testing.T, mode, run string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperBackends$/"+run, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSuiteCatches(t *testing.T) {
	t.Run("IgnoresIfNoneMatch", func(t *testing.T) {
		out, err := runHelper(t, "ignores-if-none-match", "^IfNoneMatch$")
		if err == nil {
			t.Fatalf("suite passed a backend that ignores IfNoneMatch:\n%s", out)
		}
		for _, want := range []string{
			"--- FAIL: TestHelperBackends/IfNoneMatch/Existing",
			"--- FAIL: TestHelperBackends/IfNoneMatch/Race",
			"--- PASS: TestHelperBackends/IfNoneMatch/New",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("SkipsMissingCapabilities", func(t *testing.T) {
		out, err := runHelper(t, "no-caps", "^(IfMatch|Range|Concurrent|Stat|Conditional)$")
		if err != nil {
			t.Fatalf("suite failed: %v\n%s", err, out)
		}
		for _, want := range []string{
			"--- SKIP: TestHelperBackends/IfMatch/Current", "lacks capability ConditionalWrites",
			"--- SKIP: TestHelperBackends/Range/Offset", "lacks capability RangedReads",
			"--- SKIP: TestHelperBackends/Concurrent/SameKey", "lacks capability AtomicReplace",
			"--- PASS: TestHelperBackends/Concurrent/DifferentKeys",
			"--- PASS: TestHelperBackends/Stat",
			"--- PASS: TestHelperBackends/Conditional/Refused",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

// A backend without ConditionalWrites that ignores IfNoneMatch overwrites
// what the caller meant to protect: caught unless ValidatingBackend (or
// Serve) guards it.
func TestSuiteCatchesIgnoredConditions(t *testing.T) {
	out, err := runHelper(t, "no-caps-overwrites", "^Conditional$")
	if err == nil || !strings.Contains(out, "--- FAIL: TestHelperBackends/Conditional/Refused") {
		t.Fatalf("suite passed a backend without ConditionalWrites that overwrites on IfNoneMatch (%v):\n%s", err, out)
	}
}

func TestChecksNamesStable(t *testing.T) {
	names := synctest.Checks()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate check %q", n)
		}
		seen[n] = true
	}
	for _, want := range []string{"RoundTrip/Large", "IfNoneMatch/Existing", "List/Many", "CancelledUpload/Existing"} {
		if !seen[want] {
			t.Errorf("Checks() lacks %q", want)
		}
	}
}
