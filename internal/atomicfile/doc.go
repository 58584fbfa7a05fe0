// Package atomicfile writes a file so that readers see either the old or the new content, never a
// part: temp file in the same directory, write, fsync, rename, fsync the directory.
package atomicfile
