package spec

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The reference grammar of the OCI distribution spec, as github.com/distribution/reference
// implements it (which ig uses through ParseNormalizedNamed):
//
//	reference      := name [ ":" tag ] [ "@" digest ]
//	name           := [domain '/'] remote-name
//	domain         := host [':' port-number]
//	host           := domain-name | IPv4address | \[ IPv6address \]
//	domain-name    := domain-component ['.' domain-component]*
//	domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//	remote-name    := path-component ['/' path-component]*
//	path-component := alpha-numeric [separator alpha-numeric]*
//	alpha-numeric  := /[a-z0-9]+/
//	separator      := /[_.]|__|[-]+/
//	tag            := /[\w][\w.-]{0,127}/
//	digest         := algorithm ":" encoded (a registered algorithm, checked by go-digest)
const (
	refAlnum      = `[a-z0-9]+`
	refSeparator  = `(?:[._]|__|[-]+)`
	refPathComp   = refAlnum + `(?:` + refSeparator + refAlnum + `)*`
	refDomainComp = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refDomainName = refDomainComp + `(?:\.` + refDomainComp + `)*`
	refIPv6       = `\[(?:[a-fA-F0-9:]+)\]`
	refDomainPort = `(?:` + refDomainName + `|` + refIPv6 + `)` + `(?::[0-9]+)?`
	refRemoteName = refPathComp + `(?:/` + refPathComp + `)*`
	refName       = `(?:` + refDomainPort + `/)?` + refRemoteName
	refTag        = `[\w][\w.-]{0,127}`
	refDigest     = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
	refMaxPath    = 255 // the path, without the host (distribution/reference v0.6.0)

	// igDefaultDomain and igOfficialPrefix are what ig puts in front of a short name.
	igDefaultDomain  = "ghcr.io"
	igOfficialPrefix = "inspektor-gadget/gadget/"
)

var (
	refRegexp  = regexp.MustCompile(`^(` + refName + `)(?::(` + refTag + `))?(?:@(` + refDigest + `))?$`)
	nameRegexp = regexp.MustCompile(`^(?:(` + refDomainPort + `)/)?(` + refRemoteName + `)$`)
)

// ref is one parsed reference.
type ref struct {
	domain, path, tag string
	digest            digest.Digest
}

func (r ref) name() string {
	if r.domain == "" {
		return r.path
	}
	return r.domain + "/" + r.path
}

func (r ref) String() string {
	s := r.name()
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest.String()
	}
	return s
}

// parseRef parses s against the reference grammar, without any normalization. Its errors
// wrap ErrBadRef and do not repeat s: callers put it in front.
func parseRef(s string) (ref, error) {
	m := refRegexp.FindStringSubmatch(s)
	if m == nil {
		switch {
		case s == "":
			return ref{}, fmt.Errorf("empty: %w", ErrBadRef)
		case refRegexp.MatchString(strings.ToLower(s)):
			return ref{}, fmt.Errorf("repository name must be lowercase: %w", ErrBadRef)
		}
		return ref{}, fmt.Errorf("not [host[:port]/]path[:tag][@digest]: %w", ErrBadRef)
	}
	n := nameRegexp.FindStringSubmatch(m[1])
	if n == nil {
		return ref{}, fmt.Errorf("bad repository name %q: %w", m[1], ErrBadRef)
	}
	if len(n[2]) > refMaxPath {
		return ref{}, fmt.Errorf("repository path over %d characters: %w", refMaxPath, ErrBadRef)
	}
	r := ref{domain: n[1], path: n[2], tag: m[2]}
	if m[3] != "" {
		d, err := digest.Parse(m[3])
		if err != nil {
			return ref{}, fmt.Errorf("digest %q: %v: %w", m[3], err, ErrBadRef)
		}
		r.digest = d
	}
	return r, nil
}

