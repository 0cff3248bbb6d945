// skyloop replay viewer: lists the sessions of every sink and plays one back
// on a canvas, frame by frame, from /api/sessions/.../frames/SEQ.png.
'use strict';

const $ = (id) => document.getElementById(id);

const ui = {
  sessions: $('sessions'), filter: $('filter'), reload: $('reload'), empty: $('empty'),
  player: $('player'), title: $('title'), meta: $('meta'), canvas: $('frame'),
  play: $('play'), prev: $('prev'), next: $('next'), speed: $('speed'), fit: $('fit'),
  frameNo: $('frame-no'), frameLast: $('frame-last'), frameTime: $('frame-time'),
  scrub: $('scrub'), gaps: $('gaps'), gapNote: $('gap-note'), error: $('error'), live: $('live'),
};
const ctx2d = ui.canvas.getContext('2d');

let rows = [];        // /api/sessions
let current = null;   // the open session: its summary
let seqs = [];        // stored frame numbers of current, ascending
let pos = 0;          // the position: a frame number, possibly inside a gap
let shownIdx = -1;    // index in seqs of the frame on the canvas
let playing = false;
let playToken = 0;
let drawToken = 0;
let gen = 0;          // bumped when another session opens
let noteTimer = 0;
let noteTransient = false;
let live = null;      // while following a live session: see follow()

// ---- formatting ----
function fmtBytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}
function fmtSecs(s) {
  if (s < 60) return s.toFixed(2) + ' s';
  const m = Math.floor(s / 60);
  return m + ' min ' + (s - 60 * m).toFixed(1) + ' s';
}
function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) e.append(k);
  return e;
}

// ---- API ----
async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  let body = null;
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) throw new Error((body && body.error) || (r.status + ' ' + r.statusText));
  return body;
}

// ---- session list ----
async function loadSessions() {
  try {
    rows = await getJSON('/api/sessions');
  } catch (e) {
    ui.sessions.replaceChildren(el('p', { class: 'warn' }, 'Cannot list sessions: ' + e.message));
    return;
  }
  renderSessions();
  openFromHash();
}

function renderSessions() {
  if (!rows.length) {
    ui.sessions.replaceChildren(el('p', { class: 'muted' }, 'No recorded sessions in any sink.'));
    return;
  }
  const groups = new Map();
  for (const r of rows) {
    const g = r.game + ' / ' + r.player;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(r);
  }
  const out = [];
  for (const [name, list] of groups) {
    const ul = el('ul');
    for (const r of list) {
      const start = r.start ? new Date(r.start).toLocaleString() : '';
      const sub = [start, fmtSecs(r.duration_seconds), r.frames + ' frames', gapWordsOf(r),
        r.width + '×' + r.height, fmtBytes(r.bytes), 'sink ' + r.sink].join(' · ');
      const li = el('li', {
        tabIndex: 0, 'data-session': r.session, 'data-sink': r.sink, 'data-url': r.url,
        'data-live': r.live ? 'true' : 'false', title: r.session + ' in sink ' + r.sink,
      }, r.id, el('span', { class: 'sub' }, sub));
      if (r.live) li.append(el('span', { class: 'sub live' }, '● LIVE: still recording'));
      if (r.replay) li.append(el('span', { class: 'sub' }, 'instant replay clip'));
      if (r.error) {
        li.append(el('span', { class: 'sub warn' }, 'unreadable: ' + r.error));
      } else if (r.damage && r.damage.length) {
        li.append(el('span', { class: 'sub warn', 'data-damage': r.damage.join(' ') }, 'damage found: ' + r.damage.join(', ')));
      } else if (r.problems) {
        li.append(el('span', { class: 'sub warn' }, r.problems + ' damaged or missing segments'));
      }
      li.dataset.text = (r.session + ' ' + r.sink).toLowerCase();
      li.addEventListener('click', () => openSession(r));
      li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openSession(r); });
      if (current && current.session.url === r.url) li.classList.add('current');
      ul.append(li);
    }
    out.push(el('section', { class: 'group', 'data-group': name }, el('h3', {}, name), ul));
  }
  ui.sessions.replaceChildren(...out);
  applyFilter();
}

