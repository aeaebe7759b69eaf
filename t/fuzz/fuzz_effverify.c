/*
 * fuzz_effverify.c - the EFF verifier (gateway/export/eff_verify.h) on any
 * bytes, read through its callback from memory: it must end, never read
 * outside the input, and every offset it reports must lie in the input
 * (or just past its end, for "the file ends here").
 */
#include "gateway/export/eff_verify.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

struct mem {
	const uint8_t *p;
	size_t n;
};

static int
mem_read(void *arg, uint64_t pos, void *out, size_t len)
{
	const struct mem *m = arg;

	if (pos > m->n || len > m->n - pos)
		abort();		/* the verifier asked for bytes the file does not have */
	memcpy(out, m->p + pos, len);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct eff_vreport rep;
	struct mem m = { d, n };
	struct eff_vreader r = { .read = mem_read, .arg = &m, .size = n };
	int rc = eff_verify(&r, NULL, &rep);

	if (rc < -1 || rc > 1 || rep.nfind > EFF_V_MAX_FINDINGS || rep.ngaps > EFF_V_MAX_GAPS ||
	    rep.nsigners > EFF_MAX_SIGNERS || rep.ntracks > MP4_MAX_TRACKS)
		abort();
	if (rc == 0 && (rep.nsigners == 0 || !rep.signatures_ok))
		abort();		/* "verified" needs a valid signature */
	for (int i = 0; i < rep.nfind; i++)
		if (rep.find[i].offset > n)
			abort();
	return 0;
}
