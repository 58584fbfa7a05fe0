// Package testfs holds the file-tree helpers that tests of several packages share: the path of
// a fixture in ../shared beside the repository, a copy of a tree, and a digest of a whole tree
// to tell whether a command changed anything on disk. It is for tests only.
package testfs
