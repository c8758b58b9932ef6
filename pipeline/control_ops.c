/* The control endpoint's view of the real supervisor (control.h csd_control_ops): thin casts
 * onto supervisor.h, compiled into camstreamd only (the unit tests use fake streams). */
#include "control.h"
#include "supervisor.h"

static int ops_n_streams(void *sup)
{
    return csd_supervisor_n_streams(sup);
}

static int ops_find(void *sup, const char *name)
{
    return csd_supervisor_find(sup, name);
}

static void ops_stream_status(void *sup, int i, Camstream__V1__StreamStatus *out)
{
    csd_supervisor_stream_status(sup, i, out);
}

static const csd_stream *ops_stream(void *sup, int i)
{
    return csd_supervisor_stream(sup, i);
}

static const char *ops_origin(void *sup, int i)
{
    return csd_supervisor_stream_origin(sup, i);
}

static char *ops_launch(void *sup, int i)
{
    const csd_stream *s = csd_supervisor_stream(sup, i);
    return s ? csd_stream_launch(csd_supervisor_config(sup), s) : NULL;
}

static int ops_add(void *sup, const char *text, csd_error *err)
{
    return csd_supervisor_add(sup, text, err);
}

static int ops_remove(void *sup, const char *name, csd_error *err)
{
    return csd_supervisor_remove(sup, name, err);
}

static int ops_reload(void *sup, char *summary, size_t len, csd_error *err)
{
    return csd_supervisor_reload(sup, summary, len, err);
}

const csd_control_ops *csd_control_supervisor_ops(void)
{
    static const csd_control_ops ops = {ops_n_streams, ops_find,   ops_stream_status,
                                        ops_stream,    ops_origin, ops_launch,
                                        ops_add,       ops_remove, ops_reload};
    return &ops;
}
