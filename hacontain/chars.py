"""Character-set checks of short strings: names, keys and numbers in config values.

They do what small regular expressions would. The agent's start path avoids
`re`: importing it (with enum, which it loads) costs every action about 8 ms
of CPU.
"""

DIGITS = frozenset("0123456789")
LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
LETTERS = LOWER | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
ALNUM = LETTERS | DIGITS
HEX = DIGITS | frozenset("abcdefABCDEF")


def made_of(text, allowed, first=None, least=1, most=None):
    """Whether `text` has `least`..`most` characters, all in `allowed`, and (when
    `first` is given and `text` is not empty) its first one in `first`."""
    if len(text) < least or (most is not None and len(text) > most):
        return False
    if first is not None and text and text[0] not in first:
        return False
    return all(char in allowed for char in text)


def is_number(text):
    """Whether `text` is one or more ASCII digits."""
    return made_of(text, DIGITS)


def shell_words(text):
    """shlex.split(text). Without quotes, backslashes or unusual whitespace, the words
    between spaces and tabs, as shlex gives them, without loading shlex (and re)."""
    if not any(char in text for char in "'\"\\") and text.replace("\t", " ").isprintable():
        return [word for word in text.replace("\t", " ").split(" ") if word]
    import shlex
    return shlex.split(text)
