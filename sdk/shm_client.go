package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	storagev1 "github.com/skyloop-engine/skyloop/sdk/proto/v1"
)

// shmCancelGrace is how long a cancelled PutShared waits for the plugin to
// stop reading the region. Past it the RPC is abandoned and its slots are
// never reused, since the plugin may still read them.
const shmCancelGrace = 10 * time.Second

// putShared copies r into free slots of the region, sending each slot's
// extent as soon as it is filled so that the plugin reads while the host
// copies. A payload of known size reserves its slots first and uses the
// stream when the region has no room for it. When the region fills up
// before the end of the payload, or the plugin has no region, the Put
// goes over the stream instead, the bytes already copied included.
func (c *Client) putShared(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error) {
	var (
		slots []int
		ext   []*storagev1.SharedExtent // everything read, for the fallback
		extra []byte                    // read past the region, for the fallback
		leak  bool
	)
	defer func() { c.shm.release(slots, leak) }()
	// fallback sends what was read and the rest of r over the stream; the
	// slots are held until it returns.
	fallback := func() (ObjectInfo, error) {
		readers := make([]io.Reader, 0, len(ext)+2)
		for _, x := range ext {
			readers = append(readers, bytes.NewReader(c.shm.mem[x.Offset:x.Offset+x.Length]))
		}
		readers = append(readers, bytes.NewReader(extra), r)
		return c.putStream(ctx, key, io.MultiReader(readers...), opts)
	}
	need := 1
	if opts.Size >= 0 {
		need = max(1, int((opts.Size+shmSlotSize-1)/shmSlotSize))
	}
	for len(slots) < need {
		i, ok := c.shm.alloc()
		if !ok {
			// No room: nothing was read yet, and the slots taken go back
			// before the stream Put.
			c.shm.release(slots, false)
			slots = nil
			return c.putStream(ctx, key, r, opts)
		}
		slots = append(slots, i)
	}

	s, err := c.openPutShared(ctx)
	if err != nil {
		return ObjectInfo{}, fromStatus(ctx, "put", key, err)
	}
	defer s.scancel()
	hdr := &storagev1.PutHeader{Key: key, IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch, Size: opts.Size, Metadata: opts.Metadata}
	var (
		failure    error // the Put fails with it once the plugin answered
		regionFull bool
		pending    []*storagev1.SharedExtent // filled, not yet sent
	)
	var (
		one   [1]byte
		carry []byte // read ahead (so r is not done), not yet in a slot
		total int64
	)
fill:
	for next := 0; ; next++ {
		if err := ctx.Err(); err != nil {
			failure = &Error{Op: "put", Key: key, Err: err}
			break
		}
		if next == len(slots) {
			i, ok := c.shm.alloc()
			if !ok {
				// The region is full: if r is done anyway, the Put still
				// goes through it.
				if carry == nil {
					n, err := io.ReadFull(r, one[:])
					if err == io.EOF {
						s.sendErr = s.stream.Send(&storagev1.PutSharedRequest{Header: hdr, Extents: pending, Last: true})
						hdr = nil
						break
					}
					if err != nil {
						failure = &Error{Op: "put", Key: key, Err: fmt.Errorf("reading payload: %w", err)}
						break
					}
					carry = one[:n]
				}
				extra = carry
				regionFull = true
				break
			}
			slots = append(slots, i)
		}
		i := slots[next]
		slot := c.shm.slot(i)
		k := copy(slot, carry)
		carry = nil
		n, err := io.ReadFull(r, slot[k:])
		n += k
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			failure = &Error{Op: "put", Key: key, Err: fmt.Errorf("reading payload: %w", err)}
			break
		}
		total += int64(n)
		if !eof && opts.Size >= 0 && total >= opts.Size {
			// The announced size is reached: look for the end without
			// taking another slot.
			m, err := io.ReadFull(r, one[:])
			switch {
			case err == io.EOF:
				eof = true
			case err != nil:
				failure = &Error{Op: "put", Key: key, Err: fmt.Errorf("reading payload: %w", err)}
				break fill
			default:
				carry = one[:m]
			}
		}
		x := &storagev1.SharedExtent{Offset: int64(i * shmSlotSize), Length: int64(n)}
		if last := len(ext) - 1; last >= 0 && ext[last].Offset+ext[last].Length == x.Offset {
			ext[last].Length += x.Length // for the fallback
		} else {
			ext = append(ext, &storagev1.SharedExtent{Offset: x.Offset, Length: x.Length})
		}
		if last := len(pending) - 1; last >= 0 && pending[last].Offset+pending[last].Length == x.Offset {
			pending[last].Length += x.Length
		} else {
			pending = append(pending, x)
		}
		// Send after slots 1, 3, 7, 15…: the plugin starts reading early,
		// and a large payload costs few messages.
		if filled := next + 1; !eof && filled&(filled+1) != 0 {
			continue
		}
		m := &storagev1.PutSharedRequest{Header: hdr, Extents: pending, Last: eof}
		hdr, pending = nil, nil
		if s.sendErr = s.stream.Send(m); s.sendErr != nil || eof {
			// io.EOF from Send: the plugin already answered.
			break
		}
	}
	if failure != nil && hdr != nil {
		// Nothing was sent: the plugin never saw the region.
		s.scancel()
		return ObjectInfo{}, failure
	}
	if s.sendErr == nil && (failure != nil || regionFull) {
		// The plugin must stop reading (and fail its Put) before the
		// payload goes another way or the Put fails.
		s.sendErr = s.stream.Send(&storagev1.PutSharedRequest{Header: hdr, Cancel: true})
	}
	info, leaked, err := s.wait(ctx)
	leak = leaked
	switch {
	case isNoSharedRegion(err):
		// The plugin never called its backend: send the payload over the
		// stream, and from now on every payload.
		c.shmOff.Store(true)
		if failure != nil {
			return ObjectInfo{}, failure
		}
		return fallback()
	case failure != nil:
		return ObjectInfo{}, failure
	case regionFull && (err != nil || leaked):
		// The plugin stopped reading: nothing was stored.
		if leaked {
			return ObjectInfo{}, &Error{Op: "put", Key: key, Err: errors.New("the plugin did not stop its shared-memory Put")}
		}
		return fallback()
	case err != nil:
		if ctxErr := ctx.Err(); ctxErr != nil {
			// The plugin's error is the consequence of the cancellation.
			return ObjectInfo{}, &Error{Op: "put", Key: key, Err: fmt.Errorf("%w (%s)", ctxErr, status.Convert(err).Message())}
		}
		return ObjectInfo{}, fromStatus(ctx, "put", key, err)
	}
	// (With regionFull, a backend that read opts.Size bytes may have
	// stored them before the cancel, as it would have from the stream.)
	c.sharedPuts.Add(1)
	return objectFromWire(info), nil
}

