package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/gadgetpack/gadgetpack/internal/strictjson"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Names in a layout's root.
const (
	// LayoutFile is the file that marks an OCI image layout.
	LayoutFile = ocispec.ImageLayoutFile
	// IndexFile is the layout's image index.
	IndexFile = ocispec.ImageIndexFile
	// BlobsDir holds the blobs, one folder per digest algorithm.
	BlobsDir = ocispec.ImageBlobsDir
	// TempDir holds the temp files of gadgetpack's blob writers (see CleanTemp).
	TempDir = ".gadgetpack-tmp"
)

// Size caps of the small files this package reads whole.
const (
	// MaxLayoutFileBytes caps the oci-layout file.
	MaxLayoutFileBytes = 64 << 10
	// MaxIndexBytes caps index.json.
	MaxIndexBytes = 32 << 20
	// MaxJSONBytes caps a manifest, an index or a JSON config blob, as registries cap manifests.
	MaxJSONBytes = 4 << 20
)

// layoutFileContent is what Init writes into oci-layout.
var layoutFileContent = []byte(`{"imageLayoutVersion":"1.0.0"}`)

// emptyIndexContent is what Init writes into a new index.json.
var emptyIndexContent = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)

// Store is one OCI image layout on disk. It holds no open file and no state beyond its path and
// the last index.json it parsed (used again only while the file is unchanged): every method
// reads the layout afresh, a Store is safe for concurrent use by many goroutines,
// and several processes (gadgetpack or ig) may use one layout at once. Blob writes (Push,
// WriteBlob) and index edits (Tag, Untag) are separate steps; only the latter take the lock.
type Store struct {
	root string
	// index is the last index.json a reader parsed, with the identity of the file it read:
	// the next reader parses it again only when the file changed (see readIndexFile).
	index atomic.Pointer[indexSnapshot]
}

// Open returns the Store of the existing layout at path. It checks that path is a directory
// (or a symlink to one) with an oci-layout file of imageLayoutVersion 1.0.0 and a blobs
// directory, that blobs/, its digest algorithm folders and TempDir are real folders (no
// symlink below the root, see checkFolders), and returns ErrNotLayout otherwise, naming what
// is wrong; a non-regular oci-layout is ErrNotRegular too. Open writes nothing and takes no lock, so it works on read-only media;
// it neither reads index.json (Index does) nor cleans temp files (CleanTemp and gc do).
func Open(path string) (*Store, error) {
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("layout %s: no such directory: %w", path, ErrNotLayout)
		}
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("layout %s: not a directory: %w", path, ErrNotLayout)
	}
	if err := checkLayoutFile(root); err != nil {
		return nil, err
	}
	if err := checkFolders(root, true); err != nil {
		return nil, err
	}
	return &Store{root: root}, nil
}

// Init returns the Store of the layout at path, creating what is missing: the directory, an
// oci-layout file of version 1.0.0, an empty index.json and blobs/sha256, each made durable
// (written to a temp file, fsynced, renamed, directories fsynced). Files that exist are kept
// as they are. It holds the index lock while it writes, waiting for it without a deadline.
// It returns ErrNotLayout when an existing oci-layout names another version or path holds a
// file where a directory belongs, and, before writing anything, when a folder below path is a
// symlink (see checkFolders); blobs/sha256 is made without following one.
func Init(path string) (*Store, error) {
	return initLayout(path, true)
}

