/*
 * The console holder's program (see runtime/console.py), exec'd by the
 * container's first child once it has forked the init:
 *
 *   console-holder NAME LOG_FD LISTEN_FD CHANNEL_FD LOG LOG_SIZE ROTATE EXIT_FILE SOCKET
 *
 * It lives as long as the container, once per container, so it is a small
 * static C program (as LXC's monitor and podman's conmon are): about 0.1 MiB
 * of private memory (bench/console_memory.py). Built with the package
 * (setup.py); it keeps the pseudo-terminal masters the init hands over on
 * CHANNEL_FD, logs the console into LOG (bounded by LOG_SIZE bytes, 0: no
 * bound; rotated to LOG.1 when ROTATE is 1, else truncated), serves
 * `hacontain console` on LISTEN_FD, and when the init (its only child) ends,
 * writes "PID exit N" or "PID signal N" to EXIT_FILE and exits with N (128 + N
 * for a signal). NAME only names the container in `ps`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define CHUNK 65536
#define MAX_FDS 64                       /* console master, its slave, the tty masters */
#define MAX_TTYS (MAX_FDS - 2)
#define LOG_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC)

struct log {
    int fd;
    const char *path;
    long long size, limit;
    int rotate;
};

static struct {
    struct log log;
    int signals, listener, channel;
    int console, console_slave, peer;    /* -1 until there is one */
    int ttys[MAX_TTYS], tty_count;
    int tty_client[MAX_TTYS + 1];        /* tty number -> the connection that has it, or -1 */
    const char *exit_file, *socket_file;
    dev_t socket_device;
    ino_t socket_inode;
} holder;

static char buffer[CHUNK];

/* -- the console log, bounded: renamed to PATH.1 (or truncated) when full -- */

static void log_make_room(struct log *log)
{
    if (log->rotate) {
        char rotated[PATH_MAX + 3];
        if (snprintf(rotated, sizeof rotated, "%s.1", log->path) >= (int)sizeof rotated
            || rename(log->path, rotated) < 0)
            return;
        int fd = open(log->path, LOG_FLAGS, 0640);
        if (fd < 0)
            return;
        close(log->fd);
        log->fd = fd;
    } else if (ftruncate(log->fd, 0) < 0) {
        return;
    }
    log->size = 0;
}

static size_t log_part(struct log *log, size_t length)
{
    /* How much of `length` bytes goes to the file now, room made first if need be
     * (0: none could be). Output that fits in an empty file is not split; a larger
     * piece (the guest wrote faster than the holder read) fills the file up to the
     * bound: every file stays within it. */
    if (!log->limit || (long long)length <= log->limit - log->size)
        return length;
    if (log->size >= log->limit || (long long)length <= log->limit) {
        log_make_room(log);
        if (log->size > 0)
            return 0;
        return (long long)length <= log->limit ? length : (size_t)log->limit;
    }
    return (size_t)(log->limit - log->size);
}

static void log_write(struct log *log, const char *data, size_t length)
{
    while (length) {
        size_t part = log_part(log, length);
        if (part == 0)
            return;                      /* no room can be made: drop it */
        ssize_t written = write(log->fd, data, part);
        if (written <= 0)
            return;                      /* a full disk must not stop the console */
        log->size += written;
        data += written;
        length -= (size_t)written;
    }
}

/* -- small helpers -- */

static void write_some(int fd, const char *data, size_t length)
{
    /* What `fd` takes now; a full terminal drops the rest (never block the holder). */
    if (write(fd, data, length) < 0)
        return;
}

static void send_fd(int conn, const char *message, int fd)
{
    struct iovec part = {(void *)message, strlen(message)};
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = &part, .msg_iovlen = 1,
                         .msg_control = control.space, .msg_controllen = sizeof control.space};
    struct cmsghdr *header = CMSG_FIRSTHDR(&msg);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof fd);
    sendmsg(conn, &msg, MSG_NOSIGNAL);
}

static void refuse(int conn, const char *why)
{
    char message[256];
    int length = snprintf(message, sizeof message, "error %s", why);
    send(conn, message, (size_t)length, MSG_NOSIGNAL);
}

/* -- the init's terminals -- */

static void receive_terminals(void)
{
    /* The console master, its slave and the tty masters, in one message on the channel. */
    char byte;
    struct iovec part = {&byte, 1};
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(MAX_FDS * sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = &part, .msg_iovlen = 1,
                         .msg_control = control.space, .msg_controllen = sizeof control.space};
    int fds[MAX_FDS], count = 0;
    if (recvmsg(holder.channel, &msg, MSG_CMSG_CLOEXEC) > 0) {
        for (struct cmsghdr *header = CMSG_FIRSTHDR(&msg); header;
             header = CMSG_NXTHDR(&msg, header)) {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS)
                continue;
            int n = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < n && count < MAX_FDS; i++)
                memcpy(&fds[count++], CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        }
    }
    close(holder.channel);
    holder.channel = -1;
    if (count < 2)
        return;
    holder.console = fds[0];
    holder.console_slave = fds[1];
    holder.tty_count = count - 2;
    memcpy(holder.ttys, fds + 2, (size_t)holder.tty_count * sizeof(int));
    fcntl(holder.console, F_SETFL, fcntl(holder.console, F_GETFL) | O_NONBLOCK);
}