function gapWordsOf(r) {
  if (!r.gap_frames) return 'no gaps';
  return r.gap_frames + ' missing' + (r.gaps != null ? ' in ' + r.gaps + ' gaps' : '');
}

function applyFilter() {
  const words = ui.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const g of ui.sessions.querySelectorAll('section.group')) {
    let any = false;
    for (const li of g.querySelectorAll('li')) {
      const ok = words.every((w) => li.dataset.text.includes(w));
      li.hidden = !ok;
      any = any || ok;
    }
    g.hidden = !any;
  }
}

function openFromHash() {
  if (current || !location.hash.startsWith('#/')) return;
  const url = '/api/sessions' + location.hash.slice(1);
  const r = rows.find((x) => x.url === url);
  if (r) openSession(r);
}

// ---- frames: fetched in order, at most two at a time, cached ----
const cache = new Map(); // seq → {promise, resolve, reject, started}
let queue = [];
let inflight = 0;
const MAX_INFLIGHT = 2;
const CACHE_MAX = 64;

function load(seq, urgent) {
  let e = cache.get(seq);
  if (e) {
    cache.delete(seq); cache.set(seq, e); // most recently used last
    if (urgent && !e.started) { queue = queue.filter((s) => s !== seq); queue.unshift(seq); }
    return e.promise;
  }
  e = { started: false, gen };
  e.promise = new Promise((res, rej) => { e.resolve = res; e.reject = rej; });
  e.promise.catch(() => {});
  cache.set(seq, e);
  if (urgent) queue.unshift(seq); else queue.push(seq);
  trimCache();
  pump();
  return e.promise;
}

function pump() {
  while (inflight < MAX_INFLIGHT && queue.length) {
    const seq = queue.shift();
    const e = cache.get(seq);
    if (!e || e.started) continue;
    e.started = true;
    inflight++;
    const url = current.frame_url + seq + '.png';
    fetchBitmap(url).then((b) => e.resolve(b), (err) => {
      if (cache.get(seq) === e) cache.delete(seq); // let a later request retry
      e.reject(err);
    }).finally(() => { inflight--; pump(); });
  }
}

// fetchBitmap fetches a frame. A frame that is not there (missing or
// damaged) is an error carrying the gap it is in, with its reason.
async function fetchBitmap(url) {
  const r = await fetch(url);
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    let gap = null;
    try {
      const body = await r.json();
      msg = body.error || msg;
      gap = body.gap || null;
    } catch (e) { /* not JSON */ }
    const err = new Error(msg);
    err.gap = gap;
    throw err;
  }
  const blob = await r.blob();
  // No colour conversion and no premultiplication: the canvas gets the
  // recorded pixels exactly.
  return createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

function trimCache() {
  for (const [seq, e] of cache) {
    if (cache.size <= CACHE_MAX) break;
    if (!e.started) continue;
    cache.delete(seq);
  }
}

function resetCache() {
  gen++;
  cache.clear();
  queue = [];
}

function prefetch(fromIdx, n) {
  for (let i = fromIdx; i < Math.min(seqs.length, fromIdx + n); i++) load(seqs[i], false);
}

// ---- player ----
async function openSession(r) {
  pause();
  unfollow();
  ui.error.hidden = true;
  let sum;
  try {
    sum = await getJSON(r.url);
  } catch (e) {
    showError('Cannot open ' + r.session + ': ' + e.message);
    return;
  }
  resetCache();
  current = sum;
  current.session.url = r.url;
  seqs = sum.frames.map((f) => f.seq);
  for (const li of ui.sessions.querySelectorAll('li')) li.classList.toggle('current', li.dataset.url === r.url);
  history.replaceState(null, '', '#' + r.url.slice('/api/sessions'.length));
  ui.empty.hidden = true;
  ui.player.hidden = false;
  ui.title.textContent = sum.session.session;
  const s = sum.session;
  renderMeta();
  ui.canvas.width = sum.width;
  ui.canvas.height = sum.height;
  ui.canvas.dataset.shownSeq = '';
  shownIdx = -1;
  ui.scrub.min = 0;
  ui.scrub.max = sum.last_seq;
  ui.frameLast.textContent = sum.last_seq;
  renderGaps();
  ui.live.hidden = true;
  ui.live.dataset.state = '';
  if (s.live && !s.ended) {
    follow();
    return;
  }
  if (!seqs.length) {
    showError('This session has no readable frames.');
    return;
  }
  seek(seqs[0]);
}

