package sync

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/spool"
	"github.com/skyloop-engine/skyloop/sdk"
)

const hostKillItems = 12

func hostKillData(i int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("item %d;", i)), 500+i) }

// helperHost accepts items into a spool whose sink cannot take them (its
// root is immutable), reports the plugin's pid and waits to be killed.
func helperHost() {
	dir, root, plugins := os.Getenv("SKYLOOP_SYNC_SPOOL"), os.Getenv("SKYLOOP_SYNC_ROOT"), os.Getenv("SKYLOOP_SYNC_PLUGINS")
	s, err := Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{plugins}, Settings: map[string]string{"root": root}}, Options{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	// The sink fails from now on: nothing accepted below is delivered.
	if err := enginetest.SetWritable(root, false); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	sp, err := spool.Open(dir, []spool.Sink{s}, spool.Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	for i := 0; i < hostKillItems; i++ {
		if err := sp.Accept(context.Background(), spool.Item{Key: fmt.Sprintf("g/p/sessions/s/%08d.seg", i), Kind: spool.KindSegment, Data: hostKillData(i)}); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
	}
	fmt.Println("ACCEPTED", s.Pid())
	time.Sleep(time.Minute) // SIGKILLed long before
}

// The host process is SIGKILLed while its sink is failing: its plugin
// exits by itself, and the next start replays the spool and delivers every
// accepted item.
func TestHostKilledMidRun(t *testing.T) {
	dir := t.TempDir()
	root, spoolDir := filepath.Join(dir, "root"), filepath.Join(dir, "spool")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enginetest.SetWritable(root, true) }) // the helper locks it
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SKYLOOP_SYNC_HELPER=1", "SKYLOOP_SYNC_SPOOL="+spoolDir, "SKYLOOP_SYNC_ROOT="+root, "SKYLOOP_SYNC_PLUGINS="+pluginDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "ACCEPTED" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper host said %q", line)
	}
	pluginPid, _ := strconv.Atoi(f[1])
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	// No orphan: the plugin notices its host died and exits.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pluginPid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pluginPid, syscall.SIGKILL)
			t.Fatalf("plugin %d outlived its killed host", pluginPid)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Next start, with the sink healthy again: everything accepted arrives.
	if err := enginetest.SetWritable(root, true); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(root, "g", "*")); len(files) != 0 {
		t.Fatalf("items reached the sink while it was failing: %v", files)
	}
	s := startDisk(t, root)
	sp, err := spool.Open(spoolDir, []spool.Sink{s}, spool.Options{MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for sp.Stats().Sinks[0].Pending > 0 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("not replayed: %+v", sp.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sp.Close(context.Background())
	for i := 0; i < hostKillItems; i++ {
		var buf bytes.Buffer
		if _, err := s.Get(context.Background(), fmt.Sprintf("g/p/sessions/s/%08d.seg", i), &buf, sdk.GetOptions{Length: -1}); err != nil || !bytes.Equal(buf.Bytes(), hostKillData(i)) {
			t.Fatalf("item %d after replay: %v (%d bytes)", i, err, buf.Len())
		}
	}
}
