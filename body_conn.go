package perseus

import (
	"context"
	"io"
	"net"
)

// bodyConn is a TCP connection of the default transport. It sends a batch
// upload's files by sendfile(2) (batchReader.sendTo), where the transport
// would copy them through this process: the transport hands a body to the
// connection whole, and only a body of one file reaches net.TCPConn's
// sendfile. Every other body goes as net.TCPConn sends it. (An
// httptrace.GotConnInfo of the default transport sees a bodyConn.)
type bodyConn struct{ *net.TCPConn }

func (c bodyConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if br, ok := lr.R.(*batchReader); ok && br.remaining() == lr.N {
			if testHookSendTo != nil {
				testHookSendTo()
			}
			n, err := br.sendTo(c.TCPConn)
			lr.N -= n
			return n, err
		}
	}
	return c.TCPConn.ReadFrom(r)
}

// testHookSendTo, when set, is called as a batch body goes by sendTo.
var testHookSendTo func()

// dialBodyConns wraps dial so that the TCP connections it makes are bodyConns.
func dialBodyConns(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return c, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			return bodyConn{tc}, nil
		}
		return c, nil
	}
}
