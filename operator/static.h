/* static.h: the dashboard's files (dashboards/), loaded once into memory and looked up by URL path. */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include <stdbool.h>
#include <stddef.h>

/* Where "make install" puts dashboards/; the operator's --dashboard-dir default. */
#ifndef GW_DASHBOARD_DIR
#define GW_DASHBOARD_DIR "/usr/local/share/gatewatch/dashboards"
#endif

#define STATIC_FILES_MAX    64                 /* files kept from the root */
#define STATIC_FILE_MAX     (1024 * 1024)      /* bytes per file */
#define STATIC_TOTAL_MAX    (8 * 1024 * 1024)  /* bytes of all files */
#define STATIC_NAME_MAX     64                 /* bytes of a file name, without NUL */
#define STATIC_URL_PREFIX   "/ui/"

/*
 * Headers every static response should carry: the dashboard needs nothing
 * but its own files and the API of the same origin (no inline script, no
 * CDN), so the browser may refuse everything else.
 */
#define STATIC_CSP "default-src 'self'; img-src 'self' data:; " \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/*
 * URL layout:
 *   "/" and "/index.html"  -> ROOT/index.html
 *   "/ui/NAME"             -> ROOT/NAME
 * NAME is 1..STATIC_NAME_MAX characters of [A-Za-z0-9._-], does not start
 * with '.', and names a regular file directly in ROOT (depth 1, no
 * subdirectories). Anything else is not found. The path is the decoded URL
 * path without the query string.
 */

struct static_site;

/* One file, borrowed from the site: valid until static_close(). */
struct static_file {
	const char *name;          /* file name in ROOT */
	const char *data;          /* content, len bytes (NUL-terminated for convenience) */
	size_t      len;
	const char *mime;          /* static string, e.g. "text/html; charset=utf-8" */
};

/*
 * Reads every eligible file directly in root into memory: regular files
 * with a valid NAME (see above), opened without following symlinks (a
 * symlink is skipped, so nothing outside root is ever served), at most
 * STATIC_FILES_MAX files of at most STATIC_FILE_MAX bytes each and
 * STATIC_TOTAL_MAX together (larger or surplus files are skipped with a
 * warning). root itself may be a symlink. Files are never re-read: restart
 * to pick up changes. Returns the site (caller frees with static_close) or
 * NULL when root cannot be opened or has no index.html, with the reason in
 * err.
 */
struct static_site *static_open(const char *root, char *err, size_t errlen);

/* True when url_path belongs to the static layout ("/", "/index.html" or "/ui/..."). */
bool static_route(const char *url_path);

/*
 * Looks up url_path (see the layout above). Returns 0 and fills *out with
 * borrowed pointers, or -1 when the path is not a valid static URL or no
 * such file was loaded. Thread-safe: the site is immutable after open.
 */
int static_lookup(const struct static_site *s, const char *url_path,
    struct static_file *out);

/* Number of files loaded. */
size_t static_count(const struct static_site *s);

/* MIME type for a file name by its extension; "application/octet-stream" if unknown. */
const char *static_mime(const char *name);

/* True when name is a valid NAME (see the layout above). */
bool static_name_valid(const char *name);

/* Frees everything. NULL is a no-op. */
void static_close(struct static_site *s);

#endif
