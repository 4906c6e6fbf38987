"""Mutation documents: compile once, render many times under an alias.

The batcher puts several mutations into one request as aliased top-level fields, each with its variables
renamed under a per-alias prefix (a request of one mutation sends the source as written). That needs only
GraphQL's lexical structure, so this module carries a small lexer instead of importing graphql-core, whose
import alone costs ~80 ms of Lambda cold start.
Full validation against a schema stays with graphql-core, offline (``streambridge check``) and server-side.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import NamedTuple

from streambridge._errors import DocumentError

logger = logging.getLogger("streambridge")

# Where a variable reference gets its per-alias prefix. NUL cannot occur in a GraphQL source text.
PREFIX = "\x00"

_TOKEN = re.compile(
    r"""
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
    |(?P<block>\"\"\"(?:\\\"\"\"|[^\"]|\"(?!\"\"))*\"\"\")
    |(?P<string>"(?:[^"\\\n\r]|\\.)*")
    |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[_A-Za-z][_0-9A-Za-z]*)
    |(?P<punct>\.\.\.|[!$&()\:=@\[\]{|}])
    """,
    re.VERBOSE,
)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            why = "unterminated string" if char == '"' else f"unexpected character {char!r}"
            raise _syntax_error(text, position, why)
        if match.lastgroup != "skip":
            tokens.append(match.group())
        position = match.end()
    return tokens


class Variable(NamedTuple):
    """One variable definition of a mutation document."""

    name: str
    definition: str
    """Printed definition with the name prefixed by PREFIX, e.g. ``$\\x00input: OrderInput!``."""
    required: bool


class CompiledDocument(NamedTuple):
    """A user's mutation document, ready to be rendered under any alias prefix.

    Built by ``compile_document`` only, which also derives the last three fields (read for every record).
    """

    source: str
    fields: tuple[str, ...]
    """Top-level fields without alias, variable references prefixed by PREFIX."""
    response_keys: tuple[str, ...]
    """The keys of the answer's ``data`` when the document is sent as written (a field's alias or name)."""
    variables: tuple[Variable, ...]
    fragments: tuple[tuple[str, str], ...]
    """(name, printed definition) of the document's fragments."""
    batchable: bool
    """False when fragments use variables: they cannot be renamed per alias, so send it alone."""
    variable_names: frozenset[str]
    """Names of the defined variables."""
    definitions: str
    """The variable definitions joined as they are printed in a request (PREFIX placeholders)."""
    required_names: tuple[str, ...]
    """Names of the variables that must be given and not null, in definition order."""


class _Parser:
    """Walks the token list of one document; just enough grammar to find what the batcher needs."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.at = 0
        self.inner_aliases: list[str] = []

    def fail(self, why: str, at: int | None = None) -> DocumentError:
        """The error at token ``at`` (default: the next token, the one ``peek`` sees), with its line."""
        return _syntax_error(self.source, _token_offset(self.source, self.at if at is None else at), why)

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            wanted = f", expected {expected!r}" if expected else ""
            raise self.fail(f"unexpected end of the document{wanted}")
        if expected is not None and token != expected:
            raise self.fail(f"expected {expected!r}, found {token!r}")
        self.at += 1
        return token

    def take_name(self) -> str:
        token = self.take()
        if not _is_name(token):
            raise self.fail(f"expected a name, found {token!r}", self.at - 1)
        return token

    def balanced(self, opening: str, closing: str) -> list[str]:
        """Tokens from an opening bracket to its closing one, inclusive; prefixes variable references."""
        out = [self.take(opening)]
        depth = 1
        while depth:
            token = self.take()
            if token == "$":
                out.append("$" + PREFIX + self.take_name())
                continue
            depth += (token in "([{") - (token in ")]}") if len(token) == 1 else 0
            out.append(token)
        return out

    def directives(self) -> list[str]:
        out: list[str] = []
        while self.peek() == "@":
            out += [self.take(), self.take_name()]
            if self.peek() == "(":
                out += self.balanced("(", ")")
        return out

    def selection_set(self) -> list[str]:
        """A selection set below the top level; notes aliases there, which leave subscribers with nulls."""
        out = [self.take("{")]
        while self.peek() != "}":
            out += self.selection()
        out.append(self.take("}"))
        return out

    def selection(self) -> list[str]:
        """One selection below the top level: any alias here is an inner alias."""
        if self.peek() == "...":
            out = [self.take()]
            if self.peek() == "on":
                out += [self.take(), self.take_name()]
            elif self.peek() not in ("@", "{"):
                out.append(self.take_name())
                return out + self.directives()
            return out + self.directives() + self.selection_set()
        name = self.take_name()
        out = [name]
        if self.peek() == ":":
            self.inner_aliases.append(name)
            out += [self.take(), self.take_name()]
        if self.peek() == "(":
            out += self.balanced("(", ")")
        out += self.directives()
        if self.peek() == "{":
            out += self.selection_set()
        return out

    def top_level_fields(self) -> tuple[list[str], list[str]]:
        """The operation's fields: (printed fields without alias, response keys as written)."""
        self.take("{")
        fields: list[str] = []
        keys: list[str] = []
        while self.peek() != "}":
            if self.peek() == "...":
                raise self.fail("fragment spreads at the top level of a mutation are not supported")
            name = key = self.take_name()
            if self.peek() == ":":  # in a batch a top-level alias is ours to choose: drop the user's
                self.take()
                name = self.take_name()
            rest: list[str] = []
            if self.peek() == "(":
                rest += self.balanced("(", ")")
            rest += self.directives()
            if self.peek() == "{":
                rest += self.selection_set()
            fields.append(_join([name, *rest]))
            keys.append(key)
        self.take("}")
        if not fields:
            raise self.fail("the mutation selects no field", self.at - 1)
        return fields, keys

    def variable_definitions(self) -> list[Variable]:
        variables: list[Variable] = []
        if self.peek() != "(":
            return variables
        self.take("(")
        while self.peek() != ")":
            self.take("$")
            name = self.take_name()
            self.take(":")
            type_tokens: list[str] = []
            while self.peek() not in ("=", "@", "$", ")", None):
                type_tokens.append(self.take())
            if not type_tokens:
                raise self.fail(f"variable ${name} has no type")
            definition = ["$" + PREFIX + name, ":", *type_tokens]
            has_default = self.peek() == "="
            if has_default:
                definition.append(self.take())
                definition += self.value()
            definition += self.directives()
            required = type_tokens[-1] == "!" and not has_default
            variables.append(Variable(name, _join(definition), required))
        self.take(")")
        return variables

    def value(self) -> list[str]:
        opening = self.peek()
        if opening == "[":
            return self.balanced("[", "]")
        if opening == "{":
            return self.balanced("{", "}")
        return [self.take()]