// sharedCall is one PutShared RPC. Its context is not the caller's:
// cancelling the caller's context sends a cancel message instead, so that
// the RPC returns only once the plugin stopped reading the region.
type sharedCall struct {
	stream  storagev1.Storage_PutSharedClient
	scancel context.CancelFunc
	sendErr error
}

func (c *Client) openPutShared(ctx context.Context) (*sharedCall, error) {
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	stream, err := c.rpc.PutShared(sctx)
	if err != nil {
		scancel()
		return nil, err
	}
	return &sharedCall{stream: stream, scancel: scancel}, nil
}

// wait returns the plugin's answer. When ctx ends first it sends a cancel
// message; leaked reports that the plugin did not answer within
// shmCancelGrace after it, and the extents must not be reused.
func (s *sharedCall) wait(ctx context.Context) (info *storagev1.ObjectInfo, leaked bool, err error) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		if s.sendErr == nil {
			s.stream.Send(&storagev1.PutSharedRequest{Cancel: true})
		}
		t := time.NewTimer(shmCancelGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			leaked = true
			s.scancel()
		}
	}()
	info, err = s.stream.Recv()
	close(done)
	wg.Wait()
	if err == io.EOF {
		err = errors.New("protocol error: the plugin ended PutShared without an answer")
	}
	return info, leaked, err
}

// isNoSharedRegion: the plugin has no region, or predates PutShared. Both
// answer Unimplemented without the ErrorDetail that a backend's errors
// carry.
func isNoSharedRegion(err error) bool {
	st, ok := status.FromError(err)
	return ok && err != nil && st.Code() == codes.Unimplemented && len(st.Details()) == 0
}
