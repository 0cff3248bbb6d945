package synctest_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
	"github.com/skyloop-engine/skyloop/sdk/synctest/internal/planted"
)

// The mutation test of the kit: planted is a correct backend, written from
// the contract like a plugin author would, into which each mutant plants
// one plausible bug. Every mutant must fail the check named beside it, on
// every run; the backend without a bug must pass the whole suite.

const mutantEnv = "SYNCTEST_MUTANT"

// TestPlantedBackend runs the suite against the planted backend: without
// a bug it must pass; TestPlantedBugs runs it with each bug in a process
// of its own (a bug may deadlock or crash).
func TestPlantedBackend(t *testing.T) {
	b := planted.Bug(os.Getenv(mutantEnv))
	if b == "" && testing.Short() {
		t.Skip("the whole suite; -short")
	}
	synctest.Run(t, func(t *testing.T) sdk.Backend { return planted.New(b) })
}

// TestPlantedBugs: every planted bug is caught, by the check named for it.
func TestPlantedBugs(t *testing.T) {
	seen := map[planted.Bug]bool{}
	for _, m := range planted.Mutants {
		if seen[m.Bug] {
			t.Fatalf("mutant %s listed twice", m.Bug)
		}
		seen[m.Bug] = true
		if !slices.Contains(synctest.Checks(), m.Check) {
			t.Fatalf("mutant %s: no check %q", m.Bug, m.Check)
		}
	}
	for _, m := range planted.Mutants {
		t.Run(string(m.Bug), func(t *testing.T) {
			t.Parallel()
			group, sub, _ := strings.Cut(m.Check, "/")
			run := "^TestPlantedBackend$/^" + group + "$"
			if sub != "" {
				run += "/^" + sub + "$"
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+run, "-test.v", "-test.count=1", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), mutantEnv+"="+string(m.Bug))
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a backend that %s (check %s):\n%s", m.What, m.Check, out)
			}
			if want := "--- FAIL: TestPlantedBackend/" + m.Check; !strings.Contains(string(out), want) {
				t.Fatalf("the backend that %s did not fail %s:\n%s", m.What, m.Check, out)
			}
		})
	}
}
