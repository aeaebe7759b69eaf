/*
 * sites.c - /api/v1/sites: groups of cameras (a station, a street). Sites
 * are read from the database; the policy model also holds them (grants may
 * be scoped to sites), so writes answer once the model has the change.
 */
#include "api.h"
#include "validate.h"

static const struct crud_resource site_res = {
	.table = "sites", .noun = "site", .json_sql = "api_site_json(r)", .sync_model = true,
};

static void
sites_list(struct api_call *call)
{
	crud_list(call, &site_res);
}

static void
site_get(struct api_call *call)
{
	crud_get(call, &site_res);
}

static void
site_write(struct api_call *call, bool create)
{
	struct field_set fs;
	struct valid_error err;

	if (valid_fields(call->body, site_fields, nsite_fields, create, &fs, &err) < 0) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	crud_write(call, &site_res, &fs, create);
	field_set_free(&fs);
}

static void
site_create(struct api_call *call)
{
	site_write(call, true);
}

static void
site_update(struct api_call *call)
{
	site_write(call, false);
}

static void
site_delete(struct api_call *call)
{
	crud_delete(call, &site_res);
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "sites", ROLES_ANY, BODY_NONE, sites_list, NULL },
	{ "POST", API_PREFIX "sites", ROLE_ADMIN, BODY_JSON, site_create, "site.create" },
	{ "GET", API_PREFIX "sites/{id}", ROLES_ANY, BODY_NONE, site_get, NULL },
	{ "PATCH", API_PREFIX "sites/{id}", ROLE_ADMIN, BODY_JSON, site_update, "site.update" },
	{ "DELETE", API_PREFIX "sites/{id}", ROLE_ADMIN, BODY_NONE, site_delete, "site.delete" },
};

void
sites_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
