package instrument

import (
	"errors"
	"io"
)

// readWriteCloser is the body of a 101 Switching Protocols response: the
// upgraded connection.
type readWriteCloser interface {
	io.Reader
	io.Writer
	io.Closer
}

// trackedBody is a response body that finishes its request at EOF, at the
// first read error, or on Close, whichever comes first. It is the tracker
// itself, so wrapping the body allocates nothing.
type trackedBody tracker

func (b *trackedBody) Read(p []byte) (int, error) {
	tk := (*tracker)(b)
	n, err := tk.body.Read(p)
	if err != nil {
		tk.bodyDone(err)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	tk := (*tracker)(b)
	err := tk.body.Close()
	tk.finish(ErrNone)
	return err
}

// upgradedBody is trackedBody for an upgraded connection; it stays an
// io.Writer, which exec, attach and port-forward need.
type upgradedBody struct {
	tk  *tracker
	rwc readWriteCloser
}

func (b *upgradedBody) Read(p []byte) (int, error) {
	n, err := b.rwc.Read(p)
	if err != nil {
		b.tk.bodyDone(err)
	}
	return n, err
}

func (b *upgradedBody) Write(p []byte) (int, error) { return b.rwc.Write(p) }

func (b *upgradedBody) Close() error {
	err := b.rwc.Close()
	b.tk.finish(ErrNone)
	return err
}

// bodyDone finishes the request on a read error: io.EOF is success.
func (tk *tracker) bodyDone(err error) {
	if errors.Is(err, io.EOF) {
		tk.finish(ErrNone)
		return
	}
	tk.finish(classifyError(err))
}
