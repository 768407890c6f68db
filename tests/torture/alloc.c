/* SPDX-License-Identifier: Apache-2.0 */
/* The process's allocator, replaced (glibc's "Replacing malloc": every
 * library, and libc itself, calls these): each block gets a header that
 * links it into a list of live blocks and numbers it, and once armed the
 * Nth allocation fails with ENOMEM. Blocks come from glibc's own
 * __libc_* functions. Not usable under ASan, which replaces them too. */
#include "alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* NOLINTBEGIN(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc exports its allocator under these names; no header declares them */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);
/* NOLINTEND(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#define MAGIC_LIVE 0x5354524c49564531ULL /* "STRLIVE1" */
#define MAGIC_FREE 0x5354524652454531ULL

/* 64 bytes: keeps every block 16-byte aligned. */
struct hdr {
  struct hdr *prev, *next;
  void *base; /* what __libc_* returned */
  uint64_t seq;
  size_t size;
  int aligned;
  int pad_;
  uint64_t spare_;
  uint64_t magic;
};
#define HDR sizeof(struct hdr)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hdr live_head = {&live_head, &live_head, NULL, 0, 0, 0, 0, 0, 0};
static size_t live_count;
static uint64_t next_seq = 1;
static uint64_t armed_at;   /* 0: off */
static uint64_t armed_seen; /* allocations since torture_arm */
static int armed_hit;
static uint64_t trace_seq;        /* print a backtrace at this global number */
static unsigned char *record_map; /* while recording: who made each one */
static size_t record_max, record_n;

static struct hdr *hdr_of(void *p) {
  struct hdr *h = (struct hdr *)((char *)p - HDR);

  if (h->magic != MAGIC_LIVE) {
    static const char msg[] = "torture: free of a bad or freed block\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    abort();
  }
  return h;
}

/* Which library made the allocation? (Only while recording: dladdr is
 * slow.) */
static unsigned char caller_class(const void *caller) {
  Dl_info info;

  if (!dladdr(caller, &info) || !info.dli_fname)
    return TORTURE_BY_OTHER;
  if (strstr(info.dli_fname, "libcrypto"))
    return TORTURE_BY_OPENSSL;
  if (strstr(info.dli_fname, "libsqlite3"))
    return TORTURE_BY_SQLITE;
  return TORTURE_BY_OTHER;
}

/* Counts an allocation; returns 0 when it is the one to fail. */
#define count_allocation(seq)                                                  \
  count_allocation_from((seq), __builtin_return_address(0))
static int count_allocation_from(uint64_t *seq, const void *caller) {
  int ok = 1, trace;

  if (record_map && record_n < record_max)
    record_map[record_n++] = caller_class(caller);
  pthread_mutex_lock(&lock);
  *seq = next_seq++;
  if (armed_at && ++armed_seen == armed_at) {
    armed_hit = 1;
    ok = 0;
  }
  trace = trace_seq && *seq == trace_seq;
  pthread_mutex_unlock(&lock);
  if (trace) {
    void *frames[64];
    int n = backtrace(frames, 64);
    dprintf(2, "torture: allocation #%llu%s:\n", (unsigned long long)*seq,
            ok ? "" : " (failed)");
    backtrace_symbols_fd(frames, n, 2);
  }
  if (!ok)
    errno = ENOMEM;
  return ok;
}

static void *link_block(void *base, size_t offset, size_t size, uint64_t seq,
                        int aligned) {
  struct hdr *h = (struct hdr *)((char *)base + offset - HDR);

  h->base = base;
  h->seq = seq;
  h->size = size;
  h->aligned = aligned;
  h->magic = MAGIC_LIVE;
  pthread_mutex_lock(&lock);
  h->next = live_head.next;
  h->prev = &live_head;
  live_head.next->prev = h;
  live_head.next = h;
  live_count++;
  pthread_mutex_unlock(&lock);
  return (char *)base + offset;
}

static void unlink_block(struct hdr *h) {
  pthread_mutex_lock(&lock);
  h->prev->next = h->next;
  h->next->prev = h->prev;
  live_count--;
  pthread_mutex_unlock(&lock);
  h->magic = MAGIC_FREE;
}

void *malloc(size_t size) {
  uint64_t seq;
  void *base;

  if (size > SIZE_MAX - HDR) {
    errno = ENOMEM;
    return NULL;
  }
  if (!count_allocation(&seq) || !(base = __libc_malloc(size + HDR)))
    return NULL;
  return link_block(base, HDR, size, seq, 0);
}

void *calloc(size_t nmemb, size_t size) {
  uint64_t seq;
  void *base;

  if (size && nmemb > (SIZE_MAX - HDR) / size) {
    errno = ENOMEM;
    return NULL;
  }
  if (!count_allocation(&seq) ||
      !(base = __libc_calloc(1, nmemb * size + HDR)))
    return NULL;
  return link_block(base, HDR, nmemb * size, seq, 0);
}

