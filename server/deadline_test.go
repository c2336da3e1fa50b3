package server

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSilentBodyIsCutOffButAMovingOneIsNot holds a create request's body back:
// the server drops the connection after the idle limit instead of waiting
// forever, while a body that keeps trickling in stays connected past it.
func TestSilentBodyIsCutOffButAMovingOneIsNot(t *testing.T) {
	old := bodyIdleTimeout
	bodyIdleTimeout = 300 * time.Millisecond
	t.Cleanup(func() { bodyIdleTimeout = old })
	e := newEnv(t)
	addr := strings.TrimPrefix(e.url, "http://")

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.Write([]byte("POST /api/v0/file HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + keyA +
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"))
	start := time.Now()
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, _ := bufio.NewReader(silent).ReadString('\n') // an answer or EOF, either way released
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("a silent body held the request %v (answer %q)", waited, resp)
	}

	moving, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer moving.Close()
	body := `{"name":"slow.txt","sourceHash":"` + strings.Repeat("a", 64) + `"}`
	moving.Write([]byte("POST /api/v0/file HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + keyA +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"))
	for i := range len(body) { // one byte every 15 ms: 1.5 s in all, five times the idle limit
		if _, err := moving.Write([]byte{body[i]}); err != nil {
			t.Fatalf("a moving body was cut off after %d bytes: %v", i, err)
		}
		time.Sleep(15 * time.Millisecond)
	}
	moving.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(moving).ReadString('\n')
	if err != nil || !strings.Contains(status, "201") {
		t.Fatalf("a moving body's answer = %q, %v; want 201", status, err)
	}
}
