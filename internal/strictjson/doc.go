// Package strictjson refuses the JSON documents that two parsers could read differently:
// duplicate keys at any depth, keys that encoding/json would fold onto a known OCI field, a
// null where OCI wants a value, a byte order mark, invalid UTF-8 or lone surrogates in strings,
// numbers beyond float64's range, and data after the document. It reads the bytes once,
// without recursion, and keeps nothing.
//
// The ambiguities are those of CVE-2021-41190 and of RFC 8259 section 4 ("the names within an
// object SHOULD be unique"); see https://github.com/opencontainers/image-spec/security/advisories/GHSA-77vh-xpmg-72qh.
package strictjson