function renderMeta() {
  const s = current.session;
  ui.meta.textContent = [s.start ? new Date(s.start).toLocaleString() : '', fmtSecs(s.duration_seconds),
    s.frames + ' frames stored', s.gap_frames ? s.gap_frames + ' frames missing (' + current.gaps.length + ' gaps)' : 'no gaps',
    s.replay ? 'instant replay clip' : '', s.ended ? 'ended' : (s.live ? 'live: still recording' : 'not ended (the game stopped without ending it)'),
    s.width + '×' + s.height, fmtBytes(s.bytes), 'sink ' + s.sink].filter(Boolean).join(' · ') +
    (current.problems.length ? ' · problems: ' + current.problems.join('; ') : '');
}

// ---- following a live session ----
//
// The player starts a safe distance behind the newest stored frame: one
// segment interval plus the poll interval, the time until the next
// segment can be there (an HLS player starts three target durations back
// for the same reason; our segments are closed on time, so one is enough).
// It plays frames at their recorded times from there. When the next frame
// is not there in time it waits, and plays on from where it stopped, that
// much further behind; when segments keep arriving with time to spare it
// moves closer. The end record ends the session: the player plays out what
// is left and says so.
const LIVE_POLL_MS = 250;
const LIVE_MARGIN_MS = 150;

function segmentMs() {
  const n = current.segments || 1;
  const f = current.frames;
  if (n < 2 || f.length < 2) return 2000;
  return Math.min(10000, Math.max(50, (f[f.length - 1].t - f[0].t) / (n - 1 + 0.5)));
}

function follow() {
  const token = ++playToken;
  live = { token, base: null, stall: null, newestSeenAt: performance.now(), slack: [], ended: false, timer: 0, drawing: -1 };
  ui.live.hidden = false;
  ui.live.dataset.state = 'live';
  ui.live.textContent = '● LIVE: waiting for frames…';
  playing = true;
  ui.play.textContent = 'Pause';
  ui.play.dataset.playing = 'true';
  startAt();
  poll(token);
  tick(token);
}

// startAt places the playhead the safe distance behind the newest frame.
function startAt() {
  if (!seqs.length) return;
  const newest = current.frames[seqs.length - 1].t;
  const p = Math.max(current.frames[0].t, newest - segmentMs() - LIVE_POLL_MS);
  live.base = performance.now() - p;
}

function unfollow() {
  if (!live) return;
  clearTimeout(live.timer);
  live = null;
}

async function poll(token) {
  while (live && live.token === token && !live.ended) {
    const from = seqs.length ? seqs[seqs.length - 1] + 1 : 0;
    try {
      const sum = await getJSON(current.session.url + '?from=' + from);
      if (!live || live.token !== token) return;
      addFrames(sum);
    } catch (e) {
      if (!live || live.token !== token) return;
      setNote('Cannot reach the session (' + e.message + '); trying again.', true);
    }
    await sleep(LIVE_POLL_MS);
  }
}

