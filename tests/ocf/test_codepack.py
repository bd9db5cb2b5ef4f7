"""codepack: the agent's modules served from one file while their sources are
unchanged, the usual import otherwise; and the installed agent using it."""

import os
import subprocess
import sys

import pytest

from hacontain.ocf import codepack
from hacontain.ocf.install import PACK, install_agent, python_command

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Imports `names` with the pack in use (when given), then prints, per module, the class
# of its loader, the value of its VALUE and its __file__.
IMPORTER = """
import sys
sys.path.insert(0, sys.argv[1])
from hacontain.ocf.codepack import use
print(use(sys.argv[2]))
for name in sys.argv[3:]:
    module = __import__(name, fromlist=["*"])
    print(name, type(module.__spec__.loader).__name__, getattr(module, "VALUE", None),
          module.__file__, list(getattr(module, "__path__", [])))
"""


@pytest.fixture
def package(tmp_path):
    """A package `hacontain` (a copy of the real codepack in it, so the child can
    load it) with a module, a subpackage and a module in it."""
    root = tmp_path / "tree"
    (root / "hacontain" / "ocf").mkdir(parents=True)
    (root / "hacontain" / "sub").mkdir()
    (root / "hacontain" / "__init__.py").write_text("")
    (root / "hacontain" / "ocf" / "__init__.py").write_text("")
    with open(codepack.__file__, encoding="utf-8") as handle:
        (root / "hacontain" / "ocf" / "codepack.py").write_text(handle.read())
    (root / "hacontain" / "one.py").write_text("VALUE = 1\n")
    (root / "hacontain" / "sub" / "__init__.py").write_text("VALUE = 'sub'\n")
    (root / "hacontain" / "sub" / "two.py").write_text("VALUE = 2\n")
    return root


