/* checkpoint_series.c — a checkpoint series on disk: PATH.step<12 digits>.h5
 * names, listing, finding the newest valid one (falling back past damaged
 * files), rotation to --keep files, and the one-writer lock PATH.lock.
 * No HDF5 here beyond ddp_ckpt_verify; saving and loading are checkpoint.c. */
#include "ddptrain/checkpoint.h"
#include "ddptrain/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- rotation ------------------------------------------------------------ */

#define STEP_DIGITS 12
#define MAX_SERIES 4096

/* base without a trailing ".h5" */
static void series_base(const char *base, char *out, size_t out_bytes)
{
    snprintf(out, out_bytes, "%s", base);
    size_t n = strlen(out);
    if (n > 3 && strcmp(out + n - 3, ".h5") == 0) out[n - 3] = '\0';
}

int ddp_ckpt_step_path(const char *base, int64_t step, char *out, size_t out_bytes)
{
    char b[4096];
    series_base(base, b, sizeof b);
    int w = snprintf(out, out_bytes, "%s.step%0*lld.h5", b, STEP_DIGITS, (long long)step);
    return (w < 0 || (size_t)w >= out_bytes) ? -1 : 0;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

/* Split base into directory and file-name prefix "name.step". */
static void split_series(const char *base, char *dir, size_t dir_bytes, char *prefix, size_t prefix_bytes)
{
    char b[4096];
    series_base(base, b, sizeof b);
    const char *slash = strrchr(b, '/');
    if (slash) {
        snprintf(dir, dir_bytes, "%.*s", (int)(slash - b) > 0 ? (int)(slash - b) : 1, b);
        snprintf(prefix, prefix_bytes, "%s.step", slash + 1);
    } else {
        snprintf(dir, dir_bytes, ".");
        snprintf(prefix, prefix_bytes, "%s.step", b);
    }
}

int ddp_ckpt_list(const char *base, int64_t *steps, int max_steps)
{
    char dir[4096], prefix[1024];
    split_series(base, dir, sizeof dir, prefix, sizeof prefix);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    size_t plen = strlen(prefix);
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max_steps;) {
        const char *name = e->d_name;
        if (strncmp(name, prefix, plen) != 0) continue;
        const char *digits = name + plen;
        int ok = strlen(digits) == STEP_DIGITS + 3 && strcmp(digits + STEP_DIGITS, ".h5") == 0;
        int64_t step = 0;
        for (int i = 0; ok && i < STEP_DIGITS; i++) {
            if (digits[i] < '0' || digits[i] > '9') ok = 0;
            else step = step * 10 + (digits[i] - '0');
        }
        if (ok) steps[n++] = step;
    }
    closedir(d);
    qsort(steps, (size_t)n, sizeof *steps, cmp_desc);
    return n;
}

int ddp_ckpt_find_latest(const char *base, char *path_out, size_t out_bytes, char *warn, char *err)
{
    int64_t steps[MAX_SERIES];
    int n = ddp_ckpt_list(base, steps, MAX_SERIES);
    if (n == 0) return 1;
    size_t used = warn ? strlen(warn) : 0;
    for (int i = 0; i < n; i++) {
        char why[DDP_ERR_LEN];
        ddp_ckpt_step_path(base, steps[i], path_out, out_bytes);
        if (ddp_ckpt_verify(path_out, why) == DDP_OK) return DDP_OK;
        if (warn && used < DDP_ERR_LEN) {
            int w = snprintf(warn + used, DDP_ERR_LEN - used, "%sskipped %s: %s", used ? "; " : "", path_out, why);
            if (w > 0) used += (size_t)w;
        }
    }
    ddp_errf(err, "no valid checkpoint in the series %s (%d file(s), none passes its checksums); remove them to "
             "start afresh, or point --checkpoint elsewhere", base, n);
    return DDP_EXIT_USAGE;
}

void ddp_ckpt_rotate(const char *base, int64_t keep)
{
    int64_t steps[MAX_SERIES];
    int n = ddp_ckpt_list(base, steps, MAX_SERIES);
    for (int i = (int)keep; i < n; i++) {
        char path[4096];
        if (ddp_ckpt_step_path(base, steps[i], path, sizeof path) == 0) unlink(path);
    }
    /* temp files left by a writer killed mid-save (PATH.stepN.h5.tmp.<pid>) */
    char dir[4096], prefix[1024];
    split_series(base, dir, sizeof dir, prefix, sizeof prefix);
    DIR *d = opendir(dir);
    if (!d) return;
    char self[32];
    snprintf(self, sizeof self, ".tmp.%ld", (long)getpid());
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || !strstr(e->d_name, ".h5.tmp.")) continue;
        if (strstr(e->d_name, self)) continue; /* ours, being written */
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* mkdir -p of the directory part of `path` */
static void make_parent_dirs(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
}

int ddp_ckpt_lock(const char *base, int *fd_out, char *err)
{
    char b[4096], path[4200];
    series_base(base, b, sizeof b);
    make_parent_dirs(b);
    snprintf(path, sizeof path, "%s.lock", b);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ddp_errf(err, "--checkpoint %s: cannot create the lock file %s: %s (directory missing or not writable?)",
                 base, path, strerror(errno));
        return DDP_EXIT_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ddp_errf(err, "--checkpoint %s: another job is writing this checkpoint series (%s is locked); use another "
                 "--checkpoint path or wait for that job", base, path);
        close(fd);
        return DDP_EXIT_USAGE;
    }
    *fd_out = fd;
    return DDP_OK;
}
