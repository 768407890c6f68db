/* SPDX-License-Identifier: Apache-2.0 */
/* Recursive get and put. Folders are made first, in order; the files then
 * go over up to --parallel connections, one file per connection at a time
 * (Azure serves one file over one connection; throughput comes from
 * several). */
#include "sftpc.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct job {
    char *from, *to;
};

struct jobs {
    struct job *list;
    size_t count, next;
    int upload;
    pthread_mutex_t lock;
    sftpc_rc rc; /* the first failure */
};

static int jobs_add(struct jobs *j, char *from, char *to)
{
    struct job *grown = realloc(j->list, (j->count + 1) * sizeof(*grown));

    if (!grown || !from || !to) {
        if (grown)
            j->list = grown;
        free(from);
        free(to);
        return 0;
    }
    j->list = grown;
    j->list[j->count].from = from;
    j->list[j->count].to = to;
    j->count++;
    return 1;
}

static void jobs_clear(struct jobs *j)
{
    size_t i;

    for (i = 0; i < j->count; i++) {
        free(j->list[i].from);
        free(j->list[i].to);
    }
    free(j->list);
}

static char *join(const char *a, const char *b)
{
    size_t len = strlen(a) + strlen(b) + 2;
    char *out = malloc(len);

    if (out)
        snprintf(out, len, "%s%s%s", a,
                 *a && a[strlen(a) - 1] == '/' ? "" : "/", b);
    return out;
}

/* Makes a remote folder; one that exists already is fine. */
static sftpc_rc remote_mkdir(struct sftpc_conn *c, const char *path)
{
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    char *full = sftpc_remote_path(c, path);
    sftpc_rc rc = SFTPC_OK;

    if (!full)
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    if (libssh2_sftp_stat(c->sftp, full, &attrs) != 0 &&
        libssh2_sftp_mkdir(c->sftp, full, 0755) != 0)
        rc = sftpc_fail_sftp(c, "mkdir", full);
    free(full);
    return rc;
}

/* Walks a local folder: folders made remotely now, files queued. */
/* NOLINTNEXTLINE(misc-no-recursion): lstat refuses paths past PATH_MAX */
static sftpc_rc walk_local(struct sftpc_conn *c, const char *local,
                           const char *remote, struct jobs *j)
{
    struct dirent *d;
    struct stat sb;
    sftpc_rc rc;
    DIR *dir;

    if ((rc = remote_mkdir(c, remote)) != SFTPC_OK)
        return rc;
    if (!(dir = opendir(local)))
        return sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", local, strerror(errno));
    while (rc == SFTPC_OK) {
        char *from, *to;
        errno = 0;
        if (!(d = readdir(dir))) {
            /* A listing that failed part way is an error, not a shorter
             * tree. */
            if (errno != 0)
                rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", local,
                                strerror(errno));
            break;
        }
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        from = join(local, d->d_name);
        to = join(remote, d->d_name);
        if (!from || !to || lstat(from, &sb) != 0) {
            rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", from ? from : local,
                            strerror(errno ? errno : ENOMEM));
            free(from);
            free(to);
        } else if (S_ISDIR(sb.st_mode)) {
            rc = walk_local(c, from, to, j);
            free(from);
            free(to);
        } else if (S_ISREG(sb.st_mode)) {
            if (!jobs_add(j, from, to))
                rc = sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
        } else {
            /* Links and devices have no place on Azure Blob Storage. */
            sftpc_verbose(c->opts, "skipping %s: not a file or folder", from);
            free(from);
            free(to);
        }
    }
    closedir(dir);
    return rc;
}

/* Walks a remote folder: local folders made now, files queued. */
/* NOLINTNEXTLINE(misc-no-recursion): mkdir refuses paths past PATH_MAX */
static sftpc_rc walk_remote(struct sftpc_conn *c, const char *remote,
                            const char *local, struct jobs *j)
{
    LIBSSH2_SFTP_HANDLE *dir;
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    char name[1024], *full;
    sftpc_rc rc = SFTPC_OK;
    int n = 0;

    if (mkdir(local, 0755) != 0 && errno != EEXIST)
        return sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", local, strerror(errno));
    if (!(full = sftpc_remote_path(c, remote)))
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    if (!(dir = libssh2_sftp_opendir(c->sftp, full))) {
        rc = sftpc_fail_sftp(c, "get", full);
        free(full);
        return rc;
    }
    while (rc == SFTPC_OK &&
           (n = libssh2_sftp_readdir(dir, name, sizeof(name), &attrs)) > 0) {
        char *from, *to;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        /* Unresolved, as the caller's: get resolves it once. */
        from = join(remote, name);
        to = join(local, name);
        if (!from || !to) {
            free(from);
            free(to);
            rc = sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
        } else if (LIBSSH2_SFTP_S_ISDIR(attrs.permissions)) {
            rc = walk_remote(c, from, to, j);
            free(from);
            free(to);
        } else if (!jobs_add(j, from, to)) {
            rc = sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
        }
    }
    /* A listing that failed part way is an error, not a shorter tree. */
    if (rc == SFTPC_OK && n < 0)
        rc = sftpc_fail_sftp(c, "get", full);
    libssh2_sftp_closedir(dir);
    free(full);
    return rc;
}