// initLayout is Init, which makes blobs/sha256 only with algFolder: a stage's Commit makes its
// own folder blobs/sha256 (stage.go's moveFolder).
func initLayout(path string, algFolder bool) (*Store, error) {
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	if err := mkdirDurable(root); err != nil {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	l, err := lockBlocking(filepath.Join(root, LockFile))
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	defer func() { _ = l.unlock() }()
	if err := checkFolders(root, false); err != nil {
		return nil, err // before anything is written into it
	}

	lf := filepath.Join(root, LayoutFile)
	if err := atomicfile.WriteNew(lf, bytes.NewReader(layoutFileContent), 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	if err := checkLayoutFile(root); err != nil {
		return nil, err
	}
	s := &Store{root: root}
	if err := atomicfile.WriteNew(filepath.Join(root, IndexFile), bytes.NewReader(emptyIndexContent), 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	alg := ""
	if algFolder {
		alg = "sha256"
	}
	if err := s.mkdirBlobs(alg); err != nil {
		return nil, err
	}
	// The lock file and anything the steps above created in root.
	if err := atomicfile.SyncDir(root); err != nil {
		return nil, fmt.Errorf("layout %s: %w", path, err)
	}
	return s, nil
}

// Path returns the absolute path of the layout's root.
func (s *Store) Path() string { return s.root }

// mkdirDurable creates dir and its missing parents, each new one fsynced into its parent. It
// fails when dir exists as a non-directory.
func mkdirDurable(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory: %w", dir, ErrNotLayout)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return atomicfile.SyncDir(parent)
}

// lockBlocking takes the exclusive index lock with a blocking flock(2), for Init, which has no
// context.
func lockBlocking(path string) (*fileLock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Flock(f, unix.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &fileLock{f: f}, nil
}

// checkLayoutFile returns nil when root/oci-layout is a regular file holding a JSON object with
// imageLayoutVersion "1.0.0", else an error wrapping ErrNotLayout.
func checkLayoutFile(root string) error {
	path := filepath.Join(root, LayoutFile)
	data, err := readSmallFile(path, MaxLayoutFileBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("layout %s: no %s file: %w", root, LayoutFile, ErrNotLayout)
		}
		return fmt.Errorf("layout %s: %w: %w", root, err, ErrNotLayout)
	}
	return parseLayoutFile(root, data)
}

// parseLayoutFile checks the content of an oci-layout file.
func parseLayoutFile(root string, data []byte) error {
	var lf struct {
		Version *string `json:"imageLayoutVersion"`
	}
	if err := strictjson.Check(data, strictjson.LayoutFile); err != nil {
		return fmt.Errorf("layout %s: %s: %w: %w", root, LayoutFile, err, ErrNotLayout)
	}
	if err := json.Unmarshal(data, &lf); err != nil || !isJSONObject(data) {
		return fmt.Errorf("layout %s: %s is not a JSON object: %w", root, LayoutFile, ErrNotLayout)
	}
	switch {
	case lf.Version == nil:
		return fmt.Errorf("layout %s: %s has no imageLayoutVersion: %w", root, LayoutFile, ErrNotLayout)
	case *lf.Version != ocispec.ImageLayoutVersion:
		return fmt.Errorf("layout %s: %s: imageLayoutVersion %q, want %q: %w", root, LayoutFile, *lf.Version, ocispec.ImageLayoutVersion, ErrNotLayout)
	}
	return nil
}

// readSmallFile reads the regular file at path, a file of a layout's root (never through a
// symlink, never blocking on a FIFO or a device: see openRegular), refusing more than max
// bytes with ErrTooLarge. It returns ErrNotRegular, naming the file and what it is, for
// anything but a regular file. Its messages name the file by its base name ("index.json is a
// FIFO"): callers name the layout.
func readSmallFile(path string, max int64) (data []byte, err error) {
	name := filepath.Base(path)
	f, fi, err := openRegular(path, name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return readAllCapped(f, name, fi.Size(), max)
}

// readAllCapped reads the open file f, named name, of size bytes as fstat said, whole: at most
// max bytes, ErrTooLarge past them.
func readAllCapped(f *os.File, name string, size, max int64) ([]byte, error) {
	if size > max {
		return nil, fmt.Errorf("%s: %d bytes, cap %d: %w", name, size, max, ErrTooLarge)
	}
	// Read into room for what fstat said (and bytes.MinRead more, so that the end of the file
	// needs no second buffer): io.ReadAll would grow its buffer from 512 bytes, copying an
	// index.json of 20,000 refs (6.5 MB) a dozen times.
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data := buf.Bytes()
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: over %d bytes: %w", name, max, ErrTooLarge)
	}
	return data, nil
}

// isJSONObject reports whether data's first non-space byte opens a JSON object.
func isJSONObject(data []byte) bool {
	i := firstNonSpace(data)
	return i >= 0 && data[i] == '{'
}
