package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// A stage's Commit publishes each staged blob by a rename from the stage folder into
// blobs/<alg>/: a renameat2 per blob, 80,000 of them for 20,000 small images, which costs more
// than writing the blobs. Where the layout has no blobs/sha256 yet (a new layout: Commit then
// makes it without that folder) and every staged blob is sha256, the stage folder, whose files
// are named as blobs/sha256 names them (stagedName), becomes blobs/sha256 by one rename that
// replaces nothing (RENAME_NOREPLACE): readers see no blob, then every blob, each complete and
// durable (syncfs made the folder and its files durable before). A writer that made
// blobs/sha256 meanwhile makes the rename fail, and Commit renames each blob instead. A copy or
// import of one ref (syncEach's few fsyncs, which do not make the folder's entries durable)
// renames each blob.

// mayMove reports whether the stage folder may become blobs/sha256 at Commit: more blobs than
// syncEachMax (syncfs makes them durable), each sha256, and no stray file of a failed Push in
// the folder.
func (st *Stage) mayMove(order []digest.Digest) bool {
	st.mu.Lock()
	stray := st.stray
	st.mu.Unlock()
	if stray || len(order) <= syncEachMax {
		return false
	}
	for _, d := range order {
		if d.Algorithm() != digest.SHA256 || checkDigest(d) != nil {
			return false
		}
	}
	return true
}

// prepareMove returns blobs/ below root, held open, when it has no sha256 entry: the stage
// folder dir may then become blobs/sha256 once durable. It gives dir the permission bits of
// blobs/ first (a stage folder is made private, 0700), so that syncfs makes them durable with
// the rest. It returns nil, and no error, when blobs/sha256 exists.
func (st *Stage) prepareMove(root, dir *os.File) (*os.File, error) {
	blobs, _, err := openFolder(root, BlobsDir, true)
	if err != nil {
		return nil, err
	}
	_, err = atomicfile.LstatAt(blobs, string(digest.SHA256))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		_ = blobs.Close()
		if err == nil {
			return nil, nil // there already: each blob goes into it
		}
		return nil, fmt.Errorf("layout %s: %w", st.s.root, err)
	}
	var bst unix.Stat_t
	err = ignoringEINTR(func() error { return unix.Fstat(int(blobs.Fd()), &bst) })
	if err == nil {
		err = ignoringEINTR(func() error { return unix.Fchmod(int(dir.Fd()), bst.Mode&0o777) })
	}
	if err != nil {
		_ = blobs.Close()
		return nil, fmt.Errorf("layout %s: %s: %w", st.s.root, BlobsDir, err)
	}
	return blobs, nil
}

// moveFolder renames the stage folder, durable already, to blobs/sha256 in blobs (held open)
// without replacing anything, and fsyncs blobs. It reports false, and no error, when the rename
// fails (a blobs/sha256 that another writer made meanwhile, or a file system that cannot
// rename a folder so): nothing moved then, and each blob is to be renamed.
func (st *Stage) moveFolder(blobs *os.File) (bool, error) {
	countRename()
	if err := atomicfile.MoveAt(st.tmp, st.name, blobs, string(digest.SHA256), false); err != nil {
		return false, nil
	}
	st.mu.Lock()
	st.moved = true
	st.mu.Unlock()
	if err := syncFile(blobs); err != nil {
		return true, fmt.Errorf("layout %s: %s: %w", st.s.root, BlobsDir, err)
	}
	return true, nil
}

// publishRenames, when a test sets it, counts the renames Commit makes to publish staged blobs:
// one per blob, or one of the whole stage folder.
var publishRenames *atomic.Int64

// countRename counts one rename of Commit (publishRenames).
func countRename() {
	if publishRenames != nil {
		publishRenames.Add(1)
	}
}
