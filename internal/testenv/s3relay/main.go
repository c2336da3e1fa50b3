// Command s3relay passes the S3 event notifications of the test S3 server
// (versitygw, started by scripts/lib/s3.sh) on to the servers under test.
//
// versitygw posts every notification to one webhook URL given when it
// starts, before any server under test exists, and the tests of many
// packages run at once against it, each server on a port of its own. So
// versitygw posts to this relay, at POST /events, and a test subscribes
// its server to the objects of its own key prefix (testenv.S3Events):
//
//	POST   /subscriptions       {"bucket": "B", "prefix": "P/", "url": "http://…"}  → 201 {"id": "…"}
//	DELETE /subscriptions/{id}                                                       → 204
//
// Each notification is answered 200 at once and its records are sent on,
// as a notification of their own, to every subscription whose bucket is
// theirs and whose prefix begins their key: once, with versitygw's own
// timeout of 3 s and no retry. A record no one subscribed to is dropped,
// as a notification lost would be. The relay prints nothing but errors;
// it writes the address it listens on to -addr-file once it listens.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

type subscription struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	URL    string `json:"url"`
}

// record is what the relay reads of one record to route it; the record
// itself is passed on as it came.
type record struct {
	S3 struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key string `json:"key"`
		} `json:"object"`
	} `json:"s3"`
}

type relay struct {
	mu     sync.Mutex
	subs   map[string]subscription
	client *http.Client
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "`HOST:PORT` to listen on")
	addrFile := flag.String("addr-file", "", "`FILE` to write the address listened on to")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			log.Fatal(err)
		}
	}
	r := &relay{subs: map[string]subscription{}, client: &http.Client{Timeout: 3 * time.Second}}
	log.Fatal(http.Serve(ln, r.handler()))
}

func (r *relay) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", r.events)
	mux.HandleFunc("POST /subscriptions", r.subscribe)
	mux.HandleFunc("DELETE /subscriptions/{id}", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		delete(r.subs, req.PathValue("id"))
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (r *relay) subscribe(w http.ResponseWriter, req *http.Request) {
	var s subscription
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<16)).Decode(&s); err != nil || s.Bucket == "" || s.URL == "" {
		http.Error(w, `want {"bucket": "B", "prefix": "P/", "url": "http://…"}`, http.StatusBadRequest)
		return
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := hex.EncodeToString(b)
	r.mu.Lock()
	r.subs[id] = s
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "{\"id\": %q}\n", id)
}

func (r *relay) events(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	w.WriteHeader(http.StatusOK)
	if err != nil {
		return
	}
	var ev struct{ Records []json.RawMessage }
	if json.Unmarshal(body, &ev) != nil {
		return // a test event, or nothing to route
	}
	out := map[string][]json.RawMessage{} // by URL
	r.mu.Lock()
	for _, raw := range ev.Records {
		var rec record
		if json.Unmarshal(raw, &rec) != nil {
			continue
		}
		key, err := url.QueryUnescape(rec.S3.Object.Key)
		if err != nil {
			key = rec.S3.Object.Key
		}
		for _, s := range r.subs {
			if s.Bucket == rec.S3.Bucket.Name && strings.HasPrefix(key, s.Prefix) {
				out[s.URL] = append(out[s.URL], raw)
			}
		}
	}
	r.mu.Unlock()
	for u, recs := range out {
		b, _ := json.Marshal(map[string][]json.RawMessage{"Records": recs})
		go r.send(u, b)
	}
}

func (r *relay) send(u string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		log.Printf("s3relay: %v", err)
		return
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	res, err := r.client.Do(req)
	if err != nil {
		return // a server under test that has ended: as a notification lost
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}
