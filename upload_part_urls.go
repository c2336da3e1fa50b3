package perseus

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// partURL is where one part goes, as the server answered.
type partURL struct {
	PartNumber int               `json:"partNumber"`
	URL        string            `json:"url"`
	Size       int64             `json:"size"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  time.Time         `json:"expiresAt"`
}

// partURLs asks the server for part URLs a batch at a time and keeps them
// until they are about to expire.
type partURLs struct {
	s    *FileService
	path string
	d    digest
	todo []int // the parts to send, in order
	// known reports whether part n's reference is known yet; nil: every
	// part's is (a file hashed before its parts go; see upload_open.go).
	known func(n int) bool

	mu   sync.Mutex
	urls map[int]partURL
	got  map[int]time.Time // when each URL was issued
}

// partURLBatch is how many part URLs are asked for at once.
const partURLBatch = 32

// fresh reports whether part n has a URL that will not expire before its
// PUT is under way: with more than 30 s left, or half its lifetime.
func (p *partURLs) fresh(n int) bool {
	u, ok := p.urls[n]
	return ok && (u.ExpiresAt.IsZero() || time.Until(u.ExpiresAt) > min(30*time.Second, u.ExpiresAt.Sub(p.got[n])/2))
}

// get returns a fresh URL for part n, asking the server, when it has none,
// for it and for the next parts to send that have none either, up to
// partURLBatch.
func (p *partURLs) get(ctx context.Context, n int) (partURL, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fresh(n) {
		return p.urls[n], nil
	}
	nums := []int{n}
	for i, m := range p.todo {
		if m != n {
			continue
		}
		for _, next := range p.todo[i+1:] {
			if len(nums) == partURLBatch {
				break
			}
			if p.known != nil && !p.known(next) {
				break
			}
			if !p.fresh(next) {
				nums = append(nums, next)
			}
		}
		break
	}
	var res struct {
		Parts []partURL `json:"parts"`
	}
	if err := p.s.client.call(ctx, http.MethodPost, p.path, map[string][]partRef{"parts": p.d.refs(nums)}, &res); err != nil {
		return partURL{}, err
	}
	for _, u := range res.Parts {
		p.urls[u.PartNumber], p.got[u.PartNumber] = u, time.Now()
	}
	if !p.fresh(n) {
		return partURL{}, fmt.Errorf("perseus: the server answered no URL for part %d", n)
	}
	return p.urls[n], nil
}

// drop forgets part n's URL, which the store refused: get asks for another.
func (p *partURLs) drop(n int) {
	p.mu.Lock()
	delete(p.urls, n)
	p.mu.Unlock()
}
