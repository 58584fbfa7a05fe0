package btf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

// oldKernelSet is one object set run against the old kernels: a name and its object paths.
type oldKernelSet struct {
	name  string
	paths []string
}

// oldKernelSets returns every test object alone, all of them together, and all but the
// ambiguous one together (which every kernel accepts).
func oldKernelSets(tb testing.TB) []oldKernelSet {
	tb.Helper()
	paths := testObjectPaths(tb)
	var sets []oldKernelSet
	var unambiguous []string
	for _, p := range paths {
		sets = append(sets, oldKernelSet{name: p, paths: []string{p}})
		if !strings.Contains(p, "core_ambiguous") {
			unambiguous = append(unambiguous, p)
		}
	}
	if len(unambiguous) == len(paths) {
		tb.Fatal("testdata/core_ambiguous.bpf.o is missing")
	}
	return append(sets, oldKernelSet{"all", paths}, oldKernelSet{"all but core_ambiguous", unambiguous})
}

// bpftoolResult is bpftool gen min_core_btf's output for one kernel and set, or its refusal.
type bpftoolResult struct {
	out []byte
	err string // bpftool's last line of stderr when it refused
}

// bpftoolOverKernels runs bpftool for every kernel x set, two at a time, with the kernels
// decompressed into dir. It returns results[kernel rel][set name].
func bpftoolOverKernels(tb testing.TB, bpftool, dir string, kernels []kernelEntry, sets []oldKernelSet) map[string]map[string]bpftoolResult {
	tb.Helper()
	type job struct {
		k   kernelEntry
		set oldKernelSet
		in  string
	}
	var jobs []job
	for i, k := range kernels {
		data, err := readKernelAlone(context.Background(), newDecompressor(true), k)
		if err != nil {
			tb.Fatalf("%s: %v", k.rel, err)
		}
		in := filepath.Join(dir, fmt.Sprintf("k%d.btf", i))
		if err := os.WriteFile(in, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		for _, s := range sets {
			jobs = append(jobs, job{k, s, in})
		}
	}
	results := map[string]map[string]bpftoolResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				out := filepath.Join(dir, fmt.Sprintf("out%d.btf", i))
				cmd := exec.Command(bpftool, append([]string{"gen", "min_core_btf", j.in, out}, j.set.paths...)...)
				msg, err := cmd.CombinedOutput()
				var r bpftoolResult
				if err != nil {
					lines := strings.Split(strings.TrimSpace(string(msg)), "\n")
					r.err = lines[len(lines)-1]
					if len(lines) > 1 {
						r.err = lines[len(lines)-2] + " / " + r.err
					}
				} else if r.out, err = os.ReadFile(out); err != nil {
					r.err = err.Error()
				}
				_ = os.Remove(out)
				mu.Lock()
				if results[j.k.rel] == nil {
					results[j.k.rel] = map[string]bpftoolResult{}
				}
				results[j.k.rel][j.set.name] = r
				mu.Unlock()
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// TestOldKernelsMatchBpftool runs the real old vendor kernels of ../shared/kernels (CentOS 8's
// never deduplicated 4.18, Kylin V10's 4.19 without FUNC records, two Android GKI 5.10) against
// bpftool, byte for byte, for every test object alone, all together and all but the ambiguous
// one together: through Minimize, through GeneratePerObject (--per-object --keep-going) and
// through Generate (-o, --keep-going). Where bpftool refuses a pair (core_ambiguous's
// relocation on task_struct on CentOS and Kylin, and every set holding it), btfgen refuses
// the same pair, names the object, and writes every other pair.
func TestOldKernelsMatchBpftool(t *testing.T) {
	bpftool := testtool.Require(t, "bpftool")
	root := testfs.SharedPath(t, "kernels")
	ctx := context.Background()
	w, err := walkArchive(ctx, root, "all", nil)
	if err != nil || len(w.kernels) != 4 {
		t.Fatalf("%s: %d kernels, %v; want 4", root, len(w.kernels), err)
	}
	sets := oldKernelSets(t)
	start := time.Now()
	want := bpftoolOverKernels(t, bpftool, t.TempDir(), w.kernels, sets)
	t.Logf("bpftool: %d kernels x %d sets in %v", len(w.kernels), len(sets), time.Since(start).Round(time.Millisecond))

	refused := 0
	for _, k := range w.kernels {
		for _, s := range sets {
			if want[k.rel][s.name].err != "" {
				refused++
				if !strings.Contains(want[k.rel][s.name].err, "ambiguity") && !strings.Contains(want[k.rel][s.name].err, "recording relocations") {
					t.Errorf("%s, %s: bpftool refuses for another reason: %s", k.rel, s.name, want[k.rel][s.name].err)
				}
			}
		}
	}
	// core_ambiguous alone and "all", on CentOS and Kylin
	if refused != 4 || want["centos/8/arm64/4.18.0-147.5.1.el8_1.aarch64.btf.tar.xz"]["all"].err == "" {
		t.Fatalf("bpftool refuses %d pairs, want 4 (core_ambiguous and all, on CentOS and Kylin)", refused)
	}

	t.Run("Minimize", func(t *testing.T) {
		for _, k := range w.kernels {
			data, err := readKernelAlone(ctx, newDecompressor(true), k)
			if err != nil {
				t.Fatal(err)
			}
			kern, err := ParseKernel(data)
			if err != nil {
				t.Fatalf("%s: %v", k.rel, err)
			}
			for _, s := range sets {
				got, gerr := Minimize(kern, loadTestObjects(t, s.paths)...)
				checkPair(t, k.rel, s.name, got, gerr, want[k.rel][s.name])
			}
		}
	})

	t.Run("GeneratePerObject", func(t *testing.T) {
		var paths []string
		for _, s := range sets[:len(sets)-2] {
			paths = append(paths, s.paths[0])
		}
		bufs := make([]bytes.Buffer, len(paths))
		outs := make([]io.Writer, len(paths))
		for i := range bufs {
			outs[i] = &bufs[i]
		}
		res, err := GeneratePerObject(ctx, Options{Archive: root, Jobs: 2, KeepGoing: true}, paths, outs)
		if !errors.Is(err, ErrRelocation) || res == nil {
			t.Fatalf("GeneratePerObject = %v, %v; want the ambiguous pairs skipped", res, err)
		}
		for i, p := range paths {
			checkArchive(t, bufs[i].Bytes(), w.kernels, p, want, res, i)
		}
		if res.Pairs != 4*len(paths)-2 || len(res.Skipped) != 2 {
			t.Fatalf("%d pairs written, %d skipped; want %d and 2", res.Pairs, len(res.Skipped), 4*len(paths)-2)
		}
	})

	t.Run("Generate", func(t *testing.T) {
		for _, s := range sets[len(sets)-2:] {
			var out bytes.Buffer
			res, err := Generate(ctx, Options{Archive: root, Jobs: 2, KeepGoing: true}, s.paths, &out)
			if s.name == "all" {
				if !errors.Is(err, ErrRelocation) || !strings.Contains(err.Error(), "core_ambiguous.bpf.o") || !strings.Contains(err.Error(), "objects together") {
					t.Fatalf("%s: %v; want the object named, and the set refused as a whole", s.name, err)
				}
				for _, sk := range res.Skipped {
					if !strings.HasSuffix(sk.Object, "core_ambiguous.bpf.o") {
						t.Errorf("skip %+v does not name core_ambiguous.bpf.o", sk)
					}
				}
			} else if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			checkArchive(t, out.Bytes(), w.kernels, s.name, want, res, 0)
		}
	})
}

// checkPair compares one kernel x set result of ours with bpftool's.
func checkPair(tb testing.TB, kernel, set string, got []byte, gerr error, want bpftoolResult) {
	tb.Helper()
	switch {
	case want.err != "" && gerr != nil:
		if !errors.Is(gerr, ErrRelocation) {
			tb.Errorf("%s, %s: both refuse, but ours is not ErrRelocation: %v", kernel, set, gerr)
		}
		const ambiguity = "relocation decision ambiguity"
		if strings.Contains(want.err, ambiguity) != strings.Contains(gerr.Error(), ambiguity) {
			tb.Errorf("%s, %s: both refuse, for different reasons: bpftool: %s; ours: %v", kernel, set, want.err, gerr)
		}
	case want.err != "":
		tb.Errorf("%s, %s: bpftool refuses (%s), ours gives %d bytes", kernel, set, want.err, len(got))
	case gerr != nil:
		tb.Errorf("%s, %s: ours refuses (%v), bpftool gives %d bytes", kernel, set, gerr, len(want.out))
	case !bytes.Equal(got, want.out):
		tb.Errorf("%s, %s: ours gives %d bytes, bpftool %d: they differ", kernel, set, len(got), len(want.out))
	}
}

// checkArchive checks one output of a run: every kernel bpftool accepts for set is there with
// bpftool's bytes (under arm64 and aarch64), every kernel it refuses is missing and listed in
// res.Skipped for output.
func checkArchive(tb testing.TB, data []byte, kernels []kernelEntry, set string, want map[string]map[string]bpftoolResult, res *Result, output int) {
	tb.Helper()
	_, contents := readArchive(tb, data, "gzip")
	n := 0
	for _, k := range kernels {
		w := want[k.rel][set]
		skipped := slices.ContainsFunc(res.Skipped, func(s Skip) bool { return s.Kernel == k.rel && s.Output == output })
		for _, name := range k.entryNames() {
			got, ok := contents[name]
			switch {
			case w.err != "" && (ok || !skipped):
				tb.Errorf("%s, %s: bpftool refuses; entry written %v, skip listed %v", k.rel, set, ok, skipped)
			case w.err == "" && (!ok || skipped):
				tb.Errorf("%s, %s: bpftool accepts; entry written %v, skip listed %v", k.rel, set, ok, skipped)
			case ok && !bytes.Equal(got, w.out):
				tb.Errorf("%s, %s: entry %s differs from bpftool's output", k.rel, set, name)
			case ok:
				n++
			}
		}
	}
	if n != len(contents) || (output < len(res.Outputs) && res.Outputs[output].Entries != n) {
		tb.Errorf("%s: %d entries checked, %d in the archive, %+v in the result", set, n, len(contents), res.Outputs)
	}
}