/* -- the console's bytes -- */

static void from_console(int drain)
{
    do {
        ssize_t length = read(holder.console, buffer, sizeof buffer);
        if (length <= 0)
            return;                      /* EAGAIN: nothing more; EIO: no slave open */
        log_write(&holder.log, buffer, (size_t)length);
        if (holder.peer >= 0)
            write_some(holder.peer, buffer, (size_t)length);
    } while (drain);
}

static void close_peer(void)
{
    ioctl(holder.peer, TIOCNOTTY);
    close(holder.peer);
    holder.peer = -1;
}

static void from_peer(void)
{
    ssize_t length = read(holder.peer, buffer, sizeof buffer);
    if (length < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (length > 0)
        write_some(holder.console, buffer, (size_t)length);
    else
        close_peer();                    /* the client closed its end */
}

static void copy_window_size(void)
{
    /* SIGWINCH: the client resized the peer, our controlling terminal. */
    struct winsize size;
    if (holder.peer >= 0 && holder.console >= 0 && ioctl(holder.peer, TIOCGWINSZ, &size) == 0)
        ioctl(holder.console, TIOCSWINSZ, &size);
}

/* -- clients -- */

static int make_peer(void)
{
    /* A host pseudo-terminal whose slave, our controlling terminal, is proxied to the
     * console; its master, for the client. Raw from the start: console output
     * written before the client could change it must not get a second CR. */
    int master, slave;
    struct termios settings;
    if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
        return -1;
    if (tcgetattr(slave, &settings) == 0) {
        cfmakeraw(&settings);
        tcsetattr(slave, TCSANOW, &settings);
    }
    ioctl(slave, TIOCSCTTY, 0);          /* failing, window sizes will not follow */
    fcntl(slave, F_SETFL, fcntl(slave, F_GETFL) | O_NONBLOCK);
    fcntl(slave, F_SETFD, FD_CLOEXEC);
    holder.peer = slave;
    return master;
}

static int parse_tty(const char *text, long *tty)
{
    char *end;
    errno = 0;
    *tty = strtol(text, &end, 10);
    while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
        end++;
    return errno == 0 && end != text && *end == '\0';
}

static int answer(int conn)
{
    /* Serve one request; 1 when the connection now holds a tty (kept open). */
    struct timeval timeout = {2, 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    struct ucred peer;
    socklen_t size = sizeof peer;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &size) < 0 || peer.uid != 0) {
        refuse(conn, "only root may use the console");
        return 0;
    }
    char request[17];
    ssize_t length = recv(conn, request, 16, 0);
    long tty;
    request[length > 0 ? length : 0] = '\0';
    if (length <= 0 || !parse_tty(request, &tty)) {
        refuse(conn, "a bad request");
        return 0;
    }
    if (holder.console < 0) {
        refuse(conn, "the container's terminals are not ready");
        return 0;
    }
    char message[64];
    if (tty == 0) {
        if (holder.peer >= 0) {
            refuse(conn, "the console is in use by another client");
            return 0;
        }
        int master = make_peer();
        if (master < 0) {
            refuse(conn, "no pseudo-terminal for the console's client");
            return 0;
        }
        snprintf(message, sizeof message, "ok %lld", holder.log.size);
        send_fd(conn, message, master);
        close(master);
        return 0;
    }
    if (tty < 1 || tty > holder.tty_count) {
        snprintf(message, sizeof message, "there is no tty %ld (lxc.tty.max = %d)",
                 tty, holder.tty_count);
        refuse(conn, message);
        return 0;
    }
    if (holder.tty_client[tty] >= 0) {
        snprintf(message, sizeof message, "tty %ld is in use by another client", tty);
        refuse(conn, message);
        return 0;
    }
    send_fd(conn, "ok 0", holder.ttys[tty - 1]);
    holder.tty_client[tty] = conn;
    return 1;
}

static void accept_client(void)
{
    int conn = accept4(holder.listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn >= 0 && !answer(conn))
        close(conn);
}

static void release_tty(int tty)
{
    close(holder.tty_client[tty]);
    holder.tty_client[tty] = -1;
}

/* -- the init -- */

