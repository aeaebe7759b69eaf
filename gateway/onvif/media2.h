/*
 * media2.h - what media2.c, media2_osd.c and media1.c share.
 */
#ifndef GW_ONVIF_MEDIA2_H
#define GW_ONVIF_MEDIA2_H

#include "onvif.h"

/* Answer with an empty element <tag/>. */
void m2_empty_reply(struct onvif_req *r, const char *tag);
/* A configuration token of a camera in the view, of a kind the principal may see; or NULL. */
const struct view_cam *m2_resolve_cfg(const struct onvif_view *v, const char *token,
    enum cfg_kind *kind);
bool m2_has_level2(const struct onvif_view *v);
/* The profile of ProfileToken with a camera and configurations; NULL after a fault. */
const struct view_cam *m2_stream_profile(struct onvif_req *r, const struct onvif_view *v,
    const struct authority_store *st, struct onvif_profile *p);
void m2_sync_point(int64_t camera_id);
/* The profile's stream or snapshot URI into |uri|; false after a fault. */
bool m2_stream_uri(struct onvif_req *r, const struct view_cam *vc, enum stream_proto proto, char *uri,
    size_t len);
bool m2_snapshot_uri(struct onvif_req *r, const struct view_cam *vc, const struct onvif_profile *p, char *uri,
    size_t len);

/* Operations shared with the Media v1 facade. */
void m2_set_sync_point(struct onvif_req *r);

/* multicast.c */
void m2_start_multicast(struct onvif_req *r);
void m2_stop_multicast(struct onvif_req *r);
void onvif_mcast_profile_deleted(int64_t authority_id, const char *token);
void onvif_mcast_shutdown(void);	/* end every started multicast and its session */

/* media2_osd.c */
void m2_get_video_source_modes(struct onvif_req *r);
void m2_set_video_source_mode(struct onvif_req *r);
void m2_get_osds(struct onvif_req *r);
void m2_get_osd_options(struct onvif_req *r);
void m2_create_osd(struct onvif_req *r);
void m2_set_osd(struct onvif_req *r);
void m2_delete_osd(struct onvif_req *r);
void m2_get_masks(struct onvif_req *r);
void m2_get_mask_options(struct onvif_req *r);
void m2_create_mask(struct onvif_req *r);
void m2_set_mask(struct onvif_req *r);
void m2_delete_mask(struct onvif_req *r);

#endif
