package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

const chromiumPath = "/usr/bin/chromium"

func TestServeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--addr", "0.0.0.0:8080"}, "--public"},
		{[]string{"serve", "--addr", ":8080"}, "--public"},
		{[]string{"serve", "--addr", "192.0.2.1:8080"}, "--public"},
		{[]string{"serve", "--addr", "example.com:80"}, "--public"},
		{[]string{"serve", "--addr", "127.0.0.1"}, "HOST:PORT"},
		{[]string{"serve", "--addr", "127.0.0.1:http"}, "port"},
		{[]string{"serve", "--addr", "127.0.0.1:70000"}, "port"},
		{[]string{"serve", "--addr", "127.0.0.1:-1"}, "port"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--sink", "nosuch"}, "no such sink"},
	} {
		_, errOut, code := runTool(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
}

// lockedBuffer collects a command's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `skyloop serve` in-process on a free loopback port and
// returns its URL; the server is stopped (and must stop) when t ends.
func startServe(t testing.TB, cfg string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config", cfg, "serve", "--addr", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d after cancel\n%s%s", code, stdout.String(), stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop within 20 s of cancel")
		}
	})
	re := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if u := re.FindString(stdout.String()); u != "" {
			return u
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited %d before serving\n%s%s", code, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no URL in 30 s\n%s%s", stdout.String(), stderr.String())
	return ""
}

// requireChromium skips t when Chromium is missing, unless the display
// tests are required (make test), where that fails t.
func requireChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("SKYLOOP_REQUIRE_DISPLAY") == "1" {
			t.Fatalf("%s: %v: the browser test needs Debian's chromium package (tools/dev/deps.sh installs it)", chromiumPath, err)
		}
		t.Skipf("%s missing (install Debian's chromium package); skipping the browser test", chromiumPath)
	}
}

// browser starts headless Chromium for t; it is stopped when t ends.
func browser(t testing.TB) context.Context {
	t.Helper()
	requireChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel() // closes the browser
		acancel() // waits for the process to exit
	})
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	tctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(tcancel)
	return tctx
}

// canvasPixels reads the canvas's RGBA pixels in the page.
const canvasPixelsJS = `(() => {
	const c = document.getElementById('frame');
	const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
	let s = '';
	for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
	return c.width + 'x' + c.height + ':' + btoa(s);
})()`