// addFrames takes in what a poll returned: new frames, gaps, the row.
function addFrames(sum) {
  const url = current.session.url;
  const before = seqs.length;
  for (const f of sum.frames) {
    if (seqs.length && f.seq <= seqs[seqs.length - 1]) continue;
    current.frames.push(f);
    seqs.push(f.seq);
  }
  current.session = sum.session;
  current.session.url = url;
  current.gaps = sum.gaps;
  current.problems = sum.problems;
  current.segments = sum.segments;
  current.last_seq = sum.last_seq;
  ui.scrub.max = sum.last_seq;
  ui.frameLast.textContent = sum.last_seq;
  renderGaps();
  renderMeta();
  if (seqs.length > before) {
    const now = performance.now();
    if (live.base === null) startAt();
    else if (live.stall === null) {
      // How early the first new frame came: time to spare.
      live.slack.push(live.base + current.frames[before].t - now);
      if (live.slack.length > 3) live.slack.shift();
      const spare = Math.min(...live.slack) - LIVE_MARGIN_MS;
      if (live.slack.length === 3 && spare > 50) {
        live.base -= spare / 2; // move closer to live, a step at a time
        live.slack = [];
      }
    }
    live.newestSeenAt = now;
  }
  if (sum.session.ended) live.ended = true;
}

// tick shows, every few milliseconds, the newest frame due at the
// playhead.
function tick(token) {
  if (!live || live.token !== token) return;
  live.timer = setTimeout(() => tick(token), 4);
  if (!seqs.length || live.base === null) return;
  const now = performance.now();
  const newest = current.frames[seqs.length - 1];
  let p = now - live.base;
  if (live.stall !== null) {
    if (newest.t > live.stall) {
      live.base = now - live.stall; // play on from where it stopped
      live.stall = null;
      live.slack = [];
      p = now - live.base;
    } else {
      p = live.stall;
    }
  } else if (p > newest.t && !live.ended) {
    live.stall = newest.t; // the next frame is not there yet: wait
    p = newest.t;
  }
  const i = idxAtTime(p);
  if (i !== shownIdx && live.drawing < 0) {
    live.drawing = i;
    pos = seqs[i];
    updatePosition(i);
    draw(i).finally(() => { if (live) live.drawing = -1; });
  }
  // Frames due within the next segment interval: fetch them now.
  for (let j = i + 1; j < seqs.length && j < i + 48 && current.frames[j].t <= p + segmentMs(); j++) load(seqs[j], false);
  const behind = newest.t + (now - live.newestSeenAt) - p;
  ui.live.dataset.behindMs = String(Math.round(behind));
  if (live.ended && i >= seqs.length - 1 && shownIdx === seqs.length - 1) {
    ui.live.dataset.state = 'ended';
    ui.live.textContent = 'The session ended: its end record arrived. ' + seqs.length + ' frames stored.';
    const token2 = live.token;
    unfollow();
    if (token2 === playToken) pause();
    return;
  }
  ui.live.textContent = '● LIVE · ' + (behind / 1000).toFixed(1) + ' s behind live' + (live.stall !== null ? ' · waiting for the next segment' : '') + (live.ended ? ' · ended, playing out' : '');
}

// idxAtTime is the index of the last frame recorded at or before t
// (milliseconds since the first frame).
function idxAtTime(t) {
  let lo = 0, hi = seqs.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (current.frames[m].t <= t) lo = m + 1; else hi = m;
  }
  return Math.max(0, lo - 1);
}

function gapWords(g) {
  return g.from === g.to ? 'Frame ' + g.from + ' is' : 'Frames ' + g.from + '–' + g.to + ' are';
}

// gapReason is why a gap's frames are not there, in words.
function gapReason(g) {
  return g.damaged ? 'damaged (' + g.reason + ')' : 'missing from the recording (' + (g.reason || 'dropped or lost') + ')';
}

// addGap records a gap the server reported for a frame (damage found when
// decoding it) and shows it on the timeline.
function addGap(g) {
  const i = current.gaps.findIndex((x) => x.from <= g.to && g.from <= x.to);
  if (i >= 0) current.gaps[i] = g; else current.gaps.push(g);
  current.gaps.sort((a, b) => a.from - b.from);
  renderGaps();
}

