package cli

import (
	"io"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressBars draws, on a terminal, a bar for each file being sent (bytes,
// rate and ETA) and one for the total. The SDK reports on every read of a
// body; reports are kept and drawn at a steady pace, so that the bars cost
// the upload nothing.
type progressBars struct {
	p    *mpb.Progress
	quit chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending map[string]perseus.Progress // latest reports not drawn yet
	batch   perseus.Progress            // latest report, for the total
	files   map[string]*mpb.Bar
	total   *mpb.Bar
	failed  bool
}

const barTick = 150 * time.Millisecond

// newProgressBars returns bars drawn on w, or nil when w is not a terminal:
// then nothing of the sort is drawn.
func newProgressBars(w io.Writer) *progressBars {
	if !isTerminal(w) {
		return nil
	}
	b := &progressBars{
		p:       mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(barTick)),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		pending: map[string]perseus.Progress{},
		files:   map[string]*mpb.Bar{},
	}
	go b.loop()
	return b
}

// update takes one report of the SDK; it is called from many goroutines.
func (b *progressBars) update(p perseus.Progress) {
	b.mu.Lock()
	if q, ok := b.pending[p.Path]; !ok || !q.Done {
		b.pending[p.Path] = p
	}
	b.batch = p
	b.mu.Unlock()
}

func (b *progressBars) loop() {
	defer close(b.done)
	t := time.NewTicker(barTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-b.quit:
			b.draw(time.Since(last))
			return
		case now := <-t.C:
			b.draw(now.Sub(last))
			last = now
		}
	}
}

// draw moves the bars to the latest reports; dt is the time since the last draw.
func (b *progressBars) draw(dt time.Duration) {
	b.mu.Lock()
	pending, batch := b.pending, b.batch
	b.pending = map[string]perseus.Progress{}
	b.mu.Unlock()
	for path, p := range pending {
		bar := b.files[path]
		if bar == nil && !p.Done && p.Total > 0 {
			bar = b.p.AddBar(p.Total, mpb.BarRemoveOnComplete(),
				mpb.PrependDecorators(decor.Name(shorten(filepath.Base(path), 28), decor.WCSyncSpaceR)),
				mpb.AppendDecorators(counters(), rate(), eta()))
			bar.SetCurrent(p.Sent) // parts sent before (a resume) are no part of the rate
			b.files[path] = bar
		} else if bar != nil {
			bar.EwmaSetCurrent(p.Sent, dt)
		}
		if p.Done {
			b.failed = b.failed || p.Err != nil
			if bar != nil {
				if p.Err != nil {
					bar.Abort(true)
				} else {
					bar.SetTotal(-1, true)
				}
			}
			delete(b.files, path)
		}
	}
	if batch.BatchTotal <= 0 {
		return
	}
	if b.total == nil {
		b.total = b.p.AddBar(batch.BatchTotal, mpb.BarPriority(math.MaxInt),
			mpb.PrependDecorators(decor.Name("total", decor.WCSyncSpaceR)),
			mpb.AppendDecorators(counters(), rate(), eta()))
		b.total.SetCurrent(batch.BatchSent)
		return
	}
	b.total.EwmaSetCurrent(batch.BatchSent, dt)
}

// stop draws the last reports and ends the bars; it is a no-op on nil.
func (b *progressBars) stop() {
	if b == nil {
		return
	}
	close(b.quit)
	<-b.done
	for _, bar := range b.files {
		bar.Abort(true)
	}
	if b.total != nil {
		if b.failed {
			b.total.Abort(false)
		} else {
			b.total.SetTotal(-1, true)
		}
	}
	b.p.Wait()
}

func counters() decor.Decorator {
	return decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace)
}
func rate() decor.Decorator {
	return decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30, decor.WCSyncSpace)
}
func eta() decor.Decorator {
	return decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace), "done")
}

// shorten cuts s to at most n characters, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