func TestServeBrowser(t *testing.T) {
	requireChromium(t)
	rec := recordedSession(t)
	frames, err := decodeStored(rec)
	if err != nil {
		t.Fatal(err)
	}
	ref := map[uint64]segment.Frame{}
	for _, f := range frames {
		ref[f.Seq] = f
	}

	// Two sinks: the recording, and a copy that lost segment 1 (frames
	// 30-59), to see the gap on the timeline.
	root := filepath.Join(t.TempDir(), "damaged")
	if out, err := exec.Command("cp", "-a", rec.Root, root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	k := strings.Split(rec.Ref, "/")
	if err := os.Remove(filepath.Join(root, k[0], k[1], "sessions", k[2], "00000001.seg")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "serve.toml")
	body := fmt.Sprintf(`player = "tester"
plugin_dir = %q
spool_dir = %q
[[sink]]
name = "local"
plugin = "disk"
[sink.settings]
root = %q
[[sink]]
name = "damaged"
plugin = "disk"
[sink.settings]
root = %q
`, rec.PluginDir, filepath.Join(dir, "spool"), rec.Root, root)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	url := startServe(t, cfg)
	ctx := browser(t)
	t.Logf("server and browser up in %v", time.Since(start).Round(time.Millisecond))

	row := fmt.Sprintf(`#sessions li[data-session=%q][data-sink="local"]`, rec.Ref)
	shown := func(seq uint64) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#frame[data-shown-seq="%d"]`, seq)))
	}
	checkPixels := func(seq uint64) {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](canvasPixelsJS))
		if err != nil {
			t.Fatalf("read canvas: %v", err)
		}
		size, b64, _ := strings.Cut(got, ":")
		pix, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		want := ref[seq].Image
		if size != fmt.Sprintf("%dx%d", want.Rect.Dx(), want.Rect.Dy()) {
			t.Fatalf("frame %d: canvas is %s, want %dx%d", seq, size, want.Rect.Dx(), want.Rect.Dy())
		}
		if !bytes.Equal(pix, want.Pix) {
			t.Fatalf("frame %d: canvas pixels differ from the stored frame (%d of %d bytes differ)", seq, diffBytes(pix, want.Pix), len(want.Pix))
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// The list shows the session; clicking it shows frame 0.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Click(chromedp.CSS(row)),
		shown(0),
	); err != nil {
		t.Fatalf("open %s: %v", rec.Ref, err)
	}
	checkPixels(0)
	if got := text("#frame-no"); got != "0" {
		t.Errorf("#frame-no = %q, want 0", got)
	}

	// Step forward with the button, back and forward with the keys.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#next")), shown(1)); err != nil {
		t.Fatalf("next: %v", err)
	}
	checkPixels(1)
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowLeft), shown(0), chromedp.KeyEvent(kb.ArrowRight), shown(1)); err != nil {
		t.Fatalf("arrow keys: %v", err)
	}
	if got := text("#frame-no"); got != "1" {
		t.Errorf("#frame-no = %q, want 1", got)
	}

	// Play advances the shown frame; pause stops it.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#play")),
		voidPoll(`Number(document.getElementById('frame').dataset.shownSeq) >= 10`),
		chromedp.Click(chromedp.CSS("#play")),
		chromedp.WaitVisible(chromedp.CSS(`#play[data-playing="false"]`)),
	); err != nil {
		t.Fatalf("play: %v", err)
	}

	// Scrub to frame 60.
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('scrub'); s.value = '60'; s.dispatchEvent(new Event('input', {bubbles: true})); })()`),
		shown(60),
	); err != nil {
		t.Fatalf("scrub: %v", err)
	}
	checkPixels(60)
	if got := text("#frame-no"); got != "60" {
		t.Errorf("#frame-no = %q, want 60", got)
	}

	// The screenshot shows the frame exactly: the canvas is at 1:1, DPR 1,
	// and the sRGB profile is forced, so no scaling or colour conversion.
	rect, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById('frame').getBoundingClientRect(); return [r.x, r.y, r.width, r.height, window.devicePixelRatio]; })()`))
	if err != nil {
		t.Fatalf("canvas rect: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	want := ref[60].Image
	if rect[4] != 1 || int(rect[2]) != want.Rect.Dx() || int(rect[3]) != want.Rect.Dy() || rect[0] != float64(int(rect[0])) || rect[1] != float64(int(rect[1])) {
		t.Fatalf("canvas at %v (x, y, w, h, DPR): want %dx%d at whole pixels, DPR 1", rect, want.Rect.Dx(), want.Rect.Dy())
	}
	crop := image.NewRGBA(want.Rect)
	for y := 0; y < want.Rect.Dy(); y++ {
		for x := 0; x < want.Rect.Dx(); x++ {
			crop.Set(x, y, img.At(int(rect[0])+x, int(rect[1])+y))
		}
	}
	if !bytes.Equal(crop.Pix, want.Pix) {
		t.Fatalf("screenshot of the canvas differs from frame 60: %d of %d bytes differ (max difference %d)", diffBytes(crop.Pix, want.Pix), len(want.Pix), maxDiff(crop.Pix, want.Pix))
	}

	// The damaged copy: a gap marker for frames 30-59, and a note when the
	// position is inside it (showing frame 29, the last one before it).
	drow := fmt.Sprintf(`#sessions li[data-session=%q][data-sink="damaged"]`, rec.Ref)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(drow)),
		shown(0),
		chromedp.WaitVisible(chromedp.CSS(`#gaps .gap[data-from="30"][data-to="59"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('scrub'); s.value = '45'; s.dispatchEvent(new Event('input', {bubbles: true})); })()`),
		shown(29),
		chromedp.WaitVisible(chromedp.CSS(`#gap-note`)),
	); err != nil {
		t.Fatalf("damaged session: %v", err)
	}
	note := text("#gap-note")
	if !strings.Contains(note, "30–59") {
		t.Errorf("gap note = %q, want it to name frames 30–59", note)
	}
	checkPixels(29)
	// Stepping forward from inside the gap goes to the first frame after it.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#next")), shown(60)); err != nil {
		t.Fatalf("next after the gap: %v", err)
	}
	checkPixels(60)
	if err := chromedp.Do(ctx, chromedp.KeyEvent(" "), voidPoll(`Number(document.getElementById('frame').dataset.shownSeq) > 60`)); err != nil {
		t.Fatalf("space to play: %v", err)
	}

	// The filter box narrows the list (it matches game, player, id and sink).
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#filter"), "damaged"),
		chromedp.WaitNotVisible(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS(drow)),
	); err != nil {
		t.Fatalf("filter: %v", err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.getElementById('error'); return e.hidden ? '' : e.textContent; })()`)); err != nil || msg != "" {
		t.Errorf("the page reported an error: %q (%v)", msg, err)
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// voidPoll waits up to 20 s for a JavaScript expression to be truthy.
func voidPoll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))
}

func diffBytes(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n + max(len(a), len(b)) - min(len(a), len(b))
}

func maxDiff(a, b []byte) int {
	m := 0
	for i := range min(len(a), len(b)) {
		d := int(a[i]) - int(b[i])
		m = max(m, d, -d)
	}
	return m
}

// getJSON fetches url and decodes its JSON body into v; it returns the
// status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %v\n%s", url, resp.StatusCode, err, body)
	}
	return resp.StatusCode
}

type gapBody struct {
	From    uint64 `json:"from"`
	To      uint64 `json:"to"`
	Kind    string `json:"kind"`
	Damaged bool   `json:"damaged"`
	Segment string `json:"segment"`
	Reason  string `json:"reason"`
}

// The viewer shows a damaged frame as a gap with its reason: a foreign
// segment (known from the listing) and a frame whose payload fails its CRC
// (found when it is decoded) are answered with a 404 that carries the gap
// and its kind, not a 502; the page says why and keeps the frame before.
func TestServeShowsDamageAsGaps(t *testing.T) {
	rec := recordedSession(t)
	frames, err := decodeStored(rec)
	if err != nil {
		t.Fatal(err)
	}
	cfg, dir := damagedCopy(t, rec)
	damageCases(t)[0].apply(t, dir) // foreign segment 1: frames 30-59
	seg2 := filepath.Join(dir, "00000002.seg")
	idx := segmentIndex(t, seg2)
	data, err := os.ReadFile(seg2)
	if err != nil {
		t.Fatal(err)
	}
	e := idx[10] // frame 70, a delta of the key frame 60
	if e.Seq != 70 || e.Key {
		t.Fatalf("segment 2 record 10 is frame %d (key %v), want delta frame 70", e.Seq, e.Key)
	}
	data[e.Offset+36+(e.Size-36)/2] ^= 0x5a
	if err := os.WriteFile(seg2, data, 0o644); err != nil {
		t.Fatal(err)
	}

	base := startServe(t, cfg)
	id := rec.Ref[strings.LastIndex(rec.Ref, "/")+1:]
	api := base + "api/sessions/local/breakout/tester/" + id

	var rows []struct {
		Session string   `json:"session"`
		Damage  []string `json:"damage"`
	}
	if code := getJSON(t, base+"api/sessions", &rows); code != 200 || len(rows) != 1 || !slices.Equal(rows[0].Damage, []string{"foreign"}) {
		t.Fatalf("/api/sessions: %d %+v, want the session with damage [foreign]", code, rows)
	}
	var sum struct {
		Gaps []gapBody `json:"gaps"`
	}
	if code := getJSON(t, api, &sum); code != 200 || len(sum.Gaps) != 1 || sum.Gaps[0].From != 30 || sum.Gaps[0].To != 59 ||
		sum.Gaps[0].Kind != "foreign" || !sum.Gaps[0].Damaged || !strings.HasSuffix(sum.Gaps[0].Segment, "/00000001.seg") {
		t.Fatalf("summary: %d %+v, want one gap, frames 30-59, foreign, in 00000001.seg", code, sum.Gaps)
	}
	type frameErr struct {
		Error string   `json:"error"`
		Gap   *gapBody `json:"gap"`
	}
	for _, c := range []struct {
		seq      uint64
		kind     string
		from, to uint64
	}{{45, "foreign", 30, 59}, {70, "crc", 70, 70}, {71, "crc", 71, 71}, {70, "crc", 70, 71}} {
		var fe frameErr
		code := getJSON(t, fmt.Sprintf("%s/frames/%d.png", api, c.seq), &fe)
		if code != 404 || fe.Gap == nil || fe.Gap.Kind != c.kind || !fe.Gap.Damaged || fe.Gap.From > c.seq || fe.Gap.To < c.seq ||
			!strings.Contains(fe.Error, "damaged") || !strings.Contains(fe.Error, c.kind) || !strings.Contains(fe.Gap.Reason, c.kind+": ") {
			t.Fatalf("frame %d: %d %+v (gap %+v); want 404 with a %s gap that holds it", c.seq, code, fe, fe.Gap, c.kind)
		}
	}
	// Frame 69, decoded just before the damage, is served as recorded.
	resp, err := http.Get(api + "/frames/69.png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("frame 69: %d %v", resp.StatusCode, err)
	}
	want := frames[69].Image
	if got, ok := img.(*image.NRGBA); !ok || !bytes.Equal(got.Pix, want.Pix) {
		if rgba, ok := img.(*image.RGBA); !ok || !bytes.Equal(rgba.Pix, want.Pix) {
			t.Fatalf("frame 69 differs from the recording (%T)", img)
		}
	}
	// The damage found is on the timeline now.
	if getJSON(t, api, &sum); len(sum.Gaps) != 2 || sum.Gaps[1].From != 70 || sum.Gaps[1].To != 71 || sum.Gaps[1].Kind != "crc" {
		t.Fatalf("summary after the damage was found: %+v", sum.Gaps)
	}

	// The page: a note with the reason, not an error; the frame before stays.
	ctx := browser(t)
	row := fmt.Sprintf(`#sessions li[data-session=%q][data-sink="local"]`, rec.Ref)
	shown := func(seq uint64) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#frame[data-shown-seq="%d"]`, seq)))
	}
	scrub := func(seq int) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.getElementById('scrub'); s.value = '%d'; s.dispatchEvent(new Event('input', {bubbles: true})); })()`, seq))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS(row+` .warn[data-damage~="foreign"]`)),
		chromedp.Click(chromedp.CSS(row)),
		shown(0),
		chromedp.WaitVisible(chromedp.CSS(`#gaps .gap.damaged[data-kind="foreign"][data-from="30"][data-to="59"]`)),
		scrub(45),
		shown(29),
		chromedp.WaitVisible(chromedp.CSS(`#gap-note`)),
	); err != nil {
		t.Fatalf("open the damaged session: %v", err)
	}
	if note := text("#gap-note"); !strings.Contains(note, "30–59 are damaged (foreign: 00000001.seg") {
		t.Errorf("gap note inside the foreign segment = %q", note)
	}
	// Frames 70 and 71 are known damaged (fetched above): stepping from 69
	// goes over them to 72, which is found damaged when fetched.
	for _, e := range idx[11:13] {
		if e.Key {
			t.Fatalf("frame %d is a key frame: the damage at frame 70 does not reach frame 72", e.Seq)
		}
	}
	if err := chromedp.Do(ctx,
		scrub(69), shown(69),
		chromedp.Click(chromedp.CSS("#next")),
		chromedp.WaitVisible(chromedp.CSS(`#frame[data-gap-seq="72"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#gaps .gap.damaged[data-kind="crc"][data-from="70"][data-to="72"]`)),
	); err != nil {
		t.Fatalf("step onto the damaged frames: %v", err)
	}
	if note := text("#gap-note"); !strings.Contains(note, "Frames 70–72 are damaged (crc: 00000002.seg") || !strings.Contains(note, "showing frame 69") {
		t.Errorf("gap note on the damaged frame = %q", note)
	}
	if got := text("#frame-no"); got != "72" {
		t.Errorf("#frame-no = %q, want 72", got)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.getElementById('error'); return e.hidden ? '' : e.textContent; })()`)); err != nil || msg != "" {
		t.Errorf("the page reported an error for a damaged frame: %q (%v)", msg, err)
	}
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('frame').dataset.shownSeq`)); got != "69" {
		t.Errorf("the canvas shows frame %q, want 69 (the one before the damage)", got)
	}
}

// serve SESSION prints the viewer's URL of that session, which opens (and,
// live, follows) it; a session no sink holds is an error naming it.
func TestServeSessionURL(t *testing.T) {
	rec := recordedSession(t)
	id := rec.Ref[strings.LastIndex(rec.Ref, "/")+1:]
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config", rec.Config, "serve", "--addr", "127.0.0.1:0", id[:12]}, &stdout, &stderr)
	}()
	want := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/#/local/breakout/tester/` + regexp.QuoteMeta(id) + `\s`)
	deadline := time.Now().Add(30 * time.Second)
	for !want.MatchString(stdout.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no URL of the session:\n%s%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d\n%s", code, stderr.String())
	}
	out, errOut, code := runTool(t, "--config", rec.Config, "serve", "--addr", "127.0.0.1:0", "nosuchsession")
	if code == 0 || !strings.Contains(errOut, "nosuchsession") || !strings.Contains(errOut, "matches no recorded session") {
		t.Fatalf("serve with an unknown session: exit %d\n%s%s", code, out, errOut)
	}
}
