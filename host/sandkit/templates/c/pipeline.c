/* {{name}}: a Sandkit log pipeline. sk_process_line writes the records of one line. */
#include "sandkit.h"
#include <ctype.h>
#include <string.h>

SK_PLUGIN("{{name}}", "0.1.0", "the first word of a line as its level");

int sk_process_line(sk_records *out, sk_str line) {
    const char *space = memchr(line.ptr, ' ', line.len);
    size_t n = space ? (size_t)(space - line.ptr) : line.len;
    char *level = sk_strndup(line.ptr, n);
    for (char *c = level; *c; c++) *c = (char)tolower((unsigned char)*c);
    sk_record *r = sk_record_new(out);
    sk_rec_tag(r, "level", level);
    /* a slice of the line goes to the host as a reference into the batch: no copy */
    sk_rec_text_n(r, "msg", space ? space + 1 : line.ptr + n, space ? line.len - n - 1 : 0);
    return SK_OK;
}
