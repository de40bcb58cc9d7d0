/* {{name}}: a Sandkit collector. sk_collect runs on every tick and emits points. */
#include "sandkit.h"
#include <stdlib.h>

SK_PLUGIN("{{name}}", "0.1.0", "the load average");

int sk_collect(void) {
    sk_bytes text;
    if (sk_read_file("/proc/loadavg", &text)) return SK_ERR; /* the error names the path */
    char *s = (char *)text.ptr, *end;
    double load1 = strtod(s, &end), load5 = strtod(end, &end), load15 = strtod(end, &end);
    sk_point *p = sk_point_new("{{name}}");
    sk_float(p, "load1", load1);
    sk_float(p, "load5", load5);
    sk_float(p, "load15", load15);
    sk_emit(p);
    return SK_OK;
}
