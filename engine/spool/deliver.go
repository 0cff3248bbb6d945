package spool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// run is the delivery goroutine of one sink: it takes the head of the
// sink's queue, puts it, and retries the same item after a retryable
// failure, so the sink receives items in ID (accept) order. A permanent
// failure parks the item and moves on.
func (s *Spool) run(ss *sinkState) {
	defer s.wg.Done()
	attempt := 0
	for {
		s.mu.Lock()
		var it *item
		if len(ss.queue) > 0 {
			it = ss.queue[0]
		}
		ss.inflight = it
		s.mu.Unlock()
		if it == nil {
			select {
			case <-ss.wake:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		err := s.put(ss, it)
		superseded := s.endFlight(ss, it)
		if s.ctx.Err() != nil {
			return // closing: whatever happened, the item stays queued on disk
		}
		if !s.stillQueued(ss, it) {
			attempt = 0
			continue // evicted while in flight
		}
		switch {
		case err != nil && superseded:
			// A newer version of this record is queued behind it: that
			// one is delivered instead of retrying or parking this one.
			s.done(ss, it, true)
			s.mu.Lock()
			ss.st.Superseded++
			s.mu.Unlock()
			attempt = 0
		case err == nil:
			s.done(ss, it, false)
			attempt = 0
			s.noteUp(ss, it)
		case it.kind == KindSave && errors.Is(err, sdk.ErrPreconditionFailed):
			s.conflict(ss, it, err)
			attempt = 0
		case s.opts.Retryable(err):
			d := s.backoff(attempt)
			attempt++
			s.mu.Lock()
			ss.st.Retries++
			ss.st.LastError = err.Error()
			wasDown := ss.st.Down
			if !wasDown {
				ss.st.Down, ss.st.DownSince = true, time.Now()
				ss.st.Outages++
			}
			pending, pendingB := ss.st.Pending, ss.st.PendingBytes
			s.mu.Unlock()
			if !wasDown {
				s.log.Warn("spool: sink is down: deliveries wait in the spool and are retried", "sink", ss.name,
					"pending", pending, "pending_bytes", pendingB, "key", it.key, "err", err)
			} else {
				s.log.Debug("spool: delivery failed, will retry", "sink", ss.name, "key", it.key, "id", it.id, "attempt", attempt, "backoff", d, "err", err)
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
		default:
			s.park(ss, it, err, false)
			attempt = 0
		}
	}
}

// noteUp follows a sink back from an outage: at its first delivery after
// being down it notes the backlog (everything queued then), and once that
// is delivered it logs one line: how long it was down, the backlog, and
// how long delivering it took.
func (s *Spool) noteUp(ss *sinkState, it *item) {
	s.mu.Lock()
	if ss.st.Down {
		ss.st.Down = false
		ss.upAt = time.Now()
		ss.downFor = ss.upAt.Sub(ss.st.DownSince)
		ss.backlogID, ss.backlogN, ss.backlogB = it.id, 1, it.size
		for _, q := range ss.queue {
			ss.backlogID = max(ss.backlogID, q.id)
			ss.backlogN++
			ss.backlogB += q.size
		}
		ss.recovering = true
	}
	done := ss.recovering && it.id >= ss.backlogID
	if done {
		ss.recovering = false
	}
	s.mu.Unlock()
	if done {
		s.log.Info("spool: sink is back: its backlog is delivered", "sink", ss.name,
			"down_for", ss.downFor.Round(time.Millisecond), "backlog_items", ss.backlogN, "backlog_bytes", ss.backlogB,
			"delivered_in", time.Since(ss.upAt).Round(time.Millisecond))
	}
}

// backoff returns the wait before attempt+1: MinBackoff doubled per
// attempt, capped at MaxBackoff, with "equal jitter" (between half and all
// of it) so that sinks failing together do not retry in lockstep.
func (s *Spool) backoff(attempt int) time.Duration {
	d := s.opts.MinBackoff
	for i := 0; i < attempt && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}

// endFlight clears the sink's item in flight and reports whether a newer
// record of its key was accepted meanwhile.
func (s *Spool) endFlight(ss *sinkState, it *item) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.inflight = nil
	return it.superseded[ss.name]
}

func (s *Spool) stillQueued(ss *sinkState, it *item) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !it.gone && slices.Contains(ss.queue, it)
}

// put makes one delivery attempt.
func (s *Spool) put(ss *sinkState, it *item) (err error) {
	f, err := os.Open(it.path)
	if err != nil {
		return fmt.Errorf("spool: open payload: %w", err)
	}
	defer f.Close()
	ctx := s.ctx
	if s.opts.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.AttemptTimeout)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("spool: sink %s panicked: %v", ss.name, r)
		}
	}()
	_, err = ss.sink.Put(ctx, it.key, io.NewSectionReader(f, it.offset, it.size), it.opts)
	return err
}

