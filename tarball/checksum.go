package tarball

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// MaxChecksumFileBytes caps the checksum file ReadChecksums reads: MaxParts lines are ~100 KiB.
const MaxChecksumFileBytes = 1 << 20

// ChecksumFile returns the checksum file that ExportFile writes beside the files of one tarball:
// FILE.sha256 for one file FILE, and PREFIX.sha256 for the parts PREFIX.000, PREFIX.001... of a
// split export given in order. It returns "" for several files that are not such parts.
func ChecksumFile(files []string) string {
	switch len(files) {
	case 0:
		return ""
	case 1:
		if prefix, ok := partPrefix(files[0], 0); ok {
			// One part alone: PREFIX.000 of a split into one part.
			return prefix + ChecksumExt
		}
		return files[0] + ChecksumExt
	}
	prefix, ok := partPrefix(files[0], 0)
	if !ok {
		return ""
	}
	for i, f := range files {
		if p, ok := partPrefix(f, i); !ok || p != prefix {
			return ""
		}
	}
	return prefix + ChecksumExt
}

// partPrefix returns PREFIX when name is PartName(PREFIX, i).
func partPrefix(name string, i int) (string, bool) {
	suffix := PartName("", i)
	if len(name) <= len(suffix) || !strings.HasSuffix(name, suffix) {
		return "", false
	}
	return strings.TrimSuffix(name, suffix), true
}

var (
	gnuSumLine = regexp.MustCompile(`^([0-9a-fA-F]{64}) [ *](.+)$`)
	bsdSumLine = regexp.MustCompile(`^SHA256 \((.+)\) = ([0-9a-fA-F]{64})$`)
)

// ReadChecksums reads a checksum file in sha256sum's format: one "HEX  NAME" line per file
// (also "HEX *NAME", and the "SHA256 (NAME) = HEX" lines of sha256sum --tag), blank lines and
// CRLF line ends allowed. It returns the files it lists, in its order, with Path the name as
// written and Digest the sha256. A line of another shape, a name listed twice (in either form:
// which sum would count is ambiguous, so neither does), a file over
// MaxChecksumFileBytes or with no line are errors wrapping ErrChecksum, naming the line.
func ReadChecksums(path string) ([]Part, error) {
	f, err := openFile(path, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxChecksumFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return parseChecksums(path, data)
}

func parseChecksums(path string, data []byte) ([]Part, error) {
	if len(data) > MaxChecksumFileBytes {
		return nil, fmt.Errorf("%s: over %d bytes: not a checksum file: %w", path, MaxChecksumFileBytes, ErrChecksum)
	}
	var parts []Part
	seen := map[string]int{} // name: the line that lists it
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxChecksumFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		var hex, name string
		if m := gnuSumLine.FindStringSubmatch(line); m != nil {
			hex, name = m[1], m[2]
		} else if m := bsdSumLine.FindStringSubmatch(line); m != nil {
			name, hex = m[1], m[2]
		} else {
			return nil, fmt.Errorf("%s line %d: %q is not a sha256sum line (HEX  NAME): %w", path, n, clip(line), ErrChecksum)
		}
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s line %d: %q is listed twice (first on line %d): %w", path, n, name, first, ErrChecksum)
		}
		seen[name] = n
		parts = append(parts, Part{Path: name, Digest: digest.NewDigestFromEncoded(digest.SHA256, strings.ToLower(hex))})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, ErrChecksum)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: lists no file: %w", path, ErrChecksum)
	}
	return parts, nil
}

// clip shortens a line quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ChecksumCheck is the check of a tarball's files against the checksum file beside them.
type ChecksumCheck struct {
	// Path is the checksum file.
	Path string `json:"path"`
	// OK says every file read is listed there with the sha256 of its bytes, and every file
	// listed was read.
	OK bool `json:"ok"`
	// Files are the files read, with their sizes and the sha256 of their bytes as read.
	Files []Part `json:"files"`
}

// compareSums checks the files read (got) against the checksum file's lines (want). Each
// finding is an error naming the file and wrapping ErrChecksum.
func compareSums(sumFile string, want, got []Part) []error {
	byName := map[string]digest.Digest{}
	for _, w := range want {
		byName[w.Path] = w.Digest
	}
	var errs []error
	matched := map[string]bool{}
	for _, g := range got {
		name := filepath.Base(g.Path)
		d, ok := byName[name]
		if !ok && len(want) == 1 && len(got) == 1 {
			// One file renamed with its checksum file: the bytes are what counts.
			name, d, ok = want[0].Path, want[0].Digest, true
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not listed in %s: %w", g.Path, sumFile, ErrChecksum))
			continue
		}
		matched[name] = true
		if d != g.Digest {
			errs = append(errs, fmt.Errorf("%s: its bytes hash to %s, but %s lists %s: the file changed after export (copy it again): %w",
				g.Path, g.Digest.Encoded(), sumFile, d.Encoded(), ErrChecksum))
		}
	}
	for _, w := range want {
		if !matched[w.Path] {
			errs = append(errs, fmt.Errorf("%s lists %s, which was not read (a missing part?): %w", sumFile, w.Path, ErrChecksum))
		}
	}
	return errs
}

// splitErrors returns the errors err joins (errors.Join), or err alone.
func splitErrors(err error) []error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return joined.Unwrap()
	}
	return []error{err}
}
