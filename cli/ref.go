package cli

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/layout"
	"github.com/gadgetpack/gadgetpack/spec"
)

// resolveRef finds a user's REF in a layout: first as ig expands it (full reference), then as
// typed, which finds the bare tags other tools write and digests. It returns the descriptor
// and the name that matched.
func resolveRef(ctx context.Context, store *layout.Store, ref string) (ocispec.Descriptor, string, error) {
	var names []string
	if full, err := spec.ExpandRef(ref); err == nil {
		names = append(names, full)
	}
	if len(names) == 0 || names[0] != ref {
		names = append(names, ref)
	}
	for _, name := range names {
		desc, err := store.Resolve(ctx, name)
		if err == nil {
			return desc, name, nil
		}
		if !errors.Is(err, layout.ErrNotFound) {
			return ocispec.Descriptor{}, "", err
		}
	}
	if len(names) > 1 {
		return ocispec.Descriptor{}, "", fmt.Errorf("ref %s (%s) in %s: %w", ref, names[0], store.Path(), layout.ErrNotFound)
	}
	return ocispec.Descriptor{}, "", fmt.Errorf("ref %s in %s: %w", ref, store.Path(), layout.ErrNotFound)
}

// entriesFor returns the index.json entries that REF arguments name (resolveRef each), or every
// named entry of the layout when there are none, for the commands that carry refs elsewhere.
func entriesFor(ctx context.Context, store *layout.Store, refs []string) ([]ocispec.Descriptor, error) {
	if len(refs) == 0 {
		all, err := store.Refs(ctx)
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("layout %s holds no ref: %w", store.Path(), layout.ErrNotFound)
		}
		return all, nil
	}
	out := make([]ocispec.Descriptor, 0, len(refs))
	for _, r := range refs {
		desc, _, err := resolveRef(ctx, store, r)
		if err != nil {
			return nil, err
		}
		out = append(out, desc)
	}
	return out, nil
}
