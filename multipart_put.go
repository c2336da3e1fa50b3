package perseus

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// putPart sends part n from the file to u, retrying what a retry can fix,
// and checks that the store holds what was sent: the SHA-256 it confirms
// (x-amz-checksum-sha256 from S3, the JSON sha256 or ETag from a Perseus
// server) must be the one computed from the file.
func (s *FileService) putPart(ctx context.Context, f *os.File, u partURL, n int, d digest, tr *tracker) error {
	size := d.partLen(n)
	if u.Size != 0 && u.Size != size {
		return fmt.Errorf("perseus: the server issued a URL for %d bytes; the part has %d", u.Size, size)
	}
	var body *fileBody
	err := s.client.retry.do(ctx, func() (*http.Response, error) {
		return s.putSection(ctx, u.URL, u.Headers, f, int64(n-1)*d.partSize, size, tr, &body)
	}, func(resp *http.Response) error {
		if err := CheckResponse(resp); err != nil {
			return err
		}
		if err := confirmChecksum(resp, d.parts[n-1]); err != nil {
			return err
		}
		body.sent()
		return nil
	})
	if err != nil {
		body.undo()
	}
	return err
}

// confirmChecksum checks the SHA-256 a store answered for a part it took.
func confirmChecksum(resp *http.Response, want string) error {
	var got string
	if v := resp.Header.Get("x-amz-checksum-sha256"); v != "" {
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return fmt.Errorf("perseus: the store answered a malformed checksum %q", v)
		}
		got = hex.EncodeToString(sum)
	} else {
		var body struct {
			SHA256 string `json:"sha256"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
		got = strings.ToLower(body.SHA256)
		if etag := strings.ToLower(strings.Trim(resp.Header.Get("ETag"), `"`)); got == "" && len(etag) == 64 {
			got = etag // a SHA-256, not an MD5 ETag
		}
	}
	switch got {
	case want:
		return nil
	case "":
		return errors.New("perseus: the store took the part without confirming its SHA-256")
	}
	return fmt.Errorf("perseus: the store holds a part hashing to %s, not to %s as sent", got, want)
}
