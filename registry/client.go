package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/gadgetpack/gadgetpack/layout"
)

// client talks to one registry host: TLS as Options say, retries, credentials and a token
// cache shared by every repository of the host.
type client struct {
	host string
	opts Options
	auth *auth.Client
}

// newClient returns the client of host. It reads the CA and auth files, but does no network
// I/O.
func newClient(host string, opts Options) (*client, error) {
	tlsConf, err := opts.tlsConfig()
	if err != nil {
		return nil, err
	}
	cred, err := opts.credentialFunc(host)
	if err != nil {
		return nil, err
	}
	timeout := opts.timeout()
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   2 * opts.concurrency(),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConf,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
	retries := opts.retries()
	rt := &retry.Transport{Base: transport, Policy: func() retry.Policy {
		return &retry.GenericPolicy{
			Retryable: retryable,
			Backoff:   retry.DefaultBackoff,
			MinWait:   200 * time.Millisecond,
			MaxWait:   3 * time.Second,
			MaxRetry:  retries,
		}
	}}
	c := &auth.Client{
		Client:     &http.Client{Transport: rt},
		Cache:      auth.NewCache(),
		Credential: cred,
	}
	if opts.UserAgent != "" {
		c.SetUserAgent(opts.UserAgent)
	}
	return &client{host: host, opts: opts, auth: c}, nil
}

// repository returns the remote repository of ref on c's host.
func (c *client) repository(ref registry.Reference) *remote.Repository {
	return &remote.Repository{
		Client:    c.auth,
		Reference: ref,
		PlainHTTP: c.opts.PlainHTTP,
		// A registry without the referrers API keeps its referrers tag schema indexes: many
		// registries refuse DELETE, and the old index may be the one a mirrored tag names.
		SkipReferrersGC:      true,
		MaxMetadataBytes:     layout.MaxJSONBytes,
		ReferrerListMaxPages: 1000,
		TagListMaxPages:      1000,
	}
}

// tlsConfig returns the TLS configuration of o: the system's roots plus CAFile's, or no
// verification with Insecure.
func (o Options) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.Insecure {
		conf.InsecureSkipVerify = true
	}
	if o.CAFile != "" {
		data, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: %w", o.CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it: %w", o.CAFile, ErrTLS)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// retryable is the retry policy's predicate: connection resets, unexpected EOFs and the
// statuses a busy or restarting registry answers (408, 429, 5xx) are worth another try; a
// refused or timed-out dial, a TLS failure and other answers are not, so that a registry that
// is down or misconfigured fails at once.
func retryable(resp *http.Response, err error) (bool, error) {
	if err != nil {
		return transientNet(err), nil
	}
	return transientStatus(resp.StatusCode), nil
}

// transientNet reports whether a network error is worth another try.
func transientNet(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// transientStatus reports whether an HTTP status is worth another try.
func transientStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// transient reports whether a failed graph copy is worth another try.
func transient(err error) bool {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return transientStatus(resp.StatusCode)
	}
	return !isTLS(err) && transientNet(err)
}
