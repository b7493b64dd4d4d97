/* static.c: loads the dashboard's files from one directory at start and maps URL paths to them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "static.h"

struct static_entry {
	char   name[STATIC_NAME_MAX + 1];
	char  *data;                /* owned, len + 1 bytes, NUL-terminated */
	size_t len;
};

struct static_site {
	struct static_entry files[STATIC_FILES_MAX];
	size_t              n;
	size_t              total;  /* bytes loaded */
};

static const struct {
	const char *ext;
	const char *mime;
} static_mimes[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".htm",  "text/html; charset=utf-8" },
	{ ".js",   "text/javascript; charset=utf-8" },
	{ ".mjs",  "text/javascript; charset=utf-8" },
	{ ".css",  "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg",  "image/svg+xml" },
	{ ".png",  "image/png" },
	{ ".ico",  "image/x-icon" },
	{ ".txt",  "text/plain; charset=utf-8" },
	{ ".md",   "text/plain; charset=utf-8" },
	{ ".woff2", "font/woff2" },
};

const char *
static_mime(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;

	if (dot == NULL)
		return "application/octet-stream";
	for (size_t i = 0; i < sizeof(static_mimes) / sizeof(static_mimes[0]); i++)
		if (strcasecmp(dot, static_mimes[i].ext) == 0)
			return static_mimes[i].mime;
	return "application/octet-stream";
}

bool
static_name_valid(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return false;
	for (n = 0; name[n] != '\0'; n++) {
		char c = name[n];
		if (n >= STATIC_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Reads the open regular file fd (size bytes) into a new NUL-terminated buffer. */
static char *
static_read_fd(int fd, size_t size)
{
	char *buf = malloc(size + 1);
	size_t got = 0;

	if (buf == NULL)
		return NULL;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != size) {   /* changed under us or I/O error */
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	return buf;
}

/* Loads root/name into s when it is an eligible regular file; skips (and warns) otherwise. */
static void
static_load_one(struct static_site *s, int dfd, const char *root,
    const char *name)
{
	struct static_entry *e;
	struct stat st;
	int fd;

	if (!static_name_valid(name))
		return;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)
			log_warn("static: %s/%s is a symlink, not served", root, name);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto out;
	if (s->n >= STATIC_FILES_MAX || st.st_size > STATIC_FILE_MAX ||
	    s->total + (size_t)st.st_size > STATIC_TOTAL_MAX) {
		log_warn("static: %s/%s skipped (limits: %d files, %d bytes each, "
		    "%d bytes in all)", root, name, STATIC_FILES_MAX, STATIC_FILE_MAX,
		    STATIC_TOTAL_MAX);
		goto out;
	}
	e = &s->files[s->n];
	if ((e->data = static_read_fd(fd, (size_t)st.st_size)) == NULL) {
		log_warn("static: cannot read %s/%s", root, name);
		goto out;
	}
	memcpy(e->name, name, strlen(name) + 1);  /* valid: <= STATIC_NAME_MAX */
	e->len = (size_t)st.st_size;
	s->total += e->len;
	s->n++;
out:
	close(fd);
}

static const struct static_entry *
static_find(const struct static_site *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->files[i].name, name) == 0)
			return &s->files[i];
	return NULL;
}

struct static_site *
static_open(const char *root, char *err, size_t errlen)
{
	struct static_site *s;
	struct dirent *de;
	DIR *d;

	if (root == NULL || *root == '\0') {
		snprintf(err, errlen, "no dashboard directory given");
		return NULL;
	}
	if ((d = opendir(root)) == NULL) {
		snprintf(err, errlen, "cannot open dashboard directory \"%s\": %s",
		    root, strerror(errno));
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		closedir(d);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while ((de = readdir(d)) != NULL)
		static_load_one(s, dirfd(d), root, de->d_name);
	closedir(d);
	if (static_find(s, "index.html") == NULL) {
		snprintf(err, errlen, "dashboard directory \"%s\" has no readable "
		    "regular index.html", root);
		static_close(s);
		return NULL;
	}
	log_info("static: %zu dashboard files (%zu bytes) from %s", s->n,
	    s->total, root);
	return s;
}

bool
static_route(const char *p)
{
	return p != NULL && (strcmp(p, "/") == 0 || strcmp(p, "/index.html") == 0 ||
	    strncmp(p, STATIC_URL_PREFIX, strlen(STATIC_URL_PREFIX)) == 0);
}

int
static_lookup(const struct static_site *s, const char *p,
    struct static_file *out)
{
	const struct static_entry *e;
	const char *name;

	if (s == NULL || p == NULL)
		return -1;
	if (strcmp(p, "/") == 0 || strcmp(p, "/index.html") == 0)
		name = "index.html";
	else if (strncmp(p, STATIC_URL_PREFIX, strlen(STATIC_URL_PREFIX)) == 0)
		name = p + strlen(STATIC_URL_PREFIX);
	else
		return -1;
	if (!static_name_valid(name) || (e = static_find(s, name)) == NULL)
		return -1;
	out->name = e->name;
	out->data = e->data;
	out->len = e->len;
	out->mime = static_mime(e->name);
	return 0;
}

size_t
static_count(const struct static_site *s)
{
	return s ? s->n : 0;
}

void
static_close(struct static_site *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->files[i].data);
	free(s);
}
