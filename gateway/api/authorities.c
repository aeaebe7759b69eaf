/*
 * authorities.c - /api/v1/authorities: the outside organisations (a police
 * unit, a regulator) that grants give access to. An authority that grants
 * still refer to cannot be deleted (409); its history stays in the audit
 * log either way.
 */
#include "api.h"
#include "validate.h"

static const struct crud_resource authority_res = {
	.table = "authorities", .noun = "authority", .json_sql = "api_authority_json(r)",
	.sync_model = true,
};

static void
authorities_list(struct api_call *call)
{
	crud_list(call, &authority_res);
}

static void
authority_get(struct api_call *call)
{
	crud_get(call, &authority_res);
}

static void
authority_write(struct api_call *call, bool create)
{
	struct field_set fs;
	struct valid_error err;

	if (valid_fields(call->body, authority_fields, nauthority_fields, create, &fs, &err) < 0) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	crud_write(call, &authority_res, &fs, create);
	field_set_free(&fs);
}

static void
authority_create(struct api_call *call)
{
	authority_write(call, true);
}

static void
authority_update(struct api_call *call)
{
	authority_write(call, false);
}

static void
authority_delete(struct api_call *call)
{
	crud_delete(call, &authority_res);
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "authorities", ROLES_ANY, BODY_NONE, authorities_list, NULL },
	{ "POST", API_PREFIX "authorities", ROLE_ADMIN, BODY_JSON, authority_create, "authority.create" },
	{ "GET", API_PREFIX "authorities/{id}", ROLES_ANY, BODY_NONE, authority_get, NULL },
	{ "PATCH", API_PREFIX "authorities/{id}", ROLE_ADMIN, BODY_JSON, authority_update,
	  "authority.update" },
	{ "DELETE", API_PREFIX "authorities/{id}", ROLE_ADMIN, BODY_NONE, authority_delete,
	  "authority.delete" },
};

void
authorities_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
