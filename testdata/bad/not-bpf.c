/* not-bpf.c: compiled with gcc -c into not-bpf.o, an x86-64 ELF object that is not BPF. */
int not_bpf(int x)
{
	return x * 2 + 1;
}