function renderGaps() {
  const total = current.last_seq + 1;
  const marks = current.gaps.map((g) => el('div', {
    class: g.damaged ? 'gap damaged' : 'gap', 'data-from': g.from, 'data-to': g.to, 'data-kind': g.kind || '',
    title: gapWords(g) + ' ' + gapReason(g),
  }));
  current.gaps.forEach((g, i) => {
    marks[i].style.left = (100 * g.from / total) + '%';
    marks[i].style.width = (100 * (g.to - g.from + 1) / total) + '%';
  });
  ui.gaps.replaceChildren(...marks);
}

// idxAtOrBefore is the index of the last stored frame at or before seq (0
// when seq is before the first).
function idxAtOrBefore(seq) {
  let lo = 0, hi = seqs.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (seqs[m] <= seq) lo = m + 1; else hi = m;
  }
  return Math.max(0, lo - 1);
}

function gapAt(seq) {
  return current.gaps.find((g) => g.from <= seq && seq <= g.to);
}

function showError(msg) {
  ui.error.textContent = msg;
  ui.error.hidden = false;
}

function setNote(text, transient) {
  clearTimeout(noteTimer);
  noteTransient = !!(text && transient);
  ui.gapNote.textContent = text || '';
  ui.gapNote.hidden = !text;
  if (text && transient) noteTimer = setTimeout(() => { ui.gapNote.hidden = true; }, 1500);
}

// seek moves the position to frame number seq and draws the stored frame at
// or before it.
function seek(seq) {
  if (!current) return Promise.resolve();
  seq = Math.max(0, Math.min(current.last_seq, seq));
  pos = seq;
  const g = gapAt(seq);
  let i = idxAtOrBefore(seq);
  // Frames found damaged are still listed: inside their gap, show the
  // frame before it, as for frames that are missing.
  if (g && seqs[i] >= g.from && g.from > 0) i = idxAtOrBefore(g.from - 1);
  updatePosition(i);
  ui.canvas.dataset.gapSeq = g ? String(seq) : '';
  if (g) {
    setNote(gapWords(g) + ' ' + gapReason(g) + '; showing frame ' + seqs[i] + '.', false);
  } else {
    setNote('', false);
  }
  return draw(i);
}

function updatePosition(i) {
  ui.frameNo.textContent = pos;
  ui.scrub.value = pos;
  const f = current.frames[i];
  ui.frameTime.textContent = (f.t / 1000).toFixed(3) + ' s / ' + (current.frames[seqs.length - 1].t / 1000).toFixed(3) + ' s';
}

async function draw(i) {
  const my = ++drawToken;
  const g = gen;
  const seq = seqs[i];
  let bmp;
  try {
    bmp = await load(seq, true);
  } catch (e) {
    if (my !== drawToken || g !== gen) return;
    if (e.gap) {
      // A gap with its reason, not an error: the frame before stays shown.
      addGap(e.gap);
      const was = ui.canvas.dataset.shownSeq;
      ui.canvas.dataset.gapSeq = String(seq);
      setNote(gapWords(e.gap) + ' ' + gapReason(e.gap) + (was ? '; showing frame ' + was + '.' : '.'), playing);
      return;
    }
    showError('Frame ' + seq + ': ' + e.message);
    return;
  }
  if (my !== drawToken || g !== gen) return; // a later seek won
  ui.error.hidden = true;
  ctx2d.clearRect(0, 0, ui.canvas.width, ui.canvas.height);
  ctx2d.drawImage(bmp, 0, 0);
  shownIdx = i;
  ui.canvas.dataset.shownSeq = String(seq);
}

function step(dir) {
  if (!current || !seqs.length) return;
  pause();
  unfollow();
  let i = idxAtOrBefore(pos);
  if (dir > 0) {
    if (seqs[i] <= pos) i++;
  } else if (seqs[i] >= pos) {
    i--;
  }
  // Frames in a gap found damaged are listed but not shown: step over them.
  for (let g; i > 0 && i < seqs.length - 1 && (g = gapAt(seqs[i])) && g.damaged;) i += dir > 0 ? 1 : -1;
  i = Math.max(0, Math.min(seqs.length - 1, i));
  seek(seqs[i]);
}

