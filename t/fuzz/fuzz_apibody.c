/*
 * fuzz_apibody.c - libFuzzer target for the JSON body checks of the REST
 * API (gateway/api/validate.c). The first byte picks the document (camera,
 * site, authority, admin create or update, grant, extension, reason,
 * login, export), the rest is parsed as the handlers parse it and checked.
 */
#include "vssgate_build.h"

#include "gateway/api/api.h"
#include "gateway/api/validate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795000000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fields(json_t *doc, const struct field_spec *specs, size_t n, bool create)
{
	struct field_set fs;
	struct valid_error err;

	if (valid_fields(doc, specs, n, create, &fs, &err) == 0) {
		for (int i = 0; i < fs.n; i++)
			if (fs.v[i].spec == NULL)
				__builtin_trap();
		field_set_free(&fs);
	}
}

static void
grant(json_t *doc)
{
	static const struct grant_limits lim = { NOW, 30LL * 86400000000LL, 4LL * 3600000000LL };
	struct grant_doc g;
	struct valid_error err;
	char *poly;

	if (valid_grant(doc, &lim, &g, &err) == 0) {
		if (g.levels == 0 || g.reason == NULL || strlen(g.levels_sql) < 3)
			__builtin_trap();
		poly = grant_polygon_json(&g);
		free(poly);
	}
	grant_doc_free(&g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct valid_error err;
	struct extend_doc e;
	const char *u, *p;
	json_t *doc;

	if (size < 1)
		return 0;
	doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return 0;
	}
	switch (data[0] % 10) {
	case 0: fields(doc, camera_fields, ncamera_fields, data[0] & 0x10); break;
	case 1: fields(doc, site_fields, nsite_fields, data[0] & 0x10); break;
	case 2: fields(doc, authority_fields, nauthority_fields, data[0] & 0x10); break;
	case 3: fields(doc, admin_fields, nadmin_fields, data[0] & 0x10); break;
	case 4: grant(doc); break;
	case 5:
		if (valid_extend(doc, NOW, &e, &err) == 0)
			extend_doc_free(&e);
		break;
	case 6: (void)valid_reason(doc, data[0] & 0x10, &err); break;
	case 7: (void)valid_login(doc, &u, &p, &err); break;
	case 8: {
		struct export_doc x;

		if (valid_export(doc, data[0] & 0x10, &x, &err) == 0 &&
		    (x.ncameras < 1 || x.until_us <= x.from_us || x.reason == NULL))
			__builtin_trap();
		export_doc_free(&x);
		break;
	}
	default: {
		const char *s = json_string_value(json_object_get(doc, "t"));
		int64_t us;
		char *a, *b, *c;

		if (s != NULL) {
			(void)valid_time(s, &us);
			if (valid_split_userinfo(s, &a, &b, &c) == 0) {
				free(a), free(b), free(c);
			}
			free(valid_redact_uri(s));
		}
	}
	}
	json_decref(doc);
	return 0;
}
