/* libgstcamstream: the plugin. Registers every element that was compiled in (elements/meson.build
 * defines HAVE_<NAME> for each present element file), so a partial build still loads. */
#include "gstcs_config.h"

#include <gst/gst.h>

#ifdef HAVE_CSNORMALIZE
GST_ELEMENT_REGISTER_DECLARE(csnormalize);
#endif
#ifdef HAVE_CSINFER
GST_ELEMENT_REGISTER_DECLARE(csinfer);
#endif
#ifdef HAVE_CSLOCALIZE
GST_ELEMENT_REGISTER_DECLARE(cslocalize);
#endif
#ifdef HAVE_CSOVERLAY
GST_ELEMENT_REGISTER_DECLARE(csoverlay);
#endif
#ifdef HAVE_CSPUBLISH
GST_ELEMENT_REGISTER_DECLARE(cspublish);
#endif

static gboolean plugin_init(GstPlugin *plugin)
{
    gboolean ok = TRUE;
#ifdef HAVE_CSNORMALIZE
    ok &= GST_ELEMENT_REGISTER(csnormalize, plugin);
#endif
#ifdef HAVE_CSINFER
    ok &= GST_ELEMENT_REGISTER(csinfer, plugin);
#endif
#ifdef HAVE_CSLOCALIZE
    ok &= GST_ELEMENT_REGISTER(cslocalize, plugin);
#endif
#ifdef HAVE_CSOVERLAY
    ok &= GST_ELEMENT_REGISTER(csoverlay, plugin);
#endif
#ifdef HAVE_CSPUBLISH
    ok &= GST_ELEMENT_REGISTER(cspublish, plugin);
#endif
    return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, camstream,
                  "camstream: CNN inference, explanations, localization, overlays and publishing "
                  "on live video",
                  plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