def run_importer(root, pack, *names):
    result = subprocess.run([sys.executable, "-SI", "-c", IMPORTER, str(root), str(pack), *names],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    used, *lines = result.stdout.splitlines()
    return used == "True", {line.split()[0]: line.split(" ", 4)[1:] for line in lines}


def test_the_pack_holds_every_module_of_the_package_and_the_standard_ones(package, tmp_path):
    from importlib.util import find_spec
    standard = [name for name in codepack.STANDARD if find_spec(name).origin.endswith(".py")]
    assert standard, "the start imports some standard modules that are not frozen"
    assert codepack.build(str(tmp_path / "pack"), str(package / "hacontain")) == 6 + len(standard)


@pytest.mark.parametrize("source", [b"VALUE = (\n", b"VALUE = 2\x00\n"])
def test_a_module_that_does_not_compile_stops_the_build_naming_its_file(package, tmp_path,
                                                                         source):
    """A damaged install: a clear error, and the pack built before stays as it was."""
    from hacontain.errors import HacontainError
    pack = tmp_path / "pack"
    codepack.build(str(pack), str(package / "hacontain"))
    before = pack.read_bytes()
    (package / "hacontain" / "sub" / "two.py").write_bytes(source)
    with pytest.raises(HacontainError, match=r"hacontain/sub/two\.py does not compile"):
        codepack.build(str(pack), str(package / "hacontain"))
    assert pack.read_bytes() == before
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []


def test_packed_modules_come_from_the_pack_with_their_usual_attributes(package, tmp_path):
    pack = tmp_path / "pack"
    codepack.build(str(pack), str(package / "hacontain"))
    used, modules = run_importer(package, pack, "hacontain.one", "hacontain.sub.two",
                                 "hacontain.sub", "struct")
    assert used
    assert modules["hacontain.one"][:3] == ["PackedLoader", "1",
                                            str(package / "hacontain" / "one.py")]
    assert modules["hacontain.sub.two"][:2] == ["PackedLoader", "2"]
    assert modules["hacontain.sub"][3] == repr([str(package / "hacontain" / "sub")])
    assert modules["struct"][0] == "PackedLoader"


SPEC_PRINTER = """
import sys
sys.path.insert(0, sys.argv[1])
from hacontain.ocf.codepack import use
use(sys.argv[2])
for name in sys.argv[3:]:
    module = __import__(name, fromlist=["*"])
    spec = module.__spec__
    print(repr((name, spec.name, spec.origin, spec.cached, spec.parent, spec.has_location,
                spec.submodule_search_locations, module.__file__, module.__cached__,
                module.__package__, getattr(module, "__path__", None))))
"""


def test_packed_specs_are_those_of_the_usual_import(package, tmp_path):
    """The pack's finder makes each spec from what build() recorded, not through
    spec_from_file_location: the spec and the module's attributes are the same."""
    pack = tmp_path / "pack"
    codepack.build(str(pack), str(package / "hacontain"))
    names = ["hacontain.one", "hacontain.sub", "hacontain.sub.two", "struct"]

    def printed(pack_path):
        result = subprocess.run([sys.executable, "-SI", "-c", SPEC_PRINTER, str(package),
                                 str(pack_path), *names],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert printed(pack) == printed(tmp_path / "no-pack")


def test_a_pack_of_the_former_format_is_not_used(package, tmp_path):
    pack = tmp_path / "pack"
    codepack.build(str(pack), str(package / "hacontain"))
    data = pack.read_bytes()
    pack.write_bytes(data.replace(codepack.FORMAT, b"", 1))   # the head format 1 had
    used, modules = run_importer(package, pack, "hacontain.one")
    assert not used and modules["hacontain.one"][:2] == ["SourceFileLoader", "1"]


def test_a_source_with_its_old_size_and_time_is_served_from_the_pack(package, tmp_path):
    """The check a .pyc gets: size and modification time (here to the ns)."""
    pack = tmp_path / "pack"
    codepack.build(str(pack), str(package / "hacontain"))
    source = package / "hacontain" / "one.py"
    before = os.stat(source)
    source.write_text("VALUE = 7\n")
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert run_importer(package, pack, "hacontain.one")[1]["hacontain.one"][1] == "1"


def test_a_changed_source_is_imported_the_usual_way(package, tmp_path):
    pack = tmp_path / "pack"
    codepack.build(str(pack), str(package / "hacontain"))
    source = package / "hacontain" / "sub" / "two.py"
    source.write_text("VALUE = 22\n")
    os.utime(source, ns=(0, os.stat(source).st_mtime_ns + 10**9))
    used, modules = run_importer(package, pack, "hacontain.sub.two", "hacontain.one")
    assert used and modules["hacontain.sub.two"][1] == "22"
    assert modules["hacontain.one"][:2] == ["PackedLoader", "1"]


def test_a_module_added_after_the_pack_is_imported_the_usual_way(package, tmp_path):
    pack = tmp_path / "pack"
    codepack.build(str(pack), str(package / "hacontain"))
    (package / "hacontain" / "sub" / "three.py").write_text("VALUE = 3\n")
    modules = run_importer(package, pack, "hacontain.sub.three")[1]
    assert modules["hacontain.sub.three"][:2] == ["SourceFileLoader", "3"]


@pytest.mark.parametrize("content", [None, b"", b"garbage" * 10,
                                     b"\x00\x00\x0d\x0a" + b"\x00" * 16])
def test_a_missing_damaged_or_foreign_pack_changes_nothing(package, tmp_path, content):
    pack = tmp_path / "pack"
    if content is not None:
        pack.write_bytes(content)
    used, modules = run_importer(package, pack, "hacontain.one", "hacontain.sub.two")
    assert not used
    assert modules["hacontain.one"][:2] == ["SourceFileLoader", "1"]
    assert modules["hacontain.sub.two"][:2] == ["SourceFileLoader", "2"]


def test_the_installed_agent_imports_hacontain_from_its_pack(tmp_path):
    """Of hacontain's modules, only those that load the pack are read from their .pyc."""
    install_agent(str(tmp_path))
    pack = tmp_path / PACK
    assert pack.is_file()
    python, flags, *code = python_command(str(pack))
    trace = tmp_path / "trace"
    result = subprocess.run(["strace", "-qq", "-e", "trace=openat", "-o", str(trace),
                             python, flags, *code, "meta-data"],
                            capture_output=True, env={}, timeout=60)
    assert result.returncode == 0 and b"<resource-agent" in result.stdout, result.stderr
    read = {line.split('"')[1] for line in trace.read_text().splitlines()
            if ".pyc" in line and "/hacontain/" in line}
    assert {os.path.basename(path).split(".")[0] for path in read} <= \
        {"__init__", "entry", "codepack"}, read
