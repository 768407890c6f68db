/* SPDX-License-Identifier: Apache-2.0 */
/* A progress bar on a terminal: bytes, rate, time left. Nothing when
 * standard error is not a terminal or with --quiet. */
#include "sftpc.h"

#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(char *out, size_t size, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;

    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void draw(const struct sftpc_progress *p, int final)
{
    char done[32], rate[32];
    double elapsed = now() - p->start, speed, left;
    int percent;

    speed = elapsed > 0 ? (double)p->done / elapsed : 0;
    left = speed > 0 ? (double)(p->total - p->done) / speed : 0;
    percent = p->total ? (int)(100 * p->done / p->total) : 100;
    human(done, sizeof(done), (double)p->done);
    human(rate, sizeof(rate), speed);
    fprintf(stderr, "\r%-30.30s %3d%% %10s %10s/s %02d:%02d %s", p->name,
            percent, done, rate, (int)left / 60, (int)left % 60,
            final ? "    \n" : "left");
    (void)fflush(stderr);
}

void sftpc_progress_start(struct sftpc_progress *p, const char *name,
                          uint64_t total, int enabled)
{
    p->name = name;
    p->total = total;
    p->done = 0;
    p->start = p->last = now();
    p->active = enabled;
}

void sftpc_progress_update(struct sftpc_progress *p, uint64_t done)
{
    double t;

    p->done = done;
    if (!p->active)
        return;
    t = now();
    /* At most ten redraws a second. */
    if (t - p->last < 0.1)
        return;
    p->last = t;
    draw(p, 0);
}

void sftpc_progress_end(struct sftpc_progress *p)
{
    if (!p->active)
        return;
    draw(p, 1);
    p->active = 0;
}