// splitIGDomain is ig's pkg/oci splitIGDomain: with no "/", or a first component that has no
// "." or ":", is not "localhost" and is lowercase, the domain is ghcr.io; on ghcr.io a
// single-component name gets "inspektor-gadget/gadget/" in front.
func splitIGDomain(name string) (domain, remainder string) {
	i := strings.IndexRune(name, '/')
	if i == -1 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost" && strings.ToLower(name[:i]) == name[:i]) {
		domain, remainder = igDefaultDomain, name
	} else {
		domain, remainder = name[:i], name[i+1:]
	}
	if domain == igDefaultDomain && !strings.ContainsRune(remainder, '/') {
		remainder = igOfficialPrefix + remainder
	}
	return domain, remainder
}

// splitDockerDomain is distribution/reference's splitDockerDomain, which ParseNormalizedNamed
// applies to what splitIGDomain returns: it only changes docker.io names (index.docker.io is
// docker.io, a single component there gets "library/").
func splitDockerDomain(name string) (domain, remainder string) {
	maybeDomain, maybeRemainder, ok := strings.Cut(name, "/")
	if !ok {
		return "docker.io", "library/" + name
	}
	switch {
	case maybeDomain == "localhost", strings.ContainsAny(maybeDomain, ".:"),
		strings.ToLower(maybeDomain) != maybeDomain:
		domain, remainder = maybeDomain, maybeRemainder
	default:
		domain, remainder = "docker.io", name
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.ContainsRune(remainder, '/') {
		remainder = "library/" + remainder
	}
	return domain, remainder
}

// ExpandRef returns the full reference ig stores for ref, the way ig's normalizeImageName does
// it (splitIGDomain, then distribution/reference's ParseNormalizedNamed and TagNameOnly):
//
//	trace_exec                -> ghcr.io/inspektor-gadget/gadget/trace_exec:latest
//	trace_exec:v0.40.0        -> ghcr.io/inspektor-gadget/gadget/trace_exec:v0.40.0
//	foo/bar                   -> ghcr.io/foo/bar:latest
//	ghcr.io/foo               -> ghcr.io/inspektor-gadget/gadget/foo:latest
//	localhost:5000/x          -> localhost:5000/x:latest
//	docker.io/foo             -> docker.io/library/foo:latest
//	name@sha256:<hex>         -> ghcr.io/inspektor-gadget/gadget/name@sha256:<hex> (no tag added)
//
// A tag and a digest together are both kept. Returns ErrBadRef for an empty string, a name
// with upper case letters (a first component with upper case is a host, as in ig), a bad tag or
// digest, or a repository path over 255 characters.
func ExpandRef(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("reference %q: empty: %w", s, ErrBadRef)
	}
	igDomain, igRemainder := splitIGDomain(s)
	domain, remainder := splitDockerDomain(igDomain + "/" + igRemainder)
	remote := remainder
	if i := strings.IndexRune(remainder, ':'); i >= 0 {
		remote = remainder[:i]
	}
	if strings.ToLower(remote) != remote {
		return "", fmt.Errorf("reference %q: repository name must be lowercase: %w", s, ErrBadRef)
	}
	r, err := parseRef(domain + "/" + remainder)
	if err != nil {
		return "", fmt.Errorf("reference %q: %w", s, err)
	}
	if r.tag == "" && r.digest == "" {
		r.tag = "latest"
	}
	return r.String(), nil
}

// IsFullRef reports whether ref is a full reference that ExpandRef leaves unchanged. ig's
// image list and run only see index.json names of that kind.
func IsFullRef(s string) bool {
	full, err := ExpandRef(s)
	return err == nil && full == s
}

// RefName splits a reference into its repository (host and path) and its tag, as ig's image
// list does: a reference without a tag has tag "latest". It does not expand short names (see
// ExpandRef). Returns ErrBadRef if s is not a reference or has no host (RefName("trace_exec")
// is an error: expand it first).
func RefName(s string) (repo, tag string, err error) {
	r, err := parseRef(s)
	if err != nil {
		return "", "", fmt.Errorf("reference %q: %w", s, err)
	}
	if r.domain == "" {
		return "", "", fmt.Errorf("reference %q: no host: %w", s, ErrBadRef)
	}
	if r.tag == "" {
		r.tag = "latest"
	}
	return r.name(), r.tag, nil
}
