package server

import (
	"context"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// SweepMultipart discards every unfinished multipart upload that began (in
// the store) or last received a part (through this server) before before,
// with the parts it holds, and returns how many it discarded. A client
// resuming such an upload later starts it again. The lifecycle sweeper
// calls it with a cutoff well beyond any upload still in progress.
func (s *Server) SweepMultipart(ctx context.Context, before time.Time) (int, error) {
	if d, direct := s.parter().(directParts); direct {
		var stale []blob.Upload
		err := d.m.ListMultipart(ctx, stagingPrefix, func(u blob.Upload) error {
			if u.Initiated.Before(before) {
				stale = append(stale, u)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		for i, u := range stale {
			if err := d.m.AbortMultipart(ctx, u.Key, u.ID); err != nil {
				return i, err
			}
		}
		return len(stale), nil
	}
	// Through this server: parts/<tenant>/<id>/<uploadId>/<part>; an upload
	// is stale when its newest part is.
	newest := map[string]time.Time{}
	var keys []string
	err := s.cfg.Blobs.List(ctx, partsPrefix, func(i blob.Info) error {
		seg := strings.Split(i.Key, "/")
		if len(seg) != 5 {
			return nil
		}
		dir := strings.Join(seg[:4], "/") + "/"
		if i.ModTime.After(newest[dir]) {
			newest[dir] = i.ModTime
		}
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range newest {
		if t.Before(before) {
			n++
		}
	}
	for _, k := range keys {
		seg := strings.Split(k, "/")
		if newest[strings.Join(seg[:4], "/")+"/"].Before(before) {
			if err := s.cfg.Blobs.Delete(ctx, k); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}
