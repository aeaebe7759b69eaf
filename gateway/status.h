/* status.h - /healthz: is this node able to serve, and what does it hold. */
#ifndef GW_STATUS_H
#define GW_STATUS_H

void status_init(void);
/* The schema version read from the database at start-up (0 until then). */
void status_set_schema_version(int version);
/* One line for the log: listeners, database, model. */
void status_log_ready(void);

#endif
