package export

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"sync"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// parallel reads the job's frames from src, scales each into a buffer of
// w×h and runs process on job.Workers goroutines; emit gets the results in
// frame order on one goroutine. At most 2×Workers frames are in flight
// (read but not yet emitted), so memory is bounded whatever the length.
//
// With diff, process also gets the rectangle where the frame differs from
// the one before it (the whole frame for the first; empty when nothing
// changed), found on the reading goroutine, which keeps a copy of the
// previous frame for it.
//
// keep, when not nil, says which of job.Frames to process (by index): the
// others are read (later frames may depend on them) but not scaled,
// compared, processed or emitted, and "the frame before" is the one kept
// before. Indexes passed to process and emit are those of job.Frames.
//
// A damaged frame (one src passes with its damage) is not processed: emit
// gets it in its place in the order with bad set (and no value), and it is
// returned in the list of damaged frames; "the frame before" the next one
// is the intact one before it. With job.Strict the first damaged frame
// stops everything with an error wrapping ErrDamaged.
func parallel(ctx context.Context, src Source, job *Job, w, h int, diff bool, keep []bool,
	process func(i int, seq uint64, img *image.RGBA, changed image.Rectangle) (any, error),
	emit func(i int, v any, bad bool) error,
) ([]Damaged, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := 2 * job.Workers
	free := make(chan *image.RGBA, slots)
	allocated := 0

	type item struct {
		k       int // position among the frames processed: emit order
		i       int
		seq     uint64
		img     *image.RGBA
		changed image.Rectangle
	}
	type result struct {
		k   int
		i   int
		v   any
		err error
		img *image.RGBA // nil for a damaged frame
		bad bool
	}
	jobs := make(chan item)
	results := make(chan result, slots)

	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}

	var workers sync.WaitGroup
	for range job.Workers {
		workers.Go(func() {
			for it := range jobs {
				var r result
				if ctx.Err() == nil {
					r.v, r.err = process(it.i, it.seq, it.img, it.changed)
				} else {
					r.err = ctx.Err()
				}
				r.k, r.i, r.img = it.k, it.i, it.img
				results <- r
			}
		})
	}
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		pending := map[int]result{}
		next := 0
		for r := range results {
			pending[r.k] = r
			for {
				r, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				if r.err != nil {
					fail(r.err)
				} else if ctx.Err() == nil {
					if err := emit(r.i, r.v, r.bad); err != nil {
						fail(err)
					}
				}
				if r.img != nil {
					free <- r.img
				}
			}
		}
	}()

	var last *image.RGBA // the previous frame, for diff
	var damaged []Damaged
	i, k := 0, 0
	err := src.Walk(ctx, job.From, job.To, func(f segment.Frame, damage error) error {
		if i >= len(job.Frames) {
			return fmt.Errorf("frame %d: more frames than the index lists", f.Seq)
		}
		if damage != nil {
			if job.Strict {
				return strictError(damage)
			}
			damaged = append(damaged, Damaged{Seq: f.Seq, Err: damage})
			if keep == nil || keep[i] {
				select {
				case results <- result{k: k, i: i, bad: true}:
				case <-ctx.Done():
					return ctx.Err()
				}
				k++
			}
			i++
			return nil
		}
		if keep != nil && !keep[i] {
			i++
			return nil
		}
		var buf *image.RGBA
		select {
		case buf = <-free:
		default:
			if allocated < slots {
				buf = image.NewRGBA(image.Rect(0, 0, w, h))
				allocated++
			} else {
				select {
				case buf = <-free:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		job.Scale.Apply(buf, f.Image)
		changed := buf.Rect
		if diff {
			if last == nil {
				last = image.NewRGBA(buf.Rect)
			} else {
				changed = changedRect(last, buf)
			}
			copy(last.Pix, buf.Pix)
		}
		select {
		case jobs <- item{k: k, i: i, seq: f.Seq, img: buf, changed: changed}:
		case <-ctx.Done():
			free <- buf
			return ctx.Err()
		}
		i++
		k++
		return nil
	})
	close(jobs)
	workers.Wait()
	close(results)
	<-emitted
	if firstErr != nil {
		return damaged, firstErr
	}
	if err != nil {
		return damaged, err
	}
	if i != len(job.Frames) {
		return damaged, fmt.Errorf("read %d frames, the index lists %d", i, len(job.Frames))
	}
	return damaged, nil
}

// changedRect is the smallest rectangle holding every pixel where a and b
// (same bounds, from the origin) differ; empty when they are equal.
func changedRect(a, b *image.RGBA) image.Rectangle {
	w, h := b.Rect.Dx(), b.Rect.Dy()
	row := func(img *image.RGBA, y int) []byte { return img.Pix[y*img.Stride : y*img.Stride+4*w] }
	top := 0
	for top < h && bytes.Equal(row(a, top), row(b, top)) {
		top++
	}
	if top == h {
		return image.Rectangle{}
	}
	bottom := h
	for bottom > top && bytes.Equal(row(a, bottom-1), row(b, bottom-1)) {
		bottom--
	}
	left, right := w, 0
	for y := top; y < bottom; y++ {
		ra, rb := row(a, y), row(b, y)
		for x := 0; x < left; x++ {
			if !bytes.Equal(ra[4*x:4*x+4], rb[4*x:4*x+4]) {
				left = x
				break
			}
		}
		for x := w - 1; x >= right; x-- {
			if !bytes.Equal(ra[4*x:4*x+4], rb[4*x:4*x+4]) {
				right = x + 1
				break
			}
		}
	}
	return image.Rect(left, top, right, bottom)
}
