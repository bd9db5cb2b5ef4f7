#!/bin/sh
# One-time setup of a hacontain test VM, run by init before the guest agent:
# kernel file systems, pure cgroup v2, modules, hostname, network and the
# read-only project checkout. There is no udev and no systemd here.
#
# Kernel command line parameters it reads:
#   hacontain.hostname=NAME   hacontain.ip=ADDR/PREFIX (on eth0)
#   hacontain.share=PATH      (mount point of the host's 9p share "host")
set -u

hostname=vm ip= share=
for word in $(cat /proc/cmdline); do
    case $word in
        hacontain.hostname=*) hostname=${word#*=} ;;
        hacontain.ip=*) ip=${word#*=} ;;
        hacontain.share=*) share=${word#*=} ;;
    esac
done

mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# A fresh /run: no stale /run/udev/control to make libdevmapper wait for udev.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
# Controllers on for the root's children, as systemd leaves them on a cluster node.
echo "+cpuset +cpu +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control

hostname "$hostname"
echo "$hostname" > /etc/hostname

modprobe -a virtio_net virtio_console 9pnet_virtio 9p dm_mod
ip link set lo up
if [ -n "$ip" ]; then
    ip addr add "$ip" dev eth0
    ip link set eth0 up
fi
if [ -n "$share" ]; then
    mkdir -p "$share"
    mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose host "$share" ||
        echo "setup: cannot mount the 9p share at $share" >&2
    # The shared checkout's hacontain command, where deploy/install.sh would put it.
    cat > /usr/bin/hacontain <<COMMAND
#!/bin/sh
PYTHONPATH=$share exec python3 -c 'import sys; from hacontain.cli import main; sys.exit(main(prog_name="hacontain"))' "\$@"
COMMAND
    chmod 755 /usr/bin/hacontain
fi
echo "setup: $hostname ready for the agent"
