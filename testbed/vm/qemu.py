"""The qemu command line of one test VM (building it only: no processes here)."""

from dataclasses import dataclass
from pathlib import Path

AGENT_PORT = "hacontain.agent"


@dataclass(frozen=True)
class Link:
    """One end of a VM-to-VM Ethernet link: qemu UDP sockets on 127.0.0.1."""

    mac: str
    local_port: int
    peer_port: int
    ip: str  # address/prefix inside the VM, in 192.0.2.0/24


@dataclass(frozen=True)
class VmSpec:
    """What a test VM looks like; the same spec restarts it with the same disks and link."""

    name: str
    memory_mb: int = 512
    data_disk_size: str = "256M"
    link: Link | None = None
    share: Path | None = None  # host folder shared read-only at the same path in the VM
    exchange: Path | None = None  # host folder shared read-write as 9p tag "exchange" (not mounted)
    shared_disk: Path | None = None  # raw file every VM naming it writes (vdc): a shared SAN LUN


def kernel_cmdline(spec):
    """Kernel parameters: serial console, root disk, and what the guest's setup.sh reads."""
    words = [
        "console=ttyS0", "root=/dev/vda", "rw", "net.ifnames=0", "panic=-1", "mitigations=off",
        f"hacontain.hostname={spec.name}",
    ]
    if spec.link:
        words.append(f"hacontain.ip={spec.link.ip}")
    if spec.share:
        words.append(f"hacontain.share={spec.share}")
    return " ".join(words)


def qemu_argv(spec, image, workdir, qemu="qemu-system-x86_64"):
    """argv of qemu for ``spec`` booting ``image``, with its disks and sockets in ``workdir``."""
    workdir = Path(workdir)
    argv = [
        qemu, "-name", spec.name,
        "-accel", "tcg", "-machine", "q35", "-smp", "1", "-m", str(spec.memory_mb),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", kernel_cmdline(spec),
        "-serial", f"file:{workdir / 'console.log'}",
        "-drive", f"file={workdir / 'root.qcow2'},if=virtio,format=qcow2",
        "-drive", f"file={workdir / 'data.qcow2'},if=virtio,format=qcow2",
        "-device", "virtio-serial-pci",
        "-chardev", f"socket,id=agent,path={workdir / 'agent.sock'},server=on,wait=off",
        "-device", f"virtserialport,chardev=agent,name={AGENT_PORT}",
    ]
    if spec.share:
        argv += ["-virtfs", f"local,path={spec.share},mount_tag=host,security_model=none,readonly=on"]
    if spec.exchange:
        argv += ["-virtfs", f"local,path={spec.exchange},mount_tag=exchange,security_model=none"]
    if spec.shared_disk:  # raw, cached only in the host's page cache: each VM sees the other's writes
        argv += ["-drive", f"file={spec.shared_disk},if=none,id=shared,format=raw",  # slot 0x10:
                 "-device", "virtio-blk-pci,drive=shared,share-rw=on,serial=shared,addr=0x10"]  # after vda
    if spec.link:
        link = spec.link
        argv += [
            "-netdev", f"socket,id=link,udp=127.0.0.1:{link.peer_port},localaddr=127.0.0.1:{link.local_port}",
            "-device", f"virtio-net-pci,netdev=link,mac={link.mac}",
        ]
    return argv
