package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// Key locks. FTP has no compare-and-swap, but renaming a directory onto an
// existing non-empty directory fails atomically on every POSIX server
// (rename(2): ENOTEMPTY), and onto an empty one or none succeeds. A key's
// lock is the directory DIR/.NAME%l holding one entry, its owner's id:
//
//   - acquire: MKD DIR/.%k<id> and DIR/.%k<id>/<id>, then RNFR/RNTO that
//     directory to DIR/.NAME%l. Success means this writer holds the lock;
//     failure that another does (the lock is never empty while held).
//   - release: RMD .NAME%l/<id>, then RMD .NAME%l (which fails, harmlessly,
//     if another writer has meanwhile renamed its own lock onto the empty
//     directory).
//   - stale locks: a waiter lists the lock (NLST) to learn its owner id. A
//     lock whose owner has not changed for a whole lease of the waiter's own
//     clock belongs to a writer that crashed, and the waiter removes the
//     owner entry (RMD .NAME%l/<id>: it succeeds only while that owner still
//     holds the lock), then acquires as usual. No clocks are compared
//     across machines.
//   - holders stay well inside the lease: a holder starts no step of its
//     commit once half the lease has passed since it acquired (it gives up
//     with a retryable error instead), and every step is one command
//     bounded by timeout_seconds, which must be at most a quarter of the
//     lease.

// errHeldTooLong: the commit would run past half the lease.
var errHeldTooLong = errors.New("ftp: key lock held for more than half its lease; giving up this attempt")

type keyLock struct {
	b        *backend
	dir      string // server directory of the key
	lock     string // server path of the lock directory
	id       string
	acquired time.Time
	broke    bool // a stale lock was broken on the way: trust no sidecar
}

func lockPath(dir, name string) string { return path.Join(dir, "."+name+lockSuffix) }

// lock acquires the lock of the key whose object is dir/name, waiting
// (with the pool's sessions free) while another writer holds it.
func (b *backend) lock(ctx context.Context, key, dir, name string) (*keyLock, error) {
	l := &keyLock{b: b, dir: dir, lock: lockPath(dir, name), id: randHex()}
	prep := path.Join(dir, prepPrefix+l.id)
	prepared := false
	var owner string
	var since time.Time
	delay := 5 * time.Millisecond
	defer func() {
		if prepared && l.acquired.IsZero() {
			b.cleanupPrep(prep, l.id)
		}
	}()
	for {
		var held bool
		var seen string
		err := b.with(ctx, func(s *session, _ *bool) error {
			if !prepared {
				if err := b.mkdir(s, key, dir); err != nil {
					return err
				}
				if err := s.sc.MakeDir(prep); err != nil {
					return err
				}
				prepared = true
				if err := s.sc.MakeDir(path.Join(prep, l.id)); err != nil {
					return err
				}
			}
			if err := s.sc.Rename(prep, l.lock); err == nil {
				return nil
			} else if connError(err) {
				return err
			}
			held = true
			names, err := s.sc.NameList(l.lock)
			if err != nil {
				if connError(err) {
					return err
				}
				return nil // gone meanwhile: try again at once
			}
			for _, n := range names {
				n = path.Base(strings.TrimSpace(n))
				if n != "." && n != ".." && n != "" {
					seen = n
				}
			}
			return nil
		})
		if err != nil {
			return nil, b.classify(ctx, "lock", key, err)
		}
		if !held {
			l.acquired = time.Now()
			return l, nil
		}
		now := time.Now()
		if seen != owner || since.IsZero() {
			owner, since = seen, now
		} else if now.Sub(since) >= b.cfg.lease {
			// Unchanged for a whole lease: its writer is gone.
			b.log.Warn("breaking a stale key lock", "key", key, "lock", l.lock, "owner", owner, "unchanged_for", now.Sub(since).Round(time.Millisecond).String())
			err := b.with(ctx, func(s *session, _ *bool) error {
				if owner != "" {
					if err := s.sc.RemoveDir(path.Join(l.lock, owner)); err != nil && connError(err) {
						return err
					}
				}
				if err := s.sc.RemoveDir(l.lock); err != nil && connError(err) {
					return err
				}
				return nil
			})
			if err != nil {
				return nil, b.classify(ctx, "lock", key, err)
			}
			l.broke = true // its writer may have died between data and sidecar
			owner, since = "", time.Time{}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, sdk.PermanentError("lock", key, ctx.Err())
		case <-time.After(delay/2 + rand.N(delay)):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// check fails once the holder is past half its lease.
func (l *keyLock) check() error {
	if time.Since(l.acquired) > l.b.cfg.lease/2 {
		return errHeldTooLong
	}
	return nil
}

// release frees the lock (on a fresh context: a cancelled caller must not
// leave it held until the lease runs out).
func (l *keyLock) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*l.b.cfg.timeout)
	defer cancel()
	err := l.b.with(ctx, func(s *session, _ *bool) error {
		if err := s.sc.RemoveDir(path.Join(l.lock, l.id)); err != nil {
			if connError(err) {
				return err
			}
			l.b.log.Warn("key lock was broken while held (its lease ran out?)", "lock", l.lock, "error", err.Error())
		}
		if err := s.sc.RemoveDir(l.lock); err != nil && connError(err) {
			return err
		}
		return nil
	})
	if err != nil {
		l.b.log.Warn("could not release a key lock; another writer breaks it after the lease", "lock", l.lock, "lease", l.b.cfg.lease.String(), "error", err.Error())
	}
}

func (b *backend) cleanupPrep(prep, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*b.cfg.timeout)
	defer cancel()
	b.with(ctx, func(s *session, _ *bool) error {
		s.sc.RemoveDir(path.Join(prep, id))
		return s.sc.RemoveDir(prep)
	})
}

func (b *backend) String() string { return fmt.Sprintf("ftp %s", b.cfg.addr) }
