package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestBadInputAnswersJSONErrors sends each malformed request to a real server
// and expects its status with a JSON message, and the server still serving a
// good request afterwards.
func TestBadInputAnswersJSONErrors(t *testing.T) {
	e := newEnv(t)
	good := e.upload(keyA, "good.txt", []byte("a good file"))
	hash := hashOf([]byte("some content"))
	create := func(name, sourceHash string) string {
		b, _ := json.Marshal(map[string]string{"name": name, "sourceHash": sourceHash})
		return string(b)
	}
	manyIDs, _ := json.Marshal(map[string][]string{"ids": make([]string, 1001)})
	const (
		post   = "POST"
		file   = "/api/v0/file"
		find   = "/api/v0/file/find"
		noType = "\x00" // a header value meaning: do not send this header
	)

	for _, tc := range []struct {
		name, method, path string
		headers            map[string]string
		body               string
		want               int
	}{
		{"malformed JSON", post, file, nil, `{"name": "a.txt", "sourceHash": `, 400},
		{"truncated JSON", post, file, nil, `{"name": "a.txt"`, 400},
		{"empty body", post, file, nil, ``, 400},
		{"trailing garbage", post, file, nil, create("a.txt", hash) + ` x`, 400},
		{"trailing brace", post, file, nil, create("a.txt", hash) + `}`, 400},
		{"trailing bracket", post, file, nil, create("a.txt", hash) + `]`, 400},
		{"second object", post, file, nil, create("a.txt", hash) + create("b.txt", hash), 400},
		{"array instead of object", post, file, nil, `[` + create("a.txt", hash) + `]`, 400},
		{"string instead of object", post, file, nil, `"a.txt"`, 400},
		{"null body", post, file, nil, `null`, 400},
		{"name is a number", post, file, nil, `{"name": 5, "sourceHash": "` + hash + `"}`, 400},
		{"sourceHash is a number", post, file, nil, `{"name": "a.txt", "sourceHash": 5}`, 400},
		{"ids is a string", post, find, nil, `{"ids": "x"}`, 400},
		{"sourceHashes holds a number", post, find, nil, `{"sourceHashes": [5]}`, 400},
		{"find body is an array", post, find, nil, `[]`, 400},
		{"missing name", post, file, nil, `{"sourceHash": "` + hash + `"}`, 400},
		{"missing sourceHash", post, file, nil, `{"name": "a.txt"}`, 400},
		{"hash of 63 chars", post, file, nil, create("a.txt", hash[:63]), 400},
		{"hash of 65 chars", post, file, nil, create("a.txt", hash+"0"), 400},
		{"hash with non-hex", post, file, nil, create("a.txt", "g"+hash[1:]), 400},
		{"empty name", post, file, nil, create("", hash), 400},
		{"name of 1025 bytes", post, file, nil, create(strings.Repeat("n", 1025), hash), 400},
		{"name with newline", post, file, nil, create("a\nb.txt", hash), 400},
		{"name with NUL", post, file, nil, create("a\x00b.txt", hash), 400},
		{"name with a leading slash", post, file, nil, create("/a.txt", hash), 400},
		{"name with a trailing slash", post, file, nil, create("dir/", hash), 400},
		{"name with a doubled slash", post, file, nil, create("dir//a.txt", hash), 400},
		{"name with a .. segment", post, file, nil, create("dir/../a.txt", hash), 400},
		{"name with a . segment", post, file, nil, create("dir/./a.txt", hash), 400},
		{"name with backslash", post, file, nil, create(`dir\a.txt`, hash), 400},
		{"name ..", post, file, nil, create("..", hash), 400},
		{"name .", post, file, nil, create(".", hash), 400},
		{"body over 1 MiB", post, file, nil, create(strings.Repeat("n", 1<<20+10), hash), 413},
		{"body over 1 MiB of trailing space", post, file, nil, create("a.txt", hash) + strings.Repeat(" ", 1<<20+10), 413},
		{"too many ids in find", post, find, nil, string(manyIDs), 400},
		{"Content-Type text/plain", post, file, map[string]string{"Content-Type": "text/plain"}, create("a.txt", hash), 415},
		{"Content-Type unparsable", post, find, map[string]string{"Content-Type": "json;;;"}, `{}`, 415},
		{"unknown route", "GET", "/api/v0/nothing", nil, ``, 404},
		{"unknown route outside the API", "GET", "/index.html", nil, ``, 404},
		{"wrong method on create", "PUT", file, nil, `{}`, 405},
		{"wait=abc", "GET", "/api/v0/file/" + good.ID + "?wait=abc", nil, ``, 400},
		{"wait too long", "GET", "/api/v0/file/" + good.ID + "?wait=61s", nil, ``, 400},
		{"wait negative", "GET", "/api/v0/file/" + good.ID + "?wait=-1s", nil, ``, 400},
		{"upload without signature", "PUT", "/upload/" + good.ID, map[string]string{"Authorization": noType}, `x`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+keyA)
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.headers {
				if v == noType {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			e := *e
			e.t = t
			r := e.send(req) // checks the JSON body and its message
			if r.status != tc.want {
				t.Errorf("%d %s, want %d", r.status, r.body, tc.want)
			}
			if r.Code == "" {
				t.Errorf("no machine code in %s", r.body)
			}
			if fs := e.find(keyA, []string{good.ID}, nil); len(fs) != 1 || fs[0].Status != "uploaded" {
				t.Errorf("good request afterwards: %+v", fs)
			}
		})
	}
}