/* Runs queued jobs on c until none is left or one failed. */
static void run_jobs(struct sftpc_conn *c, struct jobs *j)
{
    struct job *job;
    sftpc_rc rc;

    for (;;) {
        pthread_mutex_lock(&j->lock);
        job = j->rc == SFTPC_OK && j->next < j->count ? &j->list[j->next++]
                                                      : NULL;
        pthread_mutex_unlock(&j->lock);
        if (!job)
            return;
        rc = j->upload ? sftpc_put(c, job->from, job->to)
                       : sftpc_get(c, job->from, job->to);
        if (rc != SFTPC_OK) {
            pthread_mutex_lock(&j->lock);
            if (j->rc == SFTPC_OK)
                j->rc = rc;
            pthread_mutex_unlock(&j->lock);
        }
    }
}

struct worker {
    pthread_t thread;
    const struct sftpc_pool *pool;
    struct jobs *jobs;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sftpc_options opts = *w->pool->opts;
    struct sftpc_conn c;
    sftpc_rc rc;

    /* One bar per worker would collide on the terminal. */
    opts.progress = 0;
    rc = sftpc_connect(w->pool->target, &opts, w->pool->key,
                       w->pool->password, &c);
    if (rc != SFTPC_OK) {
        pthread_mutex_lock(&w->jobs->lock);
        if (w->jobs->rc == SFTPC_OK)
            w->jobs->rc = rc;
        pthread_mutex_unlock(&w->jobs->lock);
        return NULL;
    }
    run_jobs(&c, w->jobs);
    sftpc_disconnect(&c);
    return NULL;
}

static sftpc_rc run_all(struct sftpc_conn *c, const struct sftpc_pool *pool,
                        struct jobs *j)
{
    struct worker *workers;
    size_t n, i, started = 0;

    n = pool->opts->parallel > 1 ? (size_t)pool->opts->parallel : 1;
    if (n > j->count)
        n = j->count;
    /* The main connection works too; the others join it. */
    if (n > 1 && (workers = calloc(n - 1, sizeof(*workers)))) {
        for (i = 0; i < n - 1; i++) {
            workers[i].pool = pool;
            workers[i].jobs = j;
            if (pthread_create(&workers[i].thread, NULL, worker_main,
                               &workers[i]) != 0)
                break;
            started++;
        }
        run_jobs(c, j);
        for (i = 0; i < started; i++)
            pthread_join(workers[i].thread, NULL);
        free(workers);
    } else {
        run_jobs(c, j);
    }
    return j->rc;
}

sftpc_rc sftpc_put_tree(struct sftpc_conn *c, const struct sftpc_pool *pool,
                        const char *local, const char *remote)
{
    struct jobs j;
    sftpc_rc rc;

    memset(&j, 0, sizeof(j));
    j.upload = 1;
    pthread_mutex_init(&j.lock, NULL);
    if ((rc = walk_local(c, local, remote, &j)) == SFTPC_OK)
        rc = run_all(c, pool, &j);
    jobs_clear(&j);
    pthread_mutex_destroy(&j.lock);
    return rc;
}

sftpc_rc sftpc_get_tree(struct sftpc_conn *c, const struct sftpc_pool *pool,
                        const char *remote, const char *local)
{
    struct jobs j;
    sftpc_rc rc;

    memset(&j, 0, sizeof(j));
    pthread_mutex_init(&j.lock, NULL);
    if ((rc = walk_remote(c, remote, local, &j)) == SFTPC_OK)
        rc = run_all(c, pool, &j);
    jobs_clear(&j);
    pthread_mutex_destroy(&j.lock);
    return rc;
}
