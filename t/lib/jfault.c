/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * jfault.so: disk faults for the journal's tests, without root.  Loaded
 * with LD_PRELOAD into nginx (the master, and so every worker it forks),
 * it makes the journal's writes and fsyncs fail as a full or failing
 * disk would.  Nothing of it is in the module: a test-only shim, built by
 * mk/journal.mk as build/jfault.so.
 *
 *   OE_JFAULT_DIR   only descriptors of files under this directory
 *   OE_JFAULT_CTL   a file read at every call: one fault a line,
 *                     pwritev=ENOSPC:half  half the record is written,
 *                                          the call returns that count
 *                     pwritev=ENOSPC       nothing written, -1 ENOSPC
 *                     write=ENOSPC         write() fails (segment headers)
 *                     fdatasync=EIO        the fsync fails
 *                     fdatasync=EIO:once   the first fsync fails, and as
 *                                          Linux's errseq does, each other
 *                                          descriptor then open on that
 *                                          file fails its next fsync once;
 *                                          those opened later do not
 *                     read=SLOW:ms         pread() and mmap() of a file
 *                                          take ms longer (a slow disk)
 *                     pwritev=SLOW:ms      each pwritev() takes ms longer
 *                     pwritev=LOG          each pwritev() is done, and a
 *                                          line "offset bytes path" added
 *                                          to OE_JFAULT_DIR".writes"
 *                     fdatasync=SLOW:ms    each fdatasync() takes ms
 *                                          longer, then syncs
 *                     rename=SLOW:ms       rename() and unlink() of a
 *                     unlink=SLOW:ms       path (the old one's) take ms
 *                                          longer, then do it; the file
 *                                          OE_JFAULT_DIR".slow" is made
 *                                          as the wait begins (a worker
 *                                          may not write beside CTL)
 *                   a fault ending "@text" applies only to files whose
 *                   path contains text (pwritev=ENOSPC@.zero: the spare
 *                   being preallocated, not the segments), "@text$" only
 *                   to those whose path ends with it (the directory)
 *                   no file, or an empty one: no faults
 *
 * Both are read when the library is loaded (nginx clears its environment
 * for its workers afterwards).
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>


static char  jfault_dir[PATH_MAX];
static char  jfault_ctl[PATH_MAX];

static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fdatasync)(int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static int (*real_rename)(const char *, const char *);
static int (*real_unlink)(const char *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_close)(int);

/* EIO:once: fired, and the descriptors yet to see the error (1 + fd) */
#define JFAULT_FDS  1024
static int    jfault_once_fired;
static char   jfault_unseen[JFAULT_FDS];


/*
 * The real calls are looked up at the first call too: a library preloaded
 * before this one (libasan) may write or map before our constructor ran.
 */

static void
jfault_resolve(void)
{
    real_pwritev = (ssize_t (*)(int, const struct iovec *, int, off_t))
                   dlsym(RTLD_NEXT, "pwritev");
    real_write = (ssize_t (*)(int, const void *, size_t))
                 dlsym(RTLD_NEXT, "write");
    real_fdatasync = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
    real_pread = (ssize_t (*)(int, void *, size_t, off_t))
                 dlsym(RTLD_NEXT, "pread");
    real_mmap = (void *(*)(void *, size_t, int, int, int, off_t))
                dlsym(RTLD_NEXT, "mmap");
    real_close = (int (*)(int)) dlsym(RTLD_NEXT, "close");
    real_rename = (int (*)(const char *, const char *))
                  dlsym(RTLD_NEXT, "rename");
    real_unlink = (int (*)(const char *)) dlsym(RTLD_NEXT, "unlink");
}


__attribute__((constructor))
static void
jfault_init(void)
{
    const char  *d, *c;

    d = getenv("OE_JFAULT_DIR");
    c = getenv("OE_JFAULT_CTL");

    if (d != NULL) {
        snprintf(jfault_dir, sizeof(jfault_dir), "%s", d);
    }

    if (c != NULL) {
        snprintf(jfault_ctl, sizeof(jfault_ctl), "%s", c);
    }

    jfault_resolve();
}


static const char *jfault_get_path(const char *name, const char *path,
    char *buf, size_t size);


/* the fault configured for call "name" on fd, or NULL */

static const char *
jfault_get(const char *name, int fd, char *buf, size_t size)
{
    char     link[64], path[PATH_MAX];
    ssize_t  n;

    if (jfault_dir[0] == '\0' || jfault_ctl[0] == '\0') {
        return NULL;
    }

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);

    n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0) {
        return NULL;
    }

    path[n] = '\0';

    return jfault_get_path(name, path, buf, size);
}