function speedSetting() {
  const v = ui.speed.value;
  if (v.startsWith('fps')) return { fps: Number(v.slice(3)) };
  return { speed: Number(v) || 1 };
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

function play() {
  if (!current || playing) return;
  if (current.session.live && !current.session.ended && ui.live.dataset.state === 'paused') {
    follow();
    return;
  }
  if (!seqs.length) return;
  playing = true;
  ui.play.textContent = 'Pause';
  ui.play.dataset.playing = 'true';
  if (idxAtOrBefore(pos) >= seqs.length - 1) seek(seqs[0]); // from the end: start over
  loop(++playToken);
}

function pause() {
  if (live) {
    unfollow();
    ui.live.dataset.state = 'paused';
    ui.live.textContent = 'Paused: no longer following live. Press Play to follow again.';
  }
  if (!playing) return;
  playing = false;
  playToken++;
  ui.play.textContent = '▶ Play';
  ui.play.dataset.playing = 'false';
}

// loop plays from the position until the end, pause or another seek: each
// frame is shown at its recorded time offset (scaled by the speed) or at a
// fixed rate.
async function loop(token) {
  let i = idxAtOrBefore(pos);
  let due = performance.now();
  while (playing && token === playToken && i < seqs.length - 1) {
    const s = speedSetting();
    const f = current.frames[i], nf = current.frames[i + 1];
    due += s.fps ? 1000 / s.fps : Math.max(0, nf.t - f.t) / s.speed;
    prefetch(i + 1, 6);
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (!playing || token !== playToken) return;
    const g = gen;
    await draw(i + 1);
    if (!playing || token !== playToken || g !== gen) return;
    i++;
    pos = seqs[i];
    updatePosition(i);
    if (nf.seq > f.seq + 1) {
      setNote('Skipped frames ' + (f.seq + 1) + '–' + (nf.seq - 1) + ': missing from the recording.', true);
    } else if (!ui.gapNote.hidden && !noteTransient) {
      setNote('', false);
    }
    const late = performance.now() - due;
    if (late > 250) due = performance.now(); // fell behind (slow network): do not rush to catch up
  }
  if (token === playToken) pause();
}

// ---- events ----
ui.filter.addEventListener('input', applyFilter);
ui.reload.addEventListener('click', loadSessions);
ui.play.addEventListener('click', () => (playing ? pause() : play()));
ui.next.addEventListener('click', () => step(1));
ui.prev.addEventListener('click', () => step(-1));
ui.fit.addEventListener('change', () => ui.canvas.classList.toggle('fit', ui.fit.checked));
ui.scrub.addEventListener('input', () => {
  const was = playing, wasLive = !!live;
  pause();
  seek(Number(ui.scrub.value));
  if (was && !wasLive) play(); // scrubbing a live session stops following it
});
document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  if (t === ui.filter || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (!current) return;
  switch (ev.key) {
    case 'ArrowRight': step(1); break;
    case 'ArrowLeft': step(-1); break;
    case ' ': playing ? pause() : play(); break;
    case 'Home': pause(); seek(seqs[0]); break;
    case 'End': pause(); seek(seqs[seqs.length - 1]); break;
    default: return;
  }
  ev.preventDefault();
});
document.addEventListener('keyup', (ev) => {
  // Space handled on keydown must not also activate a focused button.
  if (ev.key === ' ' && ev.target.tagName === 'BUTTON') ev.preventDefault();
});
window.addEventListener('hashchange', () => {
  const url = '/api/sessions' + location.hash.slice(1);
  const r = rows.find((x) => x.url === url);
  if (r && (!current || current.session.url !== url)) openSession(r);
});

// Surface what would otherwise only reach the console.
window.addEventListener('error', (ev) => showError('Viewer error: ' + ev.message));
window.addEventListener('unhandledrejection', (ev) => showError('Viewer error: ' + (ev.reason && ev.reason.message || ev.reason)));
document.addEventListener('securitypolicyviolation', (ev) => showError('Blocked by the content security policy: ' + ev.violatedDirective + ' ' + ev.blockedURI));

loadSessions();
