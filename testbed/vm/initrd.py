"""The VM's initramfs: busybox, the modules to mount the root disk, and a tiny /init."""

from pathlib import Path

from hacontain.errors import NotFound

from .cpio import NewcWriter
from .recipe import INITRD_INIT, INITRD_MODULES


def module_load_order(modules_dir, names):
    """Paths (relative to ``modules_dir``) of ``names`` and their dependencies, dependencies first."""
    deps, by_name = {}, {}
    for line in (Path(modules_dir) / "modules.dep").read_text().splitlines():
        module, _, needs = line.partition(":")
        deps[module] = needs.split()
        by_name[Path(module).name.removesuffix(".ko").replace("-", "_")] = module
    order = []

    def visit(module):
        if module not in order:
            for dep in deps[module]:
                visit(dep)
            order.append(module)

    for name in names:
        if name not in by_name:
            raise NotFound(f"kernel module {name} not in {modules_dir}/modules.dep")
        visit(by_name[name])
    return order


def build_initrd(modules_dir, busybox, out_path, names=INITRD_MODULES):
    """Write an uncompressed initramfs to ``out_path``."""
    order = module_load_order(modules_dir, names)
    with open(out_path, "wb") as out:
        archive = NewcWriter(out)
        for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
            archive.directory(d)
        archive.char_device("dev/console", 5, 1)
        archive.file("bin/busybox", Path(busybox).read_bytes(), mode=0o755)
        archive.file("init", INITRD_INIT.read_bytes(), mode=0o755)
        for module in order:
            archive.file(f"lib/modules/{Path(module).name}", (Path(modules_dir) / module).read_bytes())
        archive.file("modules", "".join(f"{Path(m).name}\n" for m in order).encode())
        archive.close()