/* the same for a call on a path */

static const char *
jfault_get_path(const char *name, const char *path, char *buf, size_t size)
{
    int      cfd;
    char    *line, *save, *at;
    size_t   nl, al, pl;
    ssize_t  n;

    if (jfault_dir[0] == '\0' || jfault_ctl[0] == '\0'
        || strncmp(path, jfault_dir, strlen(jfault_dir)) != 0)
    {
        return NULL;
    }

    cfd = open(jfault_ctl, O_RDONLY | O_CLOEXEC);
    if (cfd == -1) {
        return NULL;
    }

    n = read(cfd, buf, size - 1);
    close(cfd);

    if (n <= 0) {
        return NULL;
    }

    buf[n] = '\0';
    nl = strlen(name);

    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        if (strncmp(line, name, nl) != 0 || line[nl] != '=') {
            continue;
        }

        at = strchr(line, '@');

        if (at != NULL) {
            *at = '\0';
            at++;
            al = strlen(at);
            pl = strlen(path);

            if (al && at[al - 1] == '$') {
                /* the path's end */
                if (pl < al - 1
                    || strncmp(path + pl - (al - 1), at, al - 1) != 0)
                {
                    continue;
                }

            } else if (strstr(path, at) == NULL) {
                continue;
            }
        }

        return line + nl + 1;
    }

    return NULL;
}


static int
jfault_errno(const char *f)
{
    if (strncmp(f, "EIO", 3) == 0) {
        return EIO;
    }

    if (strncmp(f, "EROFS", 5) == 0) {
        return EROFS;
    }

    return ENOSPC;
}


/* a test counts the journal's writes: one line a call */

static void
jfault_log_write(int wfd, const struct iovec *iov, int iovcnt, off_t offset)
{
    int      i, fd, n;
    char     line[PATH_MAX + 64], path[PATH_MAX + 8], link[64];
    size_t   total;
    ssize_t  k;

    total = 0;

    for (i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }

    snprintf(link, sizeof(link), "/proc/self/fd/%d", wfd);
    k = readlink(link, path, PATH_MAX);
    path[k > 0 ? k : 0] = '\0';

    n = snprintf(line, sizeof(line), "%lld %zu %s\n", (long long) offset,
                 total, path);

    snprintf(path, sizeof(path), "%s.writes", jfault_dir);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);

    if (fd == -1) {
        return;
    }

    (void) real_write(fd, line, (size_t) n);
    (void) real_close(fd);
}


ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
    int            i, n;
    char           buf[512];
    size_t         total, half;
    const char    *f;
    struct iovec   cut[64];

    if (real_pwritev == NULL) {
        jfault_resolve();
    }

    f = jfault_get("pwritev", fd, buf, sizeof(buf));

    if (f == NULL) {
        return real_pwritev(fd, iov, iovcnt, offset);
    }

    if (strncmp(f, "SLOW:", 5) == 0) {
        usleep((useconds_t) atoi(f + 5) * 1000);
        return real_pwritev(fd, iov, iovcnt, offset);
    }

    if (strncmp(f, "LOG", 3) == 0) {
        jfault_log_write(fd, iov, iovcnt, offset);
        return real_pwritev(fd, iov, iovcnt, offset);
    }

    if (strstr(f, ":half") == NULL || iovcnt > 64) {
        errno = jfault_errno(f);
        return -1;
    }

    /* the first half of the record reaches the file, as on a full disk */

    total = 0;

    for (i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }

    half = total / 2;

    for (i = 0, n = 0; i < iovcnt && half; i++, n++) {
        cut[n] = iov[i];

        if (cut[n].iov_len > half) {
            cut[n].iov_len = half;
        }

        half -= cut[n].iov_len;
    }

    return real_pwritev(fd, cut, n, offset);
}


/*
 * nginx is built with 64-bit file offsets: the module calls pwritev64()
 * and pread64(), which glibc exports apart from pwritev() and pread().
 */

ssize_t
pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset)
{
    return pwritev(fd, iov, iovcnt, (off_t) offset);
}


