package btf

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// synthKernels returns small kernel BTFs built for corner cases bpftool and Minimize must
// agree on: a pre-5.14 task_struct (the ___old flavour matches, ___new does not), a kernel
// with two incompatible task_structs and one with two callback_heads (ambiguity: both refuse),
// flavoured enums, a member reached through a forward declaration, and a type tag behind a
// pointer that type_matches marking reaches (bpftool's "unsupported kind": both refuse).
func synthKernels(tb testing.TB) []testKernel {
	tb.Helper()
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u64 := &btf.Int{Name: "long unsigned int", Size: 8}
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	u8 := &btf.Typedef{Name: "__u8", Type: &btf.Int{Name: "unsigned char", Size: 1}}
	pidT := &btf.Typedef{Name: "pid_t", Type: i32}
	lh := &btf.Struct{Name: "list_head", Size: 16}
	lh.Members = []btf.Member{{Name: "next", Type: &btf.Pointer{Target: lh}}, {Name: "prev", Type: &btf.Pointer{Target: lh}, Offset: 64}}
	cb := &btf.Struct{Name: "callback_head", Size: 16}
	cbProto := &btf.FuncProto{Return: &btf.Void{}, Params: []btf.FuncParam{{Type: &btf.Pointer{Target: cb}}}}
	cb.Members = []btf.Member{{Name: "next", Type: &btf.Pointer{Target: cb}}, {Name: "func", Type: &btf.Pointer{Target: cbProto}, Offset: 64}}
	auxv := &btf.Struct{Size: 40, Members: []btf.Member{
		{Name: "saved_auxv", Type: &btf.Array{Index: i32, Type: u64, Nelems: 4}},
		{Name: "start_stack", Type: u64, Offset: 256}}}
	mm := &btf.Struct{Name: "mm_struct", Size: 40, Members: []btf.Member{{Type: auxv}}}
	task := func(tgidOff btf.Bits) *btf.Struct {
		ts := &btf.Struct{Name: "task_struct", Size: 128}
		ts.Members = []btf.Member{
			{Name: "state", Type: &btf.Volatile{Type: long}},
			{Name: "flags", Type: u32, Offset: 64},
			{Name: "pid", Type: pidT, Offset: 96},
			{Name: "tgid", Type: pidT, Offset: tgidOff},
			{Name: "sched_reset_on_fork", Type: u32, Offset: 160, BitfieldSize: 1},
			{Name: "real_parent", Type: &btf.Pointer{Target: ts}, Offset: 192},
			{Name: "children", Type: lh, Offset: 256},
			{Name: "comm", Type: &btf.Array{Index: i32, Type: char, Nelems: 16}, Offset: 384},
			{Name: "mm", Type: &btf.Pointer{Target: mm}, Offset: 512},
		}
		return ts
	}
	dev := &btf.Fwd{Name: "net_device", Kind: btf.FwdStruct}
	skb := &btf.Struct{Name: "sk_buff", Size: 64, Members: []btf.Member{
		{Type: &btf.Union{Size: 16, Members: []btf.Member{{Type: &btf.Struct{Size: 16, Members: []btf.Member{
			{Name: "next", Type: &btf.Pointer{Target: &btf.Void{}}},
			{Name: "dev", Type: &btf.Pointer{Target: dev}, Offset: 64}}}}}}},
		{Name: "len", Type: u32, Offset: 128},
		{Name: "cloned", Type: u8, Offset: 160, BitfieldSize: 1},
		{Name: "pkt_type", Type: u8, Offset: 161, BitfieldSize: 3},
		{Name: "cb", Type: &btf.Array{Index: i32, Type: char, Nelems: 48}, Offset: 192},
	}}
	pidType := &btf.Enum{Name: "pid_type", Size: 4, Values: []btf.EnumValue{{Name: "PIDTYPE_PID"}, {Name: "PIDTYPE_TGID", Value: 1}, {Name: "PIDTYPE_SID", Value: 3}}}
	pidTypeFlavour := &btf.Enum{Name: "pid_type___x", Size: 4, Values: []btf.EnumValue{{Name: "PIDTYPE_TGID", Value: 5}}}
	rcu := &btf.Typedef{Name: "rcu_callback_t", Type: &btf.Pointer{Target: cbProto}}

	cred := &btf.Struct{Name: "cred", Size: 8, Members: []btf.Member{{Name: "uid", Type: u32}}}
	file := &btf.Struct{Name: "file", Size: 16, Members: []btf.Member{
		{Name: "f_flags", Type: u32},
		{Name: "f_cred", Type: &btf.Pointer{Target: &btf.TypeTag{Value: "rcu", Type: &btf.Const{Type: cred}}}, Offset: 64}}}

	build := func(name string, types ...btf.Type) testKernel {
		b, err := btf.NewBuilder(types, nil)
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := b.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
		if err != nil {
			tb.Fatal(err)
		}
		return testKernel{name: "synthetic/" + name, data: raw}
	}
	return []testKernel{
		build("old-layout", task(128), skb, cb, rcu, pidType, long, u64),
		build("ambiguous", task(128), task(64), pidType, pidTypeFlavour, cb),
		build("two-callback-heads", cb, &btf.Struct{Name: "callback_head", Size: 16}, lh),
		build("enum-flavours", pidTypeFlavour, pidType, skb, mm),
		build("type-tag", file, task(128), cb),
	}
}