// done records that the sink has the item (delivered, or a conflict the
// callback resolved) and deletes the payload when no sink needs it.
func (s *Spool) done(ss *sinkState, it *item, resolved bool) {
	if err := writeMarker(ss.dir, idName(it.id, extDone), nil); err != nil {
		// The sink has it; only a restart before the next success could
		// deliver it twice. Carry on in memory.
		s.log.Error("spool: recording a delivery", "sink", ss.name, "key", it.key, "id", it.id, "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if it.gone || !slices.Contains(ss.queue, it) {
		return
	}
	ss.dropQueued(it)
	if !resolved {
		ss.st.Delivered++
		ss.st.DeliveredBytes += it.size
	}
	delete(it.need, ss.name)
	if len(it.need) == 0 {
		s.forgetLocked(it)
	}
}

// park keeps the item on disk for this sink and lists it in Failed.
func (s *Spool) park(ss *sinkState, it *item, cause error, conflict bool) {
	rec := parkRecord{Err: cause.Error(), Conflict: conflict, Parked: time.Now()}
	b, _ := json.Marshal(rec)
	if err := writeMarker(ss.dir, idName(it.id, extParked), b); err != nil {
		s.log.Error("spool: recording a parked item (it is retried after a restart)", "sink", ss.name, "id", it.id, "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if it.gone || !slices.Contains(ss.queue, it) {
		os.Remove(filepath.Join(ss.dir, idName(it.id, extParked)))
		return
	}
	ss.dropQueued(it)
	ss.parked[it.id] = &parked{it: it, rec: rec}
	ss.st.LastError = rec.Err
	if !conflict {
		ss.st.Failed++
	}
	s.log.Error("spool: delivery failed permanently; item parked", "sink", ss.name, "key", it.key,
		"id", it.id, "kind", it.kind, "conflict", conflict, "err", cause)
}

// conflict hands a save refused by a precondition to Options.OnConflict.
func (s *Spool) conflict(ss *sinkState, it *item, cause error) {
	s.mu.Lock()
	ss.st.Conflicts++
	s.mu.Unlock()
	res := Park
	if s.opts.OnConflict != nil {
		data, err := s.readPayload(it)
		if err != nil {
			s.log.Error("spool: reading a conflicting save", "key", it.key, "id", it.id, "err", err)
		} else {
			res = s.callConflict(Conflict{Sink: ss.name, ID: it.id, Key: it.key, Opts: it.opts, Data: data, Err: cause})
		}
	}
	if res == Resolved {
		s.done(ss, it, true)
		return
	}
	s.park(ss, it, cause, true)
}

func (s *Spool) callConflict(c Conflict) (res Resolution) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("spool: OnConflict panicked; item parked", "key", c.Key, "panic", r)
			res = Park
		}
	}()
	return s.opts.OnConflict(c)
}

func (s *Spool) readPayload(it *item) ([]byte, error) {
	f, err := os.Open(it.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, it.size)
	_, err = f.ReadAt(b, it.offset)
	return b, err
}