def _is_name(token: str) -> bool:
    return token[0] == "_" or token[0].isalpha()


def _join(tokens: list[str]) -> str:
    """Print tokens compactly: a space only where two tokens would otherwise run together."""
    out: list[str] = []
    previous = ""
    for token in tokens:
        if previous and _WORDLIKE.match(previous[-1]) and _WORDLIKE.match(token[0]):
            out.append(" ")
        out.append(token)
        previous = token
    return "".join(out)


_WORDLIKE = re.compile(r'[\w"\-]')


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 80 else flat[:77] + "...")


# Syntax errors: where, and the line with a caret under the column. Computed only when raising: the
# tokens keep no offsets, so compiling a valid document pays nothing for them.

_LINE_BREAK = re.compile(r"\r\n|[\n\r]")  # GraphQL's line terminators
_EXCERPT_WIDTH = 100


def _token_offset(text: str, index: int) -> int:
    """Where token ``index`` starts in ``text``; past the last token, where the last token ends."""
    position = end = count = 0
    while position < len(text) and (match := _TOKEN.match(text, position)) is not None:
        if match.lastgroup != "skip":
            if count == index:
                return match.start()
            count, end = count + 1, match.end()
        position = match.end()
    return end


def _syntax_error(text: str, offset: int, why: str) -> DocumentError:
    line, column = line_column(text, offset)
    return DocumentError(
        f"mutation document does not parse: {why} (at line {line}, column {column})\n"
        + excerpt(text, line, column)
    )


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``offset`` in ``text``, counted as graphql-core counts them."""
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, match.end()
    return line, offset - start + 1


def excerpt(text: str, line: int, column: int) -> str:
    """Line ``line`` of ``text`` with a caret under ``column`` below it, indented, as a compiler shows it.

    Tabs are expanded; a line longer than a screen is cut around the column, the cuts marked ``...``.
    """
    lines = _LINE_BREAK.split(text)
    raw = lines[min(line, len(lines)) - 1]
    caret = len(raw[: column - 1].expandtabs(4))
    shown = raw.expandtabs(4).rstrip()
    if len(shown) > _EXCERPT_WIDTH:
        start = max(0, min(caret - _EXCERPT_WIDTH // 2, len(shown) - _EXCERPT_WIDTH))
        end = start + _EXCERPT_WIDTH
        head, tail = ("..." if start else ""), ("..." if end < len(shown) else "")
        shown, caret = head + shown[start:end] + tail, caret - start + len(head)
    return f"    {shown}\n    {' ' * caret}^"


@lru_cache(maxsize=512)
def compile_document(source: str) -> CompiledDocument:
    """Compile a mutation document; raises DocumentError with the reason when it cannot be used."""
    parser = _Parser(source)
    if not parser.tokens:
        raise DocumentError("mutation document is empty")
    operations: list[tuple[str, list[Variable], tuple[list[str], list[str]]]] = []
    fragments: list[tuple[str, str]] = []
    fragments_use_variables = False
    while parser.peek() is not None:
        keyword = parser.take()
        if keyword == "fragment":
            name = parser.take_name()
            head = ["fragment", name, parser.take("on"), parser.take_name(), *parser.directives()]
            body = parser.selection_set()
            fragments_use_variables |= any(t.startswith("$") for t in body)
            fragments.append((name, _join(head + body)))
        elif keyword in ("mutation", "query", "subscription") or keyword == "{":
            if keyword == "{":
                keyword, parser.at = "query", parser.at - 1
            elif parser.peek() not in ("(", "{", "@"):
                parser.take_name()
            variables = parser.variable_definitions()
            parser.directives()
            if keyword != "mutation":
                raise DocumentError(f"expected a mutation, found a {keyword}: {_short(source)}")
            operations.append((keyword, variables, parser.top_level_fields()))
        else:
            raise parser.fail(f"unexpected {keyword!r} at the top level", parser.at - 1)
    if len(operations) != 1:
        raise DocumentError(f"a mutation document needs exactly one operation, found {len(operations)}")
    _, variables, (fields, keys) = operations[0]
    if parser.inner_aliases:
        logger.warning(
            "streambridge: mutation document aliases inner fields (%s): AppSync subscribers of it "
            "receive null for aliased fields; select the fields without aliases",
            ", ".join(sorted(set(parser.inner_aliases))),
        )
    return CompiledDocument(
        source=source,
        fields=tuple(fields),
        response_keys=tuple(dict.fromkeys(keys)),
        variables=tuple(variables),
        fragments=tuple(fragments),
        batchable=not fragments_use_variables,
        variable_names=frozenset(v.name for v in variables),
        definitions=", ".join(v.definition for v in variables),
        required_names=tuple(v.name for v in variables if v.required),
    )
