package export

import (
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
func parallel(ctx context.Context, src Source, job *Job, w, h int,
	process func(i int, seq uint64, img *image.RGBA) (any, error),
	emit func(i int, v any) error,
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := 2 * job.Workers
	free := make(chan *image.RGBA, slots)
	allocated := 0

	type item struct {
		i   int
		seq uint64
		img *image.RGBA
	}
	type result struct {
		i   int
		v   any
		err error
		img *image.RGBA
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
					r.v, r.err = process(it.i, it.seq, it.img)
				} else {
					r.err = ctx.Err()
				}
				r.i, r.img = it.i, it.img
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
			pending[r.i] = r
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
					if err := emit(r.i, r.v); err != nil {
						fail(err)
					}
				}
				free <- r.img
			}
		}
	}()

	i := 0
	err := src.Each(ctx, job.From, job.To, func(f segment.Frame) error {
		if i >= len(job.Frames) {
			return fmt.Errorf("frame %d: more frames than the index lists", f.Seq)
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
		select {
		case jobs <- item{i: i, seq: f.Seq, img: buf}:
		case <-ctx.Done():
			free <- buf
			return ctx.Err()
		}
		i++
		return nil
	})
	close(jobs)
	workers.Wait()
	close(results)
	<-emitted
	if firstErr != nil {
		return firstErr
	}
	if err != nil {
		return err
	}
	if i != len(job.Frames) {
		return fmt.Errorf("read %d frames, the index lists %d", i, len(job.Frames))
	}
	return nil
}