ssize_t
write(int fd, const void *data, size_t size)
{
    char         buf[512];
    const char  *f;

    if (real_write == NULL) {
        jfault_resolve();
    }

    /* never for the standard streams: nginx logs through write() too */
    f = (fd > 2) ? jfault_get("write", fd, buf, sizeof(buf)) : NULL;

    if (f == NULL) {
        return real_write(fd, data, size);
    }

    errno = jfault_errno(f);
    return -1;
}


/* every other descriptor open on fd's file sees the error once */

static void
jfault_errseq(int fd)
{
    int          i;
    struct stat  st, o;

    if (fstat(fd, &st) == -1) {
        return;
    }

    for (i = 0; i < JFAULT_FDS; i++) {
        if (i != fd && fstat(i, &o) == 0 && o.st_dev == st.st_dev
            && o.st_ino == st.st_ino)
        {
            jfault_unseen[i] = 1;
        }
    }
}


int
close(int fd)
{
    if (real_close == NULL) {
        jfault_resolve();
    }

    if (fd >= 0 && fd < JFAULT_FDS) {
        jfault_unseen[fd] = 0;
    }

    return real_close(fd);
}


int
fdatasync(int fd)
{
    char         buf[512];
    const char  *f;

    if (real_fdatasync == NULL) {
        jfault_resolve();
    }

    if (fd >= 0 && fd < JFAULT_FDS && jfault_unseen[fd]) {
        /* an error that happened while this descriptor was open */
        jfault_unseen[fd] = 0;
        errno = EIO;
        return -1;
    }

    f = jfault_get("fdatasync", fd, buf, sizeof(buf));

    if (f != NULL && strcmp(f, "EIO:once") == 0) {
        if (jfault_once_fired) {
            return real_fdatasync(fd);
        }

        jfault_once_fired = 1;
        jfault_errseq(fd);
    }

    if (f != NULL && strncmp(f, "SLOW:", 5) == 0) {
        usleep((useconds_t) atoi(f + 5) * 1000);
        f = NULL;
    }

    if (f == NULL) {
        return real_fdatasync(fd);
    }

    /* as Linux does: the data are not on disk, and the error is said */
    errno = jfault_errno(f);
    return -1;
}


static void
jfault_slow(int fd)
{
    char         buf[512];
    const char  *f;

    f = (fd > 2) ? jfault_get("read", fd, buf, sizeof(buf)) : NULL;

    if (f != NULL && strncmp(f, "SLOW:", 5) == 0) {
        usleep((useconds_t) atoi(f + 5) * 1000);
    }
}


ssize_t
pread(int fd, void *data, size_t size, off_t offset)
{
    if (real_pread == NULL) {
        jfault_resolve();
    }

    jfault_slow(fd);

    return real_pread(fd, data, size, offset);
}


ssize_t
pread64(int fd, void *data, size_t size, off64_t offset)
{
    return pread(fd, data, size, (off_t) offset);
}


void *
mmap(void *addr, size_t size, int prot, int flags, int fd, off_t offset)
{
    if (real_mmap == NULL) {
        jfault_resolve();
    }

    if (fd >= 0) {
        jfault_slow(fd);
    }

    return real_mmap(addr, size, prot, flags, fd, offset);
}


/* a slow directory operation: a worker killed in the middle of one */

static void
jfault_slow_path(const char *name, const char *path)
{
    int          fd;
    char         buf[512], mark[PATH_MAX + 8];
    const char  *f;

    f = jfault_get_path(name, path, buf, sizeof(buf));

    if (f == NULL || strncmp(f, "SLOW:", 5) != 0) {
        return;
    }

    /* a test kills the process in the middle of the call: now */
    snprintf(mark, sizeof(mark), "%s.slow", jfault_dir);
    fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    if (fd != -1) {
        (void) real_close(fd);
    }

    usleep((useconds_t) atoi(f + 5) * 1000);
}


int
rename(const char *from, const char *to)
{
    if (real_rename == NULL) {
        jfault_resolve();
    }

    jfault_slow_path("rename", from);

    return real_rename(from, to);
}


int
unlink(const char *path)
{
    if (real_unlink == NULL) {
        jfault_resolve();
    }

    jfault_slow_path("unlink", path);

    return real_unlink(path);
}
