// Package atomicfile writes a file so that readers see either the old or the new content, never a
// part: temp file in the same directory, write, fsync, rename, fsync the directory (Write,
// WriteFile). Publish does the last two steps for a temp file written elsewhere on the same file
// system, optionally refusing to replace an existing file (content-addressed blobs).
//
// A temp file whose writer may be killed is created with CreateLocked: its writer holds a flock
// on it until it is renamed or removed, so that RemoveIfDead can tell a dead writer's leftover
// (the kernel dropped the flock) from a live writer's file, and remove only the former.
//
// The *At functions (OpenDirAt, MkdirAt, CreateLockedAt, MkdirLockedAt, PublishAt,
// RemoveIfDeadAt, RemoveAllAt) do the same relative to folders held open, one name at a time and
// never following a symlink, so that a caller confines its writes below a root it opened once.
//
// It returns the os and io/fs errors it meets, wrapped with the path; Publish's refusal wraps
// fs.ErrExist.
package atomicfile
