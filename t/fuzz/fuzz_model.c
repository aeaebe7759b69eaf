/*
 * fuzz_model.c - gateway/model.c: model_from_json() on any bytes, then the
 * lookups and a decision for every camera, then model_unref().
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/model.h"
#include "gateway/policy.h"

#include <stdlib.h>
#include <string.h>

/* model.c refers to the process state that main.c defines. */
struct gw_state gw;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_GRANTS 64

static void
decide_all(const struct gw_model *m)
{
	const struct policy_grant *grants[MAX_GRANTS];
	int n = m->ngrants < MAX_GRANTS ? m->ngrants : MAX_GRANTS;

	for (int i = 0; i < n; i++)
		grants[i] = &m->grants[i].pg;
	for (int i = 0; i < m->ncameras; i++) {
		struct policy_request req = {
			.action = (enum gw_action)(i % ACT_COUNT), .now_us = 1767225600000000LL,
			.has_footage = i & 1, .footage_start_us = 1767225000000000LL,
			.footage_end_us = 1767225500000000LL,
		};

		(void)policy_decide(grants, n, &m->cameras[i].pc, &req);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256] = "";
	struct gw_model *m = model_from_json((const char *)data, size, why, sizeof(why));
	struct gw_principal p;

	if (m == NULL) {
		if (why[0] == '\0')
			abort();	/* a refusal always says why */
		return 0;
	}
	/* Credentials are sorted here, whatever the input order: each one must be found. */
	for (int i = 0; i < m->ncredentials; i++) {
		const struct model_credential *c = model_credential(m, m->credentials[i].username);

		if (c == NULL || strcmp(c->username, m->credentials[i].username) != 0)
			abort();
		(void)model_principal(m, c->username, &p);
	}
	for (int i = 0; i < m->ncameras; i++)
		(void)model_camera(m, m->cameras[i].pc.id);
	for (int i = 0; i < m->ngrants; i++)
		(void)model_grant(m, m->grants[i].pg.id);
	decide_all(m);
	model_unref(m);
	return 0;
}
