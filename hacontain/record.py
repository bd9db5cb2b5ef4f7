"""Record: the small value class hacontain's data types are made of.

A stand-in for the part of dataclasses hacontain uses. The agent's start
must stay cheap, and dataclasses cost about 20 ms a process there (importing
it pulls in inspect and ast, and each class is generated through exec);
Record needs no import and builds nothing at class creation but a tuple.
"""


class Record:
    """Fields are the class's annotations, in order; class attributes are defaults.

    Construction by position or keyword, equality and hash over the fields
    (but those named in `_uncompared`), repr, replace() and as_dict().
    Instances are immutable unless the class sets `_mutable = True`. A list
    or dict default is copied for each instance.
    """
    _fields = ()
    _uncompared = ()
    _mutable = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = tuple(cls.__annotations__)          # the class's own (Python >= 3.10)
        cls._fields = tuple(name for name in cls._fields if name not in own) + own
        if not cls._mutable and "__hash__" not in cls.__dict__:
            cls.__hash__ = Record._hash

    def __init__(self, *args, **kwargs):
        kind = type(self).__name__
        if len(args) > len(self._fields):
            raise TypeError(f"{kind}() takes {len(self._fields)} fields, {len(args)} given")
        values = dict(zip(self._fields, args))
        for name, value in kwargs.items():
            if name not in self._fields or name in values:
                raise TypeError(f"{kind}() got an unexpected or repeated field {name!r}")
            values[name] = value
        for name in self._fields:
            if name in values:
                value = values[name]
            else:
                try:
                    value = getattr(type(self), name)
                except AttributeError:
                    raise TypeError(f"{kind}() missing field {name!r}") from None
                if isinstance(value, (list, dict)):
                    value = type(value)(value)
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        if not self._mutable:
            raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__}: cannot delete {name}")

    def _compared(self):
        return tuple(getattr(self, name) for name in self._fields if name not in self._uncompared)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()

    __hash__ = None  # mutable records are unhashable; immutable ones get _hash

    def _hash(self):
        return hash(self._compared())

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes):
        """A copy with `changes` applied."""
        return type(self)(**{**self.as_dict(shallow=True), **changes})

    def as_dict(self, shallow=False):
        """The fields as a dict; nested records (also in lists and tuples) as dicts too."""
        if shallow:
            return {name: getattr(self, name) for name in self._fields}
        return {name: _plain(getattr(self, name)) for name in self._fields}


def _plain(value):
    if isinstance(value, Record):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
