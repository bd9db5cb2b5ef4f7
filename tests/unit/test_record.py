"""Record, the value class of configs, plans, states and cgroup types."""

import pytest

from hacontain.record import Record


class Point(Record):
    x: int
    y: int = 0
    tags: list = []
    note: str | None = None
    _uncompared = ("note",)


class Pair(Record):
    a: int
    b: str | None = None
    _uncompared = ("b",)


class Mutable(Record):
    _mutable = True
    name: str
    items: dict = {}


def test_positional_keyword_and_default_construction():
    assert Point(1, 2) == Point(x=1, y=2)
    assert Point(3).y == 0
    assert repr(Point(1)) == "Point(x=1, y=0, tags=[], note=None)"


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {}, "missing field 'x'"),
    ((1, 2, [], None, 5), {}, "takes 4 fields, 5 given"),
    ((1,), {"x": 2}, "unexpected or repeated field 'x'"),
    ((), {"x": 1, "z": 2}, "unexpected or repeated field 'z'"),
])
def test_bad_construction_is_a_type_error(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_immutable_by_default_and_hashable():
    point = Point(1)
    with pytest.raises(AttributeError, match="immutable"):
        point.x = 2
    assert hash(Pair(1)) == hash(Pair(1))
    with pytest.raises(TypeError):          # a list field makes it unhashable, as a tuple would
        hash(Point(1))


def test_uncompared_fields_are_left_out_of_equality_and_hash():
    assert Point(1, note="a") == Point(1, note="b")
    assert hash(Pair(1, "a")) == hash(Pair(1, "b"))
    assert Point(1) != Point(2)


def test_list_and_dict_defaults_are_per_instance():
    first, second = Mutable("a"), Mutable("b")
    first.items["k"] = 1
    assert second.items == {}
    assert Point(1).tags is not Point(1).tags


def test_mutable_records_can_change_and_are_unhashable():
    record = Mutable("a")
    record.name = "b"
    assert record.name == "b"
    with pytest.raises(TypeError):
        hash(record)


def test_replace_and_as_dict():
    point = Point(1, 2, tags=[Point(5)])
    moved = point.replace(y=7)
    assert (moved.x, moved.y, point.y) == (1, 7, 2)
    assert point.as_dict() == {"x": 1, "y": 2, "tags": [{"x": 5, "y": 0, "tags": [], "note": None}],
                               "note": None}


def test_records_of_different_classes_are_not_equal():
    class Other(Record):
        x: int
        y: int = 0
        tags: list = []
        note: str | None = None
    assert Point(1) != Other(1)
