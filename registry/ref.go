package registry

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"

	"github.com/gadgetpack/gadgetpack/layout"
)

// parseRemote parses a registry ref, REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST.
// It returns ErrInvalidReference, naming the ref, for anything else (a ref without a tag or a
// digest included: what to push or pull would be a guess).
func parseRemote(ref string) (registry.Reference, error) {
	r, err := registry.ParseReference(ref)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("ref %q: %w", ref, errInvalidRef(err))
	}
	if r.Reference == "" {
		return registry.Reference{}, fmt.Errorf("ref %q: no tag or digest: %w", ref, ErrInvalidReference)
	}
	return r, nil
}

// errInvalidRef keeps oras-go's explanation of a bad ref without repeating its sentinel.
func errInvalidRef(err error) error {
	msg := strings.TrimPrefix(err.Error(), ErrInvalidReference.Error()+": ")
	return fmt.Errorf("%s: %w", msg, ErrInvalidReference)
}

// splitName splits a layout ref name into its repository path (the registry host, if the first
// component is one, dropped) and its tag or digest: ghcr.io/a/b:v1 -> (a/b, ":v1"),
// x@sha256:... -> (x, "@sha256:..."). The path is "" for a bare tag (latest, sha256-<hex>.sig);
// the suffix is "" when the name has neither tag nor digest.
func splitName(name string) (path, suffix string) {
	repo := name
	if i := strings.IndexByte(name, '@'); i >= 0 {
		repo, suffix = name[:i], name[i:]
	} else if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		repo, suffix = name[:i], name[i:]
	}
	if suffix == "" && !strings.Contains(name, "/") {
		// A bare name is a tag of the layout, not a repository.
		return "", ":" + name
	}
	if first, rest, ok := strings.Cut(repo, "/"); ok && isHost(first) {
		repo = rest
	}
	return repo, suffix
}

// isHost reports whether the first component of a ref names a registry host, as Docker
// decides it: it has a dot or a port, or is localhost.
func isHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

// digestTag returns the digest a digest-tag signature names (sha256-<hex>.sig and the like, with
// or without a repository before it), or "".
func digestTag(name string) digest.Digest {
	_, suffix := splitName(name)
	tag, ok := strings.CutPrefix(suffix, ":")
	if !ok {
		return "" // a digest reference, not a tag
	}
	return layout.DigestTagOf(tag)
}

// splitPrefix splits a --to prefix REGISTRY[/PATH] and checks both parts.
func splitPrefix(prefix string) (host, path string, err error) {
	host, path, _ = strings.Cut(strings.TrimSuffix(prefix, "/"), "/")
	r := registry.Reference{Registry: host, Repository: path}
	if host == "" || !isHost(host) || r.ValidateRegistry() != nil {
		return "", "", fmt.Errorf("prefix %q: no registry host (want REGISTRY[/PATH], e.g. registry.local:5000/mirror): %w", prefix, ErrInvalidReference)
	}
	if path != "" {
		if err := r.ValidateRepository(); err != nil {
			return "", "", fmt.Errorf("prefix %q: %w", prefix, errInvalidRef(err))
		}
	}
	return host, path, nil
}

// MapRef returns where a mirror under prefix (REGISTRY[/PATH]) puts the layout ref name, keeping
// its repository path and dropping its registry host:
//
//	ghcr.io/inspektor-gadget/gadget/trace_exec:latest -> REGISTRY/PATH/inspektor-gadget/gadget/trace_exec:latest
//	ttl.sh/x:latest                                   -> REGISTRY/PATH/x:latest
//
// A name without a repository (a bare tag such as latest or sha256-<hex>.sig) cannot be mapped
// alone and is refused with ErrInvalidReference; PushAll sends a bare digest-tag signature to
// the repositories of the images it signs.
func MapRef(name, prefix string) (string, error) {
	host, base, err := splitPrefix(prefix)
	if err != nil {
		return "", err
	}
	path, suffix := splitName(name)
	switch {
	case path == "":
		return "", fmt.Errorf("ref %s: a bare tag, no repository to mirror it under %s: %w", name, prefix, ErrInvalidReference)
	case suffix == "":
		return "", fmt.Errorf("ref %s: no tag or digest: %w", name, ErrInvalidReference)
	}
	if base != "" {
		path = base + "/" + path
	}
	out := host + "/" + path + suffix
	if _, err := parseRemote(out); err != nil {
		return "", fmt.Errorf("ref %s under %s: %w", name, prefix, err)
	}
	return out, nil
}
