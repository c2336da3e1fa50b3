package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// mpCall sends a JSON request through the checker and decodes a 2xx answer into out.
func (s specCall) mp(t *testing.T, method, path, key string, body, out any) int {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(b))
	if body == nil {
		req.Body = http.NoBody
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := s.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return res.StatusCode
}

type mpSession struct {
	UploadID string `json:"uploadId"`
}

type mpURLs struct {
	Parts []struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	} `json:"parts"`
}

// putPart sends body to a part URL with its headers.
func (s specCall) putPart(t *testing.T, u string, hdr map[string]string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest("PUT", u, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// multipartAnswers produces the documented answers of the multipart
// endpoints (parts through this server, the embedded default) and returns
// what its checker saw.
func multipartAnswers(t *testing.T) map[string]bool {
	e := newEnv(t, func(c *Config) { c.MinPartSize, c.MaxPartSize, c.MaxParts, c.MaxFileSize = 4, 1024, 8, 4096 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	content := []byte("0123456789") // parts of 4: "0123" "4567" "89"
	parts := [][]byte{content[:4], content[4:8], content[8:]}
	plan := map[string]int64{"size": 10, "partSize": 4}
	ref := func(n int, b []byte) map[string]any { return map[string]any{"partNumber": n, "sha256": hashOf(b)} }

	s.mp(t, "GET", "/api/v0/limits", keyA, nil, nil)
	s.mp(t, "GET", "/api/v0/limits", "", nil, nil)

	f := e.create(keyA, "mp.bin", content).Rec
	base := "/api/v0/file/" + f.ID + "/multipart"
	s.mp(t, "GET", base, keyA, nil, nil) // 404: none yet
	var sess mpSession
	s.mp(t, "POST", base, keyA, plan, &sess)                                           // 201
	s.mp(t, "POST", base, keyA, map[string]int64{"size": 10}, nil)                     // 400
	s.mp(t, "POST", base, keyA, map[string]int64{"size": 1 << 20, "partSize": 4}, nil) // 413
	s.mp(t, "POST", base, "", plan, nil)
	s.mp(t, "POST", "/api/v0/file/nope/multipart", keyA, plan, nil)
	s.do(t, "POST", base, keyA, "text/plain", []byte(`{}`))
	s.mp(t, "GET", base, "", nil, nil)
	up := base + "/" + sess.UploadID

	var urls mpURLs
	s.mp(t, "POST", up+"/parts", keyA, map[string]any{"parts": []any{ref(1, parts[0]), ref(2, parts[1]), ref(3, parts[2])}}, &urls)
	if len(urls.Parts) != 3 {
		t.Fatalf("part URLs: %+v", urls)
	}
	s.mp(t, "POST", up+"/parts", keyA, map[string]any{"parts": []any{ref(9, parts[0])}}, nil) // 400
	s.mp(t, "POST", up+"/parts", "", map[string]any{"parts": []any{ref(1, parts[0])}}, nil)
	s.mp(t, "POST", base+"/nope/parts", keyA, map[string]any{"parts": []any{ref(1, parts[0])}}, nil) // 404
	s.do(t, "POST", up+"/parts", keyA, "text/plain", []byte(`{}`))
	// A server whose limits shrank since the upload began: 413.
	small := e.srv.cfg
	small.MaxFileSize = 8
	shrunk, err := New(small)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", up+"/parts", bytes.NewReader([]byte(`{"parts":[{"partNumber":1,"sha256":"`+hashOf(parts[0])+`"}]}`)))
	req.Header.Set("Authorization", "Bearer "+keyA)
	rec := &recorder{header: http.Header{}}
	req.URL, _ = url.Parse(e.url + up + "/parts")
	shrunk.Handler().ServeHTTP(rec, req)
	chk.check(req, rec.status, rec.header, rec.body.Bytes())

	u, h := urls.Parts, func(i int) map[string]string { return urls.Parts[i].Headers }
	bad, _ := url.Parse(u[0].URL)
	q := bad.Query()
	q.Set("sig", "AAAA")
	bad.RawQuery = q.Encode()
	s.putPart(t, bad.String(), h(0), parts[0])    // 403
	s.putPart(t, u[0].URL, h(0), []byte("01234")) // 413
	s.putPart(t, u[0].URL, h(0), []byte("abcd"))  // 422
	putCutShort(t, chk, u[0].URL, parts[0])       // 400
	for i := range parts {
		s.putPart(t, u[i].URL, h(i), parts[i]) // 200
	}
	// Through this server an upload exists once a part is stored: now it can be resumed.
	s.mp(t, "POST", base, keyA, plan, nil)                                    // 200
	s.mp(t, "GET", base, keyA, nil, nil)                                      // 200
	s.mp(t, "POST", up+"/complete", keyA, map[string]any{"parts": "no"}, nil) // 400
	s.mp(t, "POST", up+"/complete", "", nil, nil)
	s.mp(t, "POST", base+"/nope/complete", keyA, nil, nil) // 404
	s.do(t, "POST", up+"/complete", keyA, "application/json", bytes.Repeat([]byte(" "), maxJSONBody+1))
	s.do(t, "POST", up+"/complete", keyA, "text/plain", []byte(`{}`))
	s.mp(t, "POST", up+"/complete", keyA, nil, nil)                                           // 200
	s.putPart(t, u[0].URL, h(0), parts[0])                                                    // 409: uploaded
	s.mp(t, "POST", base, keyA, plan, nil)                                                    // 409
	s.mp(t, "POST", up+"/parts", keyA, map[string]any{"parts": []any{ref(1, parts[0])}}, nil) // 409

	// Parts that each match their URL but not, together, the file: 422.
	g := e.create(keyA, "wrong.bin", []byte("abcdefghij")).Rec
	gbase := "/api/v0/file/" + g.ID + "/multipart"
	var gs mpSession
	s.mp(t, "POST", gbase, keyA, plan, &gs)
	var gu mpURLs
	s.mp(t, "POST", gbase+"/"+gs.UploadID+"/parts", keyA, map[string]any{"parts": []any{ref(1, parts[0]), ref(2, parts[1]), ref(3, parts[2])}}, &gu)
	for i := range parts {
		s.putPart(t, gu.Parts[i].URL, gu.Parts[i].Headers, parts[i])
	}
	s.mp(t, "POST", gbase+"/"+gs.UploadID+"/complete", keyA, nil, nil) // 422

	// Abort, and a part for a deleted file.
	d := e.create(keyA, "d.bin", []byte("0123456789xyz")).Rec
	dbase := "/api/v0/file/" + d.ID + "/multipart"
	var ds mpSession
	s.mp(t, "POST", dbase, keyA, map[string]int64{"size": 13, "partSize": 4}, &ds)
	var du mpURLs
	s.mp(t, "POST", dbase+"/"+ds.UploadID+"/parts", keyA, map[string]any{"parts": []any{ref(1, parts[0])}}, &du)
	s.mp(t, "DELETE", dbase+"/"+ds.UploadID, "", nil, nil)
	s.mp(t, "DELETE", dbase+"/nope", keyA, nil, nil) // 404
	e.meta.down.Store(true)
	for _, c := range []struct{ method, path string }{
		{"POST", dbase}, {"GET", dbase}, {"POST", dbase + "/" + ds.UploadID + "/parts"},
		{"POST", dbase + "/" + ds.UploadID + "/complete"}, {"DELETE", dbase + "/" + ds.UploadID},
	} {
		s.mp(t, c.method, c.path, keyA, map[string]any{"size": 13, "partSize": 4, "parts": []any{ref(1, parts[0])}}, nil)
	}
	s.putPart(t, du.Parts[0].URL, du.Parts[0].Headers, parts[0]) // 503
	e.meta.down.Store(false)
	s.mp(t, "DELETE", dbase+"/"+ds.UploadID, keyA, nil, nil) // 204
	e.call("DELETE", "/api/v0/file/"+d.ID, keyA, nil)
	s.putPart(t, du.Parts[0].URL, du.Parts[0].Headers, parts[0]) // 410
	return chk.seen
}

// recorder is a minimal http.ResponseWriter for calling a handler directly.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