static int finish(pid_t pid, int status)
{
    /* The init has ended (pid 0: it was never ours): log the rest, record how it ended. */
    if (holder.channel >= 0)             /* an init that died at once: take its output too */
        receive_terminals();
    if (holder.console >= 0)
        from_console(1);
    struct stat socket_stat;
    if (stat(holder.socket_file, &socket_stat) == 0 && socket_stat.st_ino == holder.socket_inode
        && socket_stat.st_dev == holder.socket_device)
        unlink(holder.socket_file);
    int signaled = pid && WIFSIGNALED(status);
    int number = !pid ? 0 : signaled ? WTERMSIG(status) : WEXITSTATUS(status);
    if (pid) {                           /* one small write: a reader sees all or nothing */
        char line[64];
        int length = snprintf(line, sizeof line, "%d %s %d\n", (int)pid,
                              signaled ? "signal" : "exit", number);
        int fd = open(holder.exit_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            write_some(fd, line, (size_t)length);
            close(fd);
        }
    }
    return signaled ? 128 + number : number;
}

static void drain_signals(void)
{
    struct signalfd_siginfo info;
    while (read(holder.signals, &info, sizeof info) == sizeof info)
        if (info.ssi_signo == SIGWINCH)
            copy_window_size();
}

static int serve(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == ECHILD)
            return finish(0, 0);
        if (pid > 0)
            return finish(pid, status);
        struct pollfd fds[4 + MAX_TTYS];
        int count = 0;
        fds[count++] = (struct pollfd){holder.signals, POLLIN, 0};
        fds[count++] = (struct pollfd){holder.channel, POLLIN, 0};   /* -1: ignored; */
        fds[count++] = (struct pollfd){holder.listener, POLLIN, 0};  /* before clients */
        fds[count++] = (struct pollfd){holder.console, POLLIN, 0};
        if (holder.peer >= 0)
            fds[count++] = (struct pollfd){holder.peer, POLLIN, 0};
        for (int tty = 1; tty <= holder.tty_count; tty++)
            if (holder.tty_client[tty] >= 0)
                fds[count++] = (struct pollfd){holder.tty_client[tty], POLLIN, 0};
        if (poll(fds, (nfds_t)count, -1) < 0)
            continue;
        int peer = holder.peer;          /* what this round polled */
        for (int i = 0; i < count; i++) {
            if (!fds[i].revents)
                continue;
            int fd = fds[i].fd;
            if (fd == holder.signals)
                drain_signals();
            else if (fd == holder.channel)
                receive_terminals();
            else if (fd == holder.listener)
                accept_client();
            else if (fd == holder.console)
                from_console(0);
            else if (fd == peer && fd == holder.peer)
                from_peer();
            else
                for (int tty = 1; tty <= holder.tty_count; tty++)
                    if (holder.tty_client[tty] == fd)
                        release_tty(tty);    /* the client went away */
        }
    }
}

static long long number_argument(const char *text, const char *what)
{
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end || value < 0) {
        fprintf(stderr, "console-holder: %s %s is not a number\n", what, text);
        exit(2);
    }
    return value;
}

static int descriptor_argument(const char *text, const char *what)
{
    long long fd = number_argument(text, what);
    if (fd > INT_MAX || fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "console-holder: %s %s is not an open file descriptor\n", what, text);
        exit(2);
    }
    return (int)fd;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: console-holder NAME LOG_FD LISTEN_FD CHANNEL_FD LOG LOG_SIZE"
                        " ROTATE EXIT_FILE SOCKET\n");
        return 2;
    }
    holder.log.fd = descriptor_argument(argv[2], "LOG_FD");
    holder.listener = descriptor_argument(argv[3], "LISTEN_FD");
    holder.channel = descriptor_argument(argv[4], "CHANNEL_FD");
    holder.log.path = argv[5];
    holder.log.limit = number_argument(argv[6], "LOG_SIZE");
    holder.log.rotate = strcmp(argv[7], "1") == 0;
    holder.exit_file = argv[8];
    holder.socket_file = argv[9];
    holder.console = holder.console_slave = holder.peer = -1;
    for (int tty = 0; tty <= MAX_TTYS; tty++)
        holder.tty_client[tty] = -1;
    struct stat file;
    holder.log.size = fstat(holder.log.fd, &file) == 0 ? file.st_size : 0;
    if (stat(holder.socket_file, &file) == 0) {  /* ours, to remove unless replaced */
        holder.socket_device = file.st_dev;
        holder.socket_inode = file.st_ino;
    }
    fcntl(holder.listener, F_SETFL, fcntl(holder.listener, F_GETFL) | O_NONBLOCK);

    /* SIGCHLD (the init ended) and SIGWINCH (the client resized the peer) come as
     * reads; SIGHUP (the peer, our terminal, hung up) and SIGPIPE are ignored. */
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGWINCH);
    struct sigaction keep_zombies = {.sa_handler = SIG_DFL};
    sigaction(SIGCHLD, &keep_zombies, NULL);     /* never inherit SIG_IGN: it reaps */
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &wanted, NULL);
    holder.signals = signalfd(-1, &wanted, SFD_NONBLOCK | SFD_CLOEXEC);
    if (holder.signals < 0) {
        perror("console-holder: signalfd");
        return 2;
    }
    return serve();
}
