package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Sentinel errors. Every error of an operation against a registry wraps one of them, with a
// message naming the operation, the ref, the registry and what it answered; test with
// errors.Is.
var (
	// ErrNotFound is returned when the registry answers 404 for a ref, a manifest or a blob, or
	// when a ref is absent from the layout. It is oras-go's errdef.ErrNotFound (and the
	// layout's).
	ErrNotFound = errdef.ErrNotFound

	// ErrInvalidReference is returned for a ref that does not parse as REGISTRY/REPOSITORY[:TAG|@DIGEST],
	// a prefix that names no registry, or a layout ref that cannot be mapped under a prefix.
	// It is oras-go's errdef.ErrInvalidReference.
	ErrInvalidReference = errdef.ErrInvalidReference

	// ErrUnauthorized is returned when the registry answers 401 or 403 (wrong, missing or
	// insufficient credentials), or asks for credentials that none of the sources has.
	ErrUnauthorized = errors.New("access denied")

	// ErrUnreachable is returned when the registry cannot be reached: connection refused, no
	// such host, no route, or no answer within the timeout.
	ErrUnreachable = errors.New("registry unreachable")

	// ErrTLS is returned when the TLS handshake fails (a certificate that does not verify,
	// expired or for another name) or when the two sides disagree on HTTP and HTTPS.
	ErrTLS = errors.New("TLS failure")

	// ErrHTTPMismatch is returned when one side talks plain HTTP and the other HTTPS. It wraps
	// ErrTLS.
	ErrHTTPMismatch = fmt.Errorf("HTTP and HTTPS mixed: %w", ErrTLS)

	// ErrRegistry is returned for any other refusal of the registry: a status the protocol
	// does not expect (5xx after the retries, 400 with MANIFEST_INVALID...).
	ErrRegistry = errors.New("registry error")

	// ErrCredentials is returned when an auth file cannot be read or parsed.
	ErrCredentials = errors.New("bad credentials source")
)

// describe turns an error of oras-go or net/http met while talking to c's registry into one
// that says what the registry answered and wraps the matching sentinel; what is the operation
// and its ref ("pull 127.0.0.1:5000/x:latest"). Errors of the context and errors already
// described pass through with what prefixed.
func (c *client) describe(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var described *describedError
	var local *fs.PathError
	if errors.As(err, &described) || errors.As(err, &local) {
		// Described already, or a file of the layout (a full disk): not the registry's answer.
		return fmt.Errorf("%s: %w", what, err)
	}
	var resp *errcode.ErrorResponse
	if c.opts.PlainHTTP && errors.As(err, &resp) && resp.StatusCode == http.StatusBadRequest && len(resp.Errors) == 0 {
		// What Go's and most TLS servers answer to plain HTTP.
		msg := fmt.Sprintf("%s: registry %s answered 400 Bad Request to plain HTTP (it may want HTTPS)", what, c.host)
		return &describedError{msg: msg, err: err, sentinel: ErrHTTPMismatch}
	}
	return &describedError{msg: what + ": " + answer(c.host, err), err: err, sentinel: classify(err)}
}

// describedError is an error already turned into what the registry answered: it wraps both the
// sentinel and the original error, so that errors.Is finds either.
type describedError struct {
	msg      string
	err      error
	sentinel error
}

func (e *describedError) Error() string   { return e.msg }
func (e *describedError) Unwrap() []error { return []error{e.sentinel, e.err} }

// classify returns the sentinel for err.
func classify(err error) error {
	var resp *errcode.ErrorResponse
	switch {
	case errors.As(err, &resp):
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return ErrUnauthorized
		case resp.StatusCode == http.StatusNotFound:
			return ErrNotFound
		}
		return ErrRegistry
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return ErrUnauthorized
	case isHTTPToHTTPS(err):
		return ErrHTTPMismatch
	case isTLS(err):
		return ErrTLS
	case isUnreachable(err):
		return ErrUnreachable
	case errors.Is(err, errdef.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, errdef.ErrInvalidReference):
		return ErrInvalidReference
	}
	return ErrRegistry
}

// answer says in words what host answered.
func answer(host string, err error) string {
	var resp *errcode.ErrorResponse
	switch {
	case errors.As(err, &resp):
		s := fmt.Sprintf("registry %s answered %d %s to %s %s", host, resp.StatusCode, http.StatusText(resp.StatusCode), resp.Method, pathOf(resp))
		if len(resp.Errors) > 0 {
			s += " (" + resp.Errors.Error() + ")"
		}
		return s
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Sprintf("registry %s answered 401 Unauthorized and no credentials for it were given or found", host)
	case isHTTPToHTTPS(err):
		return fmt.Sprintf("registry %s speaks plain HTTP, not HTTPS", host)
	case isTLS(err):
		return fmt.Sprintf("registry %s: TLS: %s", host, tlsCause(err))
	case isRefused(err):
		return fmt.Sprintf("registry %s: connection refused (nothing listens there)", host)
	case isUnreachable(err):
		return fmt.Sprintf("registry %s: %s", host, netCause(err))
	case errors.Is(err, errdef.ErrNotFound):
		return fmt.Sprintf("registry %s answered 404 Not Found (%v)", host, err)
	}
	return fmt.Sprintf("registry %s: %v", host, err)
}

// pathOf returns the path of the request an error response answered.
func pathOf(resp *errcode.ErrorResponse) string {
	if resp.URL == nil {
		return ""
	}
	return resp.URL.Path
}

// isTLS reports whether err is a failed TLS handshake or an HTTP/HTTPS mismatch.
func isTLS(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		isHTTPToHTTPS(err) || strings.Contains(err.Error(), "tls: ")
}

// isHTTPToHTTPS reports whether an HTTPS request got a plain HTTP answer.
func isHTTPToHTTPS(err error) bool {
	return strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// tlsCause returns the innermost useful text of a TLS error.
func tlsCause(err error) string {
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return verify.Err.Error()
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return unknown.Error()
	}
	var hostname x509.HostnameError
	if errors.As(err, &hostname) {
		return hostname.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// isRefused reports whether err is a refused connection.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isUnreachable reports whether err means that the registry could not be reached.
func isUnreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return isRefused(err) || errors.As(err, &dns) || isTimeout(err) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		(errors.As(err, &op) && op.Op == "dial")
}

// netCause returns the innermost useful text of a network error.
func netCause(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Error()
	}
	if isTimeout(err) {
		return "no answer within the timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}
