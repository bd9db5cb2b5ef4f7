/* Containment probes run inside a container: each makes one system call that a
 * protection must refuse, with arguments that keep it harmless when it is not
 * refused. Prints "ok" or "errno=NAME"; exits 0 on success, 1 on failure.
 *
 * Safety rules (checked in review, keep them when adding a probe):
 *   finit_module  /dev/null's fd with an invalid flag: the kernel answers EINVAL
 *                 after its permission check, never reads or loads a module.
 *   kexec_load    17 segments (more than KEXEC_SEGMENT_MAX) and an unknown flag:
 *                 EINVAL after the permission check; 0 segments would UNLOAD a
 *                 loaded kexec kernel, so never 0.
 *   settime       sets CLOCK_REALTIME to the time just read, never another.
 *   umount_force  umount2(MNT_FORCE) of a path that does not exist: ENOENT.
 *   handle        open_by_handle_at on fd -1 and no handle: EFAULT after the
 *                 capability check.
 *   fspick        fspick(2) of the container's / for reconfiguration, closed at
 *                 once: nothing is reconfigured without fsconfig(2).
 *   tiocsti TEXT  pushes TEXT and a newline (TIOCSTI) into the input of the first
 *                 of fd 0, 1, 2 and /dev/tty that takes it. The test runs it on a
 *                 pty it made, read by a shell it runs itself, and TEXT only writes
 *                 a marker file into the test's temporary directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *name_of(int err)
{
    switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case ENOEXEC: return "ENOEXEC";
    case ENOTTY: return "ENOTTY";
    default: return "other";
    }
}

static int report(long result)
{
    if (result == 0) {
        puts("ok");
        return 0;
    }
    printf("errno=%s (%d)\n", name_of(errno), errno);
    return 1;
}

/* Push `text` and a newline into the input of the first terminal that takes it;
 * prints "ok TARGET" (fd0, fd1, fd2, /dev/tty) or the last errno. */
static int push_input(const char *text)
{
    int fds[4] = {0, 1, 2, open("/dev/tty", O_RDWR | O_NOCTTY)};
    const char *names[4] = {"fd0", "fd1", "fd2", "/dev/tty"};
    int err = ENOENT;
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0)
            continue;
        if (ioctl(fds[i], TIOCSTI, text) != 0) {
            err = errno;
            continue;
        }
        for (const char *c = text + 1; *c; c++)
            ioctl(fds[i], TIOCSTI, c);
        ioctl(fds[i], TIOCSTI, "\n");
        printf("ok %s\n", names[i]);
        return 0;
    }
    errno = err;
    return report(-1);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "tiocsti"))
        return push_input(argv[2]);
    if (argc != 2) {
        fputs("usage: hcprobe finit_module|kexec_load|settime|umount_force|handle|fspick"
              "|tiocsti TEXT\n", stderr);
        return 2;
    }
    const char *probe = argv[1];
    if (!strcmp(probe, "finit_module")) {
        int fd = open("/dev/null", O_RDONLY);
        return report(syscall(SYS_finit_module, fd, "", 0x40000000));
    }
    if (!strcmp(probe, "kexec_load"))
        return report(syscall(SYS_kexec_load, 0UL, 17UL, NULL, 0x80UL));
    if (!strcmp(probe, "settime")) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return report(clock_settime(CLOCK_REALTIME, &now));
    }
    if (!strcmp(probe, "umount_force"))
        return report(umount2("/hcprobe-does-not-exist", MNT_FORCE));
    if (!strcmp(probe, "handle"))
        return report(syscall(SYS_open_by_handle_at, -1, NULL, O_RDONLY));
    if (!strcmp(probe, "fspick")) {
        long fd = syscall(SYS_fspick, AT_FDCWD, "/", 0);
        if (fd >= 0)
            close((int)fd);
        return report(fd >= 0 ? 0 : -1);
    }
    fprintf(stderr, "unknown probe %s\n", probe);
    return 2;
}
