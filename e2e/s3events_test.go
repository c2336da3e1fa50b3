package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
)

// TestS3NotificationsThroughTheFleet runs two `perseus serve` processes
// with --s3-events-token over one PostgreSQL and one S3 bucket whose
// notifications (versitygw's webhook, through the test relay) reach
// replica a alone, as a balancer would send each to one: files uploaded
// straight to S3 through replica b are uploaded within moments, though
// the listing, a safety net now, comes by once a minute.
func TestS3NotificationsThroughTheFleet(t *testing.T) {
	pg := freshSchema(t)
	s3url := testenv.S3URL(t, "e2e-events")
	const token = "e2e-s3-events-token-0123456789"
	flags := []string{"--db", pg, "--blobs", s3url, "--api-key", "events-key", "--s3-events-token", token}
	a := startServer(t, t.TempDir(), flags...)
	b := startServer(t, t.TempDir(), flags...)
	testenv.S3Events(t, s3url, a.URL+"/api/v0/s3/events?token="+token)
	time.Sleep(time.Second) // the listings' rounds at start are over: the next are a minute away
	ctx := context.Background()
	cb, _ := sdk(t, b.URL, "events-key")
	var worst time.Duration
	for range 5 {
		p, _ := writeRandom(t, t.TempDir(), "small.bin", 64<<10)
		f, err := cb.File.UploadFile(ctx, p) // returns when the PUT is done
		if err != nil {
			t.Fatal(err)
		}
		putDone := time.Now()
		done, err := cb.File.WaitForFileUpload(ctx, f.ID, perseus.WithTimeout(30*time.Second))
		if err != nil || done.Status != perseus.StatusUploaded {
			t.Fatalf("wait = %+v, %v", done, err)
		}
		worst = max(worst, time.Since(putDone))
	}
	t.Logf("end of PUT to uploaded, 5 uploads of 64 KiB told of by notification: at worst %v", worst)
	if worst > 5*time.Second {
		t.Errorf("an upload took %v to be verified; the notification should have made it at once", worst)
	}
}