void free(void *ptr) {
  struct hdr *h;

  if (!ptr)
    return;
  h = hdr_of(ptr);
  unlink_block(h);
  __libc_free(h->base);
}

static void *aligned_block(size_t align, size_t size) {
  uint64_t seq;
  size_t offset;
  void *base;

  if (align <= 16)
    return malloc(size);
  if (align & (align - 1)) {
    errno = EINVAL;
    return NULL;
  }
  /* The header sits just below the aligned pointer. */
  offset = align >= HDR ? align : HDR;
  if (size > SIZE_MAX - offset) {
    errno = ENOMEM;
    return NULL;
  }
  if (!count_allocation(&seq) ||
      !(base = __libc_memalign(align, size + offset)))
    return NULL;
  return link_block(base, offset, size, seq, 1);
}

void *realloc(void *ptr, size_t size) {
  struct hdr *h, saved;
  uint64_t seq;
  void *base, *q;

  if (!ptr)
    return malloc(size);
  if (!size) {
    free(ptr);
    return NULL;
  }
  h = hdr_of(ptr);
  if (h->aligned) {
    if (!(q = malloc(size)))
      return NULL;
    memcpy(q, ptr, h->size < size ? h->size : size);
    free(ptr);
    return q;
  }
  if (size > SIZE_MAX - HDR) {
    errno = ENOMEM;
    return NULL;
  }
  if (!count_allocation(&seq))
    return NULL;
  /* Unlink first: the block may move. */
  saved = *h;
  unlink_block(h);
  if (!(base = __libc_realloc(saved.base, size + HDR)))
    return link_block(saved.base, HDR, saved.size, saved.seq, 0);
  /* A resized block keeps its number: a leak names where it began. */
  (void)seq;
  return link_block(base, HDR, size, saved.seq, 0);
}

void *reallocarray(void *ptr, size_t nmemb, size_t size) {
  if (size && nmemb > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  /* A total of 0 is realloc(ptr, 0), as in glibc: frees ptr, or for NULL
   * is malloc(0), which ours above defines: a new block of size 0. */
  if (!nmemb || !size) {
    if (ptr) {
      free(ptr);
      return NULL;
    }
    /* NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI): our malloc */
    return malloc(0);
  }
  return realloc(ptr, nmemb * size);
}

int posix_memalign(void **memptr, size_t alignment, size_t size) {
  void *p;

  if (alignment % sizeof(void *) || (alignment & (alignment - 1)))
    return EINVAL;
  if (!(p = aligned_block(alignment, size)))
    return ENOMEM;
  *memptr = p;
  return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
  return aligned_block(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
  return aligned_block(alignment, size);
}

void *valloc(size_t size) {
  return aligned_block((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);

  return aligned_block(page, (size + page - 1) & ~(page - 1));
}

size_t malloc_usable_size(void *ptr) { return ptr ? hdr_of(ptr)->size : 0; }

/* ---- the test's side --------------------------------------------------- */

void torture_arm(uint64_t n) {
  pthread_mutex_lock(&lock);
  armed_at = n;
  armed_seen = 0;
  armed_hit = 0;
  pthread_mutex_unlock(&lock);
}

uint64_t torture_disarm(int *hit) {
  uint64_t seen;

  pthread_mutex_lock(&lock);
  seen = armed_seen;
  *hit = armed_hit;
  armed_at = 0;
  armed_seen = 0;
  pthread_mutex_unlock(&lock);
  return seen;
}

size_t torture_live_blocks(void) {
  size_t n;

  pthread_mutex_lock(&lock);
  n = live_count;
  pthread_mutex_unlock(&lock);
  return n;
}

uint64_t torture_next_seq(void) {
  uint64_t n;

  pthread_mutex_lock(&lock);
  n = next_seq;
  pthread_mutex_unlock(&lock);
  return n;
}

void torture_record(unsigned char *map, size_t max) {
  record_n = 0;
  record_max = max;
  record_map = map;
}

size_t torture_record_stop(void) {
  record_map = NULL;
  return record_n;
}

void torture_trace_at(uint64_t seq) { trace_seq = seq; }

size_t torture_live_since(uint64_t since, uint64_t *seqs, size_t *sizes,
                          size_t max) {
  struct hdr *h;
  size_t n = 0;

  pthread_mutex_lock(&lock);
  for (h = live_head.next; h != &live_head; h = h->next) {
    if (h->seq < since)
      continue;
    if (n < max) {
      seqs[n] = h->seq;
      sizes[n] = h->size;
    }
    n++;
  }
  pthread_mutex_unlock(&lock);
  return n;
}
