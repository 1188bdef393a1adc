/* The pthread and semaphore waits of a C library, for tests/takeover.rs:
 * a mutex, a condition variable with a value, a semaphore, and a thread to
 * join. Each wait has a time limit, so that a deadlock fails a test instead
 * of hanging it. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int value;
static sem_t sem;

static struct timespec after_ms(int ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Locks the mutex, waiting at most `ms`: 0 or an error number. */
int pw_lock(int ms) {
    struct timespec t = after_ms(ms);
    return pthread_mutex_timedlock(&lock, &t);
}

/* Locks the mutex with plain pthread_mutex_lock. */
int pw_lock_plain(void) { return pthread_mutex_lock(&lock); }

int pw_unlock(void) { return pthread_mutex_unlock(&lock); }

/* Waits until the value is at least `want`, at most `ms`: the value seen,
 * or -1 on a timeout. */
int pw_wait_value(int want, int ms) {
    struct timespec t = after_ms(ms);
    int r = 0;
    pthread_mutex_lock(&cond_lock);
    while (value < want && r == 0)
        r = pthread_cond_timedwait(&cond, &cond_lock, &t);
    int seen = value >= want ? value : -1;
    pthread_mutex_unlock(&cond_lock);
    return seen;
}

/* Waits with pthread_cond_wait, no time limit: for a waker that is sure. */
int pw_wait_value_plain(int want) {
    pthread_mutex_lock(&cond_lock);
    while (value < want)
        pthread_cond_wait(&cond, &cond_lock);
    int seen = value;
    pthread_mutex_unlock(&cond_lock);
    return seen;
}

void pw_set_value(int v) {
    pthread_mutex_lock(&cond_lock);
    value = v;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&cond_lock);
}

int pw_sem_init(void) { return sem_init(&sem, 0, 0); }

/* Waits for the semaphore at most `ms`: 0, or errno. */
int pw_sem_wait(int ms) {
    struct timespec t = after_ms(ms);
    while (sem_timedwait(&sem, &t) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

int pw_sem_wait_plain(void) { return sem_wait(&sem) == 0 ? 0 : errno; }

int pw_sem_post(void) { return sem_post(&sem); }

static void *nap(void *arg) {
    struct timespec t = {0, (long)(size_t)arg * 1000000L};
    nanosleep(&t, NULL);
    return arg;
}

/* Starts a thread that sleeps `ms` and joins it: `ms` back, or -1. */
int pw_join_sleeper(int ms) {
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, nap, (void *)(size_t)ms) != 0)
        return -1;
    if (pthread_join(t, &ret) != 0)
        return -1;
    return (int)(size_t)ret;
}
