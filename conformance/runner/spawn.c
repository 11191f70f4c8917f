/* SPDX-License-Identifier: MIT */
/* `lapis run` children: output captured, each bounded by a deadline and killed past it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#define MAX_CAPTURE (4u << 20) /* per stream; beyond it output is dropped */

unsigned long long conf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

int conf_child_start(struct conf_child *ch, char *const argv[], unsigned timeout_ms)
{
    int out[2], err[2];
    pid_t pid;

    memset(ch, 0, sizeof(*ch));
    ch->pid = -1;
    ch->out_fd = ch->err_fd = -1;
    ch->status = -1;
    if (pipe2(out, O_CLOEXEC))
        return -errno;
    if (pipe2(err, O_CLOEXEC)) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        return -e;
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* both sides, so the kill below never races the child's own call */
    close(out[1]);
    close(err[1]);
    ch->pid = pid;
    ch->out_fd = out[0];
    ch->err_fd = err[0];
    fcntl(ch->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(ch->err_fd, F_SETFL, O_NONBLOCK);
    ch->deadline_ms = conf_now_ms() + timeout_ms;
    return 0;
}

/* Reads what is there; returns false at end of file. */
static bool drain(int fd, char **buf, size_t *len)
{
    char tmp[8192];

    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n > 0) {
            if (*len + (size_t)n > MAX_CAPTURE)
                continue;
            char *nb = realloc(*buf, *len + (size_t)n + 1);
            if (!nb)
                abort();
            memcpy(nb + *len, tmp, (size_t)n);
            *len += (size_t)n;
            nb[*len] = '\0';
            *buf = nb;
            continue;
        }
        if (n == 0)
            return false;
        return errno == EAGAIN || errno == EINTR;
    }
}

static void finish(struct conf_child *ch)
{
    int st;

    if (ch->out_fd >= 0 || ch->err_fd >= 0)
        return; /* still has output coming */
    if (waitpid(ch->pid, &st, 0) == ch->pid) {
        if (WIFEXITED(st))
            ch->status = WEXITSTATUS(st);
        else if (WIFSIGNALED(st))
            ch->status = 128 + WTERMSIG(st);
    }
    ch->done = true;
}

void conf_children_poll(struct conf_child *const *ch, size_t n, int wait_ms)
{
    struct pollfd pfd[64];
    struct conf_child *owner[64];
    int *which[64];
    size_t np = 0;
    unsigned long long now = conf_now_ms();

    for (size_t i = 0; i < n; i++) {
        struct conf_child *c = ch[i];
        if (c->done)
            continue;
        if (!c->timed_out && now >= c->deadline_ms) {
            /* Past its time: the whole process group goes, and what it said is kept. */
            c->timed_out = true;
            kill(-c->pid, SIGKILL);
        }
        if (c->out_fd >= 0 && np < 64) {
            pfd[np] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
            owner[np] = c;
            which[np++] = &c->out_fd;
        }
        if (c->err_fd >= 0 && np < 64) {
            pfd[np] = (struct pollfd){.fd = c->err_fd, .events = POLLIN};
            owner[np] = c;
            which[np++] = &c->err_fd;
        }
    }
    if (np == 0)
        return;
    if (poll(pfd, np, wait_ms) < 0)
        return;
    for (size_t i = 0; i < np; i++) {
        struct conf_child *c = owner[i];
        bool is_out = which[i] == &c->out_fd;
        if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (!drain(*which[i], is_out ? &c->out : &c->err, is_out ? &c->out_len : &c->err_len)) {
            close(*which[i]);
            *which[i] = -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!ch[i]->done && ch[i]->out_fd < 0 && ch[i]->err_fd < 0)
            finish(ch[i]);
}

void conf_child_free(struct conf_child *ch)
{
    if (ch->out_fd >= 0)
        close(ch->out_fd);
    if (ch->err_fd >= 0)
        close(ch->err_fd);
    free(ch->out);
    free(ch->err);
    memset(ch, 0, sizeof(*ch));
    ch->pid = -1;
    ch->out_fd = ch->err_fd = -1;
}
