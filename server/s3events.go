package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/perseus-go/perseus/internal/ingest"
)

// S3 event notifications (POST /api/v0/s3/events): the bucket tells the
// server of each object written to it, so that a direct upload is verified
// the moment it arrives instead of when the listing of the staging area
// next comes by (ingest.Core.Arrived). The body is S3's event notification
// format, as versitygw (--event-webhook-url), MinIO and Ceph post it:
//
//	{"Records": [{"eventName": "s3:ObjectCreated:Put",
//	  "s3": {"bucket": {"name": "B"}, "object": {"key": "URL-encoded key", "size": 5, "eTag": "…"}}}]}
//
// AWS names its events without "s3:" (ObjectCreated:Put); both are taken.
// A body without Records (a sender's test event) is answered as one with
// none. Senders such as versitygw send no credentials of their own and no
// header that can be set, so the secret travels in the URL they are given,
// ?token=; a sender that can set a header may send it as a bearer token, or
// as the password of basic auth (an https://user:TOKEN@host/… URL).
//
// The answer is quick and says what was done: each object created under
// the staging area of the server's store is queued for verification
// (Run's workers do it), anything else is ignored. Verification takes as
// long as hashing the object, far more than senders wait (versitygw: 3 s,
// no retry), hence the queue; a notification lost, or deferred because
// the queue is full, costs only time: the listing verifies later.

// minS3EventsToken is the shortest Config.S3EventsToken taken.
const minS3EventsToken = 16

// s3Events is what the server reads of an S3 event notification.
type s3Events struct {
	Records []s3EventRecord `json:"Records"`
}

type s3EventRecord struct {
	EventName string `json:"eventName"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key string `json:"key"`
		} `json:"object"`
	} `json:"s3"`
}

// s3EventsResponse counts the records of one notification by what was done.
type s3EventsResponse struct {
	// Verifying: direct uploads queued for verification.
	Verifying int `json:"verifying"`
	// Deferred: direct uploads left to the listing, too many waiting.
	Deferred int `json:"deferred"`
	// Ignored: records of anything else (another bucket or prefix, not a
	// direct upload, not a creation).
	Ignored int `json:"ignored"`
}

func (s *Server) handleS3Events(w http.ResponseWriter, r *http.Request) {
	if s.cfg.S3EventsToken == "" {
		writeError(w, ErrS3EventsOff)
		return
	}
	if !s.s3EventsAuthorized(r) {
		writeError(w, ErrS3EventsToken)
		return
	}
	var ev s3Events
	if e := decodeBody(w, r, &ev); e != nil {
		if e.Status == http.StatusBadRequest {
			e = ErrS3EventsBody.With("%s; %s", e.Message, ErrS3EventsBody.Message)
		}
		writeError(w, e)
		return
	}
	var res s3EventsResponse
	for _, rec := range ev.Records {
		name := strings.TrimPrefix(rec.EventName, "s3:")
		if !strings.HasPrefix(name, "ObjectCreated:") || rec.S3.Bucket.Name == "" || rec.S3.Object.Key == "" {
			res.Ignored++
			continue
		}
		switch s.core.Arrived(rec.S3.Bucket.Name, objectKey(rec.S3.Object.Key)) {
		case ingest.ArrivalQueued:
			res.Verifying++
		case ingest.ArrivalDeferred:
			res.Deferred++
		default:
			res.Ignored++
		}
	}
	writeJSON(w, http.StatusAccepted, res)
}

// objectKey decodes a key as S3 event notifications carry it: URL-encoded,
// a space as "+". A key that does not decode is taken as it is.
func objectKey(k string) string {
	if d, err := url.QueryUnescape(k); err == nil {
		return d
	}
	return k
}

// s3EventsAuthorized reports whether r gives the token: as ?token=, as a
// bearer token, or as the password of basic auth. Compared in constant
// time, of hashes so that not even the length shows.
func (s *Server) s3EventsAuthorized(r *http.Request) bool {
	want := sha256.Sum256([]byte(s.cfg.S3EventsToken))
	var given []string
	if t := r.URL.Query().Get("token"); t != "" {
		given = append(given, t)
	}
	if h := r.Header.Get("Authorization"); len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
		given = append(given, h[len("Bearer "):])
	}
	if _, p, ok := r.BasicAuth(); ok {
		given = append(given, p)
	}
	ok := 0
	for _, t := range given {
		got := sha256.Sum256([]byte(t))
		ok |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return ok == 1
}
