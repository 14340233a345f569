"""A small INI-style configuration reader.

Supports [sections], `key = value` and `key: value` pairs, full-line comments that
start with '#' or ';', continuation lines (an indented line extends the previous
value), a DEFAULT section whose options every section inherits, and ${key} or
${section:key} references to other options of the same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

DEFAULT_SECTION = "DEFAULT"

_SECTION_RE = re.compile(r"^\[(?P<name>[^\]]+)\]$")
_OPTION_RE = re.compile(r"^(?P<key>[^=:\s][^=:]*?)\s*[=:]\s*(?P<value>.*)$")
_REFERENCE_RE = re.compile(r"\$\{(?:(?P<section>[^:}]+):)?(?P<key>[^}]+)\}")
_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


class ParseError(ValueError):
    """A line that is neither a section header, an option, a comment nor blank."""

    def __init__(self, message: str, lineno: int, line: str) -> None:
        super().__init__(f"line {lineno}: {message}: {line!r}")
        self.lineno = lineno
        self.line = line


class InterpolationError(KeyError):
    """A ${...} reference to a missing option, or references nested too deeply."""


@dataclass
class Section:
    name: str
    options: Dict[str, str] = field(default_factory=dict)
    lines: Dict[str, int] = field(default_factory=dict)

    def __contains__(self, key: str) -> bool:
        return key.lower() in self.options


class Config:
    """Parsed configuration. Option names are case-insensitive, section names are not."""

    def __init__(self, max_depth: int = 10) -> None:
        self.max_depth = max_depth
        self._sections: Dict[str, Section] = {DEFAULT_SECTION: Section(DEFAULT_SECTION)}

    @classmethod
    def from_string(cls, text: str) -> "Config":
        config = cls()
        config.read_string(text)
        return config

    def read_string(self, text: str) -> None:
        section = self._sections[DEFAULT_SECTION]
        last_key: Optional[str] = None
        for lineno, raw in enumerate(text.splitlines()):
            line = raw.rstrip()
            stripped = line.strip()
            if not stripped:
                last_key = None
                continue
            if stripped[0] in "#;":
                continue
            if line[0].isspace() and last_key is not None:
                section.options[last_key] += "\n" + stripped
                continue
            match = _SECTION_RE.match(stripped)
            if match:
                name = match.group("name").strip()
                section = self._sections.setdefault(name, Section(name))
                last_key = None
                continue
            match = _OPTION_RE.match(stripped)
            if not match:
                raise ParseError("expected 'key = value' or '[section]'", lineno, raw)
            key = match.group("key").strip().lower()
            if key in section.options:
                raise ParseError(f"duplicate option {key!r} in [{section.name}]", lineno, raw)
            section.options[key] = match.group("value").strip()
            section.lines[key] = lineno
            last_key = key

    def sections(self) -> List[str]:
        return [name for name in self._sections if name != DEFAULT_SECTION]

    def options(self, section: str) -> List[str]:
        keys = dict.fromkeys(self._section(section).options)
        keys.update(dict.fromkeys(self._sections[DEFAULT_SECTION].options))
        return list(keys)

    def get(self, section: str, key: str, fallback: Optional[str] = None, raw: bool = False) -> Optional[str]:
        value = self._lookup(section, key.lower())
        if value is None:
            return fallback
        return value if raw else self._interpolate(section, value, 0)

    def getint(self, section: str, key: str, fallback: Optional[int] = None) -> Optional[int]:
        value = self.get(section, key)
        if value is None:
            return fallback
        try:
            return int(value, 0)
        except ValueError:
            raise ValueError(f"[{section}] {key}: {value!r} is not an integer") from None

    def getboolean(self, section: str, key: str, fallback: Optional[bool] = None) -> Optional[bool]:
        value = self.get(section, key)
        if value is None:
            return fallback
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"[{section}] {key}: {value!r} is not a boolean")

    def getlist(self, section: str, key: str, separator: str = ",") -> List[str]:
        value = self.get(section, key)
        if value is None:
            return []
        items = value.replace("\n", separator).split(separator)
        return [item.strip() for item in items if item.strip()]

    def items(self, section: str) -> Iterator[Tuple[str, Optional[str]]]:
        for key in self.options(section):
            yield key, self.get(section, key)

    def _section(self, name: str) -> Section:
        try:
            return self._sections[name]
        except KeyError:
            raise KeyError(f"no section [{name}]") from None

    def _lookup(self, section: str, key: str) -> Optional[str]:
        own = self._section(section).options.get(key)
        if own is not None:
            return own
        return self._sections[DEFAULT_SECTION].options.get(key)

    def _interpolate(self, section: str, value: str, depth: int) -> str:
        if "${" not in value:
            return value
        if depth >= self.max_depth:
            raise InterpolationError(f"[{section}]: references nested deeper than {self.max_depth} in {value!r}")

        def replace(match: "re.Match[str]") -> str:
            target = (match.group("section") or section).strip()
            key = match.group("key").strip().lower()
            found = self._lookup(target, key) if target in self._sections else None
            if found is None:
                raise InterpolationError(f"[{section}]: {match.group(0)} refers to a missing option")
            return self._interpolate(target, found, depth + 1)

        return _REFERENCE_RE.sub(replace, value)
