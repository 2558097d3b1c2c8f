/*
 * Unit tests for block jobs' copies in flight and the range lock (block/job-copy.c), with a
 * fake job whose copy hook only records what runs when: several copies do run at once, never
 * more than the limit, never two of overlapping ranges (the later one starts after the earlier
 * one is done), a copy_done failure sticks, and drain waits for everything.
 */
#include <errno.h>
#include <glib.h>
#include "block/blockjob.h"

#define MAX_COPIES 4

typedef struct FakeJob {
    BlockJob common;
    GMutex lock;
    GCond cond;
    int running, peak, done, overlaps;
    uint64_t run_offset[64], run_end[64]; /* ranges running now, by slot */
    bool hold;                            /* copies wait while set */
    int fail_at;                          /* copy_done fails for this offset / 64 KiB, or -1 */
} FakeJob;

static void fake_copy(BlockJob *job, BlockJobCopy *c)
{
    FakeJob *f = (FakeJob *)job;
    int slot = (int)(c - job->copies.slots);

    g_mutex_lock(&f->lock);
    for (int i = 0; i < MAX_COPIES; i++) {
        f->overlaps +=
            i != slot && f->run_offset[i] < c->offset + c->bytes && c->offset < f->run_end[i];
    }
    f->run_offset[slot] = c->offset;
    f->run_end[slot] = c->offset + c->bytes;
    f->running++;
    f->peak = MAX(f->peak, f->running);
    g_cond_broadcast(&f->cond);
    while (f->hold) {
        g_cond_wait(&f->cond, &f->lock);
    }
    g_usleep(1000);
    f->run_offset[slot] = f->run_end[slot] = 0;
    f->running--;
    g_mutex_unlock(&f->lock);
    c->ret = 0;
}

static int fake_copy_done(BlockJob *job, BlockJobCopy *c)
{
    FakeJob *f = (FakeJob *)job;

    g_mutex_lock(&f->lock);
    f->done++;
    g_mutex_unlock(&f->lock);
    return (int)(c->offset >> 16) == f->fail_at ? -EIO : 0;
}

static const BlockJobDriver fake_driver = {
    .job_type = "fake",
    .instance_size = sizeof(FakeJob),
    .copy = fake_copy,
    .copy_done = fake_copy_done,
};

static FakeJob *fake_job_new(void)
{
    FakeJob *f = g_new0(FakeJob, 1);

    f->common.driver = &fake_driver;
    g_mutex_init(&f->common.lock);
    g_cond_init(&f->common.cond);
    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    f->fail_at = -1;
    block_job_copy_setup(&f->common, MAX_COPIES, 4096);
    return f;
}

static void fake_job_free(FakeJob *f)
{
    block_job_copy_free(&f->common);
    g_mutex_clear(&f->common.lock);
    g_cond_clear(&f->common.cond);
    g_mutex_clear(&f->lock);
    g_cond_clear(&f->cond);
    g_free(f);
}

static void test_parallel_up_to_the_limit(void)
{
    FakeJob *f = fake_job_new();
    uint64_t bytes;

    f->hold = true;
    for (int i = 0; i < MAX_COPIES; i++) {
        g_assert_cmpint(block_job_copy_start(&f->common, i * 65536ULL, 65536), ==, 0);
    }
    g_mutex_lock(&f->lock);
    while (f->running < MAX_COPIES) {
        g_cond_wait(&f->cond, &f->lock); /* all of them at once, or this never returns */
    }
    g_mutex_unlock(&f->lock);
    g_assert_cmpint(block_job_copies_in_flight(&f->common, &bytes), ==, MAX_COPIES);
    g_assert_cmpuint(bytes, ==, MAX_COPIES * 65536ULL);
    g_mutex_lock(&f->lock);
    f->hold = false;
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
    for (int i = MAX_COPIES; i < 40; i++) {
        g_assert_cmpint(block_job_copy_start(&f->common, i * 65536ULL, 65536), ==, 0);
    }
    g_assert_cmpint(block_job_copy_drain(&f->common), ==, 0);
    g_assert_cmpint(block_job_copies_in_flight(&f->common, &bytes), ==, 0);
    g_assert_cmpint(f->done, ==, 40);
    g_assert_cmpint(f->peak, ==, MAX_COPIES);
    g_assert_cmpint(f->overlaps, ==, 0);
    fake_job_free(f);
}

static void test_overlapping_copies_take_turns(void)
{
    FakeJob *f = fake_job_new();

    /* the same two ranges over and over (a range dirtied again while it is copied) */
    for (int i = 0; i < 200; i++) {
        g_assert_cmpint(block_job_copy_start(&f->common, (i % 2) * 4096, 8192), ==, 0);
    }
    g_assert_cmpint(block_job_copy_drain(&f->common), ==, 0);
    g_assert_cmpint(f->done, ==, 200);
    g_assert_cmpint(f->overlaps, ==, 0);
    g_assert_cmpint(f->peak, ==, 1);
    fake_job_free(f);
}

static void test_failure_sticks(void)
{
    FakeJob *f = fake_job_new();
    int ret = 0, started = 0;

    f->fail_at = 3;
    for (int i = 0; i < 40 && ret == 0; i++) {
        ret = block_job_copy_start(&f->common, i * 65536ULL, 65536);
        started += ret == 0;
    }
    g_assert_cmpint(ret, ==, -EIO);
    g_assert_cmpint(started, >, 3);
    g_assert_cmpint(started, <, 40);
    g_assert_cmpint(block_job_copy_drain(&f->common), ==, -EIO);
    g_assert_cmpint(f->done, ==, started);
    g_assert_cmpint(block_job_copy_start(&f->common, 0, 65536), ==, -EIO);
    fake_job_free(f);
}

typedef struct Locker {
    BlockRangeLock *rl;
    uint64_t offset, bytes;
    gint entered;
} Locker;

static gpointer locker_thread(gpointer opaque)
{
    Locker *l = opaque;
    BlockRange r;

    block_range_lock(l->rl, &r, l->offset, l->bytes);
    g_atomic_int_set(&l->entered, 1);
    block_range_unlock(l->rl, &r);
    return NULL;
}

static void test_range_lock(void)
{
    BlockRangeLock rl;
    BlockRange a, all;
    Locker inside = {&rl, 4096, 512, 0}, beside = {&rl, 8192, 4096, 0};
    GThread *t1, *t2;

    block_range_lock_init(&rl);
    block_range_lock(&rl, &a, 0, 8192);
    t1 = g_thread_new("inside", locker_thread, &inside);
    t2 = g_thread_new("beside", locker_thread, &beside);
    g_thread_join(t2); /* [8192, 12288) does not touch [0, 8192) */
    g_usleep(20000);
    g_assert_cmpint(g_atomic_int_get(&inside.entered), ==, 0);
    block_range_unlock(&rl, &a);
    g_thread_join(t1);
    g_assert_cmpint(g_atomic_int_get(&inside.entered), ==, 1);
    block_range_lock(&rl, &all, 0, UINT64_MAX);
    block_range_unlock(&rl, &all);
    block_range_lock_destroy(&rl);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/job-copy/parallel-up-to-the-limit", test_parallel_up_to_the_limit);
    g_test_add_func("/job-copy/overlapping-take-turns", test_overlapping_copies_take_turns);
    g_test_add_func("/job-copy/failure-sticks", test_failure_sticks);
    g_test_add_func("/job-copy/range-lock", test_range_lock);
    return g_test_run();
}
