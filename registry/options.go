package registry

import "time"

// Options configure how a registry is reached. The zero value works: HTTPS verified against
// the system's roots, credentials from the usual auth files (see AuthFiles), DefaultConcurrency
// transfers at once, transient errors retried a few times.
type Options struct {
	// PlainHTTP talks HTTP instead of HTTPS.
	PlainHTTP bool

	// Insecure skips the verification of the registry's TLS certificate.
	Insecure bool

	// CAFile is a PEM file of CA certificates trusted besides the system's, for a registry
	// whose certificate a private CA signed.
	CAFile string

	// AuthFile is a Docker or Podman auth file (config.json, auth.json) to take credentials
	// from. If empty, AuthFiles() are read, the first holding a credential for the registry
	// winning.
	AuthFile string

	// Username and Password, when set (both), are the credential for the registry of the
	// operation; no auth file is read then.
	Username, Password string

	// Concurrency is the number of blobs transferred at once; if ≤ 0, DefaultConcurrency.
	Concurrency int

	// Retries is how many times a request, and then the transfer of a blob, is tried again
	// after a transient failure (connection reset, unexpected EOF, 408, 429, 5xx), waiting
	// longer each time (from 200 ms, at most 3 s). If 0, a default (currently 4) is used; if
	// negative, nothing is retried. Refused connections, TLS failures, 401, 403 and 404 are
	// never retried.
	Retries int

	// Timeout bounds connecting, the TLS handshake and the wait for the headers of each
	// answer (not the transfer of a body); if ≤ 0, a default (currently 30 s) is used.
	Timeout time.Duration

	// Progress, when set, is called as blobs move: from the copying goroutines, one call at a
	// time, at least once per blob and about once per MiB. It must not block.
	Progress func(Progress)

	// UserAgent is sent with every request; if empty, oras-go's is.
	UserAgent string

	// ScanReferrers, for a push, finds the referrers to send among every blob of the layout,
	// not only among those its index.json lists (layout.ClosureOptions.ScanReferrers).
	ScanReferrers bool
}

// DefaultConcurrency is the number of blobs transferred at once unless Options say otherwise:
// more than docker's 3, since a pull's fsyncs of each blob overlap with the other transfers.
const DefaultConcurrency = 8

// Defaults of Options.
const (
	defaultRetries = 4
	defaultTimeout = 30 * time.Second
)

func (o Options) concurrency() int {
	if o.Concurrency <= 0 {
		return DefaultConcurrency
	}
	return o.Concurrency
}

func (o Options) retries() int {
	switch {
	case o.Retries < 0:
		return 0
	case o.Retries == 0:
		return defaultRetries
	}
	return o.Retries
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return defaultTimeout
	}
	return o.Timeout
}
