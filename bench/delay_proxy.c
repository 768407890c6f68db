/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A loopback TCP forwarder that delays every byte by a fixed time in each
 * direction, so the SFTP benchmark can also run at a round-trip time like
 * Azure's (tens of milliseconds) on a machine whose kernel has no netem.
 *
 *   delay_proxy LISTEN_PORT TARGET_PORT ONE_WAY_DELAY_MS
 *
 * It reads as fast as the sender writes and releases each chunk DELAY
 * later, so what limits a connection through it is what limits it over a
 * long link: the protocol's own windows (SSH channel windows, SFTP
 * requests in flight). Its buffer is bounded (64 MiB a direction). Not a
 * test and not installed: bench/sftp_throughput.sh --rtt starts it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX ((size_t)256 * 1024)
#define QUEUE_MAX ((size_t)64 * 1024 * 1024)

struct chunk {
    struct chunk *next;
    struct timespec due;
    size_t len;
    unsigned char data[];
};

/* One direction: a reader queues what arrives, a writer sends it on time. */
struct pipe {
    int from, to;
    long delay_ns;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct chunk *head, *tail;
    size_t queued;
    int eof;  /* the reader is done: no more chunks will come */
    int dead; /* the writer failed: drop everything */
};

static long delay_ns;
static int target_port;

static void timespec_add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns % 1000000000L;
    t->tv_sec += ns / 1000000000L + t->tv_nsec / 1000000000L;
    t->tv_nsec %= 1000000000L;
}

static void *pipe_reader(void *arg)
{
    struct pipe *p = arg;
    struct chunk *c;
    ssize_t n;

    for (;;) {
        if (!(c = malloc(sizeof(*c) + CHUNK_MAX)))
            break;
        do
            n = read(p->from, c->data, CHUNK_MAX);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            free(c);
            break;
        }
        c->len = (size_t)n;
        c->next = NULL;
        clock_gettime(CLOCK_MONOTONIC, &c->due);
        timespec_add_ns(&c->due, p->delay_ns);
        pthread_mutex_lock(&p->lock);
        while (p->queued >= QUEUE_MAX && !p->dead)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->dead) {
            pthread_mutex_unlock(&p->lock);
            free(c);
            break;
        }
        if (p->tail)
            p->tail->next = c;
        else
            p->head = c;
        p->tail = c;
        p->queued += c->len;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_lock(&p->lock);
    p->eof = 1;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *pipe_writer(void *arg)
{
    struct pipe *p = arg;
    struct chunk *c;
    struct timespec due;
    int failed = 0;

    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->eof)
            pthread_cond_wait(&p->changed, &p->lock);
        if (!p->head) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        due = p->head->due;
        pthread_mutex_unlock(&p->lock);
        /* Only this thread takes chunks off: the head stays while we wait. */
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) ==
               EINTR)
            ;
        pthread_mutex_lock(&p->lock);
        c = p->head;
        if (!(p->head = c->next))
            p->tail = NULL;
        p->queued -= c->len;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        failed = write_all(p->to, c->data, c->len) != 0;
        free(c);
        if (failed)
            break;
    }
    if (failed) {
        pthread_mutex_lock(&p->lock);
        p->dead = 1;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        /* Wakes both readers of this connection. */
        shutdown(p->from, SHUT_RDWR);
        shutdown(p->to, SHUT_RDWR);
    } else {
        shutdown(p->to, SHUT_WR);
    }
    return NULL;
}

static int connect_target(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        return -1;
    addr.sin_port = htons((unsigned short)target_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    /* Best effort: without it the delay only grows by Nagle's. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void pipe_init(struct pipe *p, int from, int to)
{
    memset(p, 0, sizeof(*p));
    p->from = from;
    p->to = to;
    p->delay_ns = delay_ns;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
}

static void pipe_clear(struct pipe *p)
{
    struct chunk *c, *next;

    for (c = p->head; c; c = next) {
        next = c->next;
        free(c);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->changed);
}

/* One client connection: two pipes, four threads, then close both ends. */
static void *connection_run(void *arg)
{
    int client = *(int *)arg, server = connect_target(), i;
    struct pipe up, down;
    pthread_t threads[4];
    int started = 0;

    free(arg);
    if (server < 0) {
        close(client);
        return NULL;
    }
    pipe_init(&up, client, server);
    pipe_init(&down, server, client);
    if (pthread_create(&threads[0], NULL, pipe_reader, &up) == 0)
        started++;
    if (started == 1 && pthread_create(&threads[1], NULL, pipe_writer, &up) == 0)
        started++;
    if (started == 2 && pthread_create(&threads[2], NULL, pipe_reader, &down) == 0)
        started++;
    if (started == 3 && pthread_create(&threads[3], NULL, pipe_writer, &down) == 0)
        started++;
    if (started < 4) {
        shutdown(client, SHUT_RDWR);
        shutdown(server, SHUT_RDWR);
    }
    for (i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pipe_clear(&up);
    pipe_clear(&down);
    close(client);
    close(server);
    return NULL;
}

static int parse_int(const char *text, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    long listen_port, port, ms;
    int fd, client, one = 1, *arg;
    pthread_t thread;
    pthread_attr_t detached;

    if (argc != 4 || parse_int(argv[1], 65535, &listen_port) ||
        parse_int(argv[2], 65535, &port) || parse_int(argv[3], 10000, &ms)) {
        fprintf(stderr, "usage: delay_proxy LISTEN_PORT TARGET_PORT "
                        "ONE_WAY_DELAY_MS\n");
        return 2;
    }
    target_port = (int)port;
    delay_ns = ms * 1000000L;
    (void)signal(SIGPIPE, SIG_IGN);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
        perror("delay_proxy: socket");
        return 1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    addr.sin_port = htons((unsigned short)listen_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(fd, 64) != 0) {
        perror("delay_proxy: bind");
        close(fd);
        return 1;
    }
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (;;) {
        if ((client = accept(fd, NULL, NULL)) < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("delay_proxy: accept");
            return 1;
        }
        (void)setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!(arg = malloc(sizeof(*arg)))) {
            close(client);
            continue;
        }
        *arg = client;
        if (pthread_create(&thread, &detached, connection_run, arg) != 0) {
            free(arg);
            close(client);
        }
    }
}
