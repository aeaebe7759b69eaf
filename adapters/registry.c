/*
 * registry.c - the kinds of source this build knows, by the name stored in
 * cameras.adapter. Adding a kind is one ops table and one line here.
 */
#include "vssgate_build.h"
#include "adapters/adapter.h"

#include <stddef.h>
#include <string.h>

extern const struct adapter_ops rtsp_adapter_ops;
extern const struct adapter_ops rtsp_udp_adapter_ops;
extern const struct adapter_ops ffmpeg_adapter_ops;

static const struct adapter_ops *const registry[] = {
	&rtsp_adapter_ops,		/* RTSP camera or VMS, RTP interleaved over TCP */
	&rtsp_udp_adapter_ops,		/* the same, RTP over UDP */
	&ffmpeg_adapter_ops,		/* anything libavformat opens */
};

void ff_adapter_global_init(void);

void
adapters_init(void)
{
	ff_adapter_global_init();
}

const struct adapter_ops *
adapter_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const char *
adapter_names(void)
{
	return "rtsp, rtsp_udp, ffmpeg";
}
