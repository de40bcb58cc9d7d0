/* {{name}}: a Sandkit input. Each body posted to /v1/input/{{name}} becomes points. */
#include "sandkit.h"

SK_PLUGIN("{{name}}", "0.1.0", "the size of each body");

int sk_handle(sk_str content_type, sk_bytes body) {
    sk_point *p = sk_point_new("{{name}}");
    sk_tag(p, "content_type", content_type.len ? content_type.ptr : "none");
    sk_int(p, "bytes", (int64_t)body.len);
    sk_emit(p);
    return SK_OK;
}
