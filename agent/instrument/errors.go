package instrument

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// classifyError maps a transport or body error to its ErrorClass. The error
// text is never kept: it may hold the URL with its query.
func classifyError(err error) ErrorClass {
	switch {
	case err == nil:
		return ErrNone
	case errors.Is(err, context.Canceled):
		return ErrCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTimeout {
			return ErrTimeout
		}
		return ErrDNS
	}
	var (
		certErr      *tls.CertificateVerificationError
		unknownAuth  x509.UnknownAuthorityError
		hostErr      x509.HostnameError
		invalidCert  x509.CertificateInvalidError
		recordHeader tls.RecordHeaderError
		alert        tls.AlertError
	)
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidCert) || errors.As(err, &recordHeader) || errors.As(err, &alert) {
		return ErrTLS
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ErrReset
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrEOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	// Errors net/http and its HTTP/2 code return without a type to test.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "tls: "):
		return ErrTLS
	case strings.Contains(msg, "stream error"), strings.Contains(msg, "RST_STREAM"),
		strings.Contains(msg, "connection reset"), strings.Contains(msg, "http2: client connection lost"):
		return ErrReset
	case strings.Contains(msg, "server closed"), strings.Contains(msg, "unexpected EOF"), strings.Contains(msg, "EOF"):
		return ErrEOF
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return ErrNetwork
	}
	return ErrOther
}
