#!/usr/bin/env python3
"""Flag bash 4+ constructs in bash scripts that must run on macOS's /bin/bash 3.2.57.

Usage: python tools/check_bash32.py FILE...

Each finding is printed as `FILE:LINE: <construct>: not in bash 3.2; use <alternative>`.
Exit status: 0 when every file is clean, 1 when anything was found, 2 on a usage error
(no file given, or a file that cannot be read).

What it checks: `declare/local/typeset -A` (associative arrays), `-n` (namerefs), `-g`,
`-l`/`-u` (case attributes); `mapfile`/`readarray`; `${x,,}` `${x^^}` and friends; `|&`;
`&>>`; `;&` and `;;&` in case; negative array subscripts; `${x:off:-len}`; `coproc`;
`wait -n/-f/-p`; `test -v`, `[ -v`, `[[ -v` (and -R); `${x@Q}`-style transformations;
`$EPOCHSECONDS`, `$EPOCHREALTIME`, `$BASHPID`, `$SRANDOM`, `$BASH_ARGV0`;
`printf '%(...)T'`; `exec {fd}>file`; bash 4+ `shopt` options (globstar, lastpipe, ...);
`{a..b..step}` and zero-padded `{01..10}` brace expansions; and, in scripts that turn on
`set -u`, `"${array[@]}"` not written as `${array[@]+"${array[@]}"}` (bash before 4.4
calls an empty array unbound).

How: a small lexer blanks comments, single-quoted and $'...' strings and the bodies of
quoted here-documents, then regular expressions run over what is left, line by line.
Limits: it is not a bash parser. Quotes nested inside "$(...)" in a double-quoted string
are not tracked, so a quote there can hide or expose text; text in double quotes is kept
(expansions happen there), so a log message naming a construct is flagged; `#` is taken
as a comment only at the start of a word; an unquoted here-document delimiter must start
with a letter or `_` (so that arithmetic `<<` is not taken for one). The empty-array
check cannot know that an array is never empty, so it also flags arrays that always have
elements (write the `+` form anyway: it costs nothing). The printf check reads
single-quoted format strings, so a `%(...)T` quoted inside other text is flagged.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

USAGE = "usage: python tools/check_bash32.py FILE..."

# Arrays bash always defines; an empty-array expansion of these is not a script bug.
SPECIAL_ARRAYS = frozenset(
    "BASH_REMATCH BASH_SOURCE BASH_LINENO BASH_ARGV BASH_ARGC FUNCNAME PIPESTATUS "
    "GROUPS DIRSTACK BASH_VERSINFO".split()
)

# shopt options that bash 3.2 rejects ("invalid shell option name"), with what to use.
BASH4_SHOPTS = {
    "globstar": "find, or explicit loops over each directory level",
    "lastpipe": "process substitution: while read ...; done < <(cmd)",
    "inherit_errexit": "explicit `|| exit` after command substitutions",
}
OTHER_BASH4_SHOPTS = (
    "autocd checkjobs dirspell direxpand globasciiranges localvar_inherit localvar_unset "
    "assoc_expand_once patsub_replacement noexpand_translation varredir_close compat31 "
    "compat32 compat40 compat41 compat42 compat43 compat44".split()
)
SHOPT_RE = re.compile(r"(?<![\w-])shopt\b([^;&|\n]*)")

# flag -> (what it is, the bash 3.2 alternative)
DECLARE_FLAGS = {
    "A": ("associative array", "indexed arrays, parallel arrays or a case lookup"),
    "n": ("nameref", 'indirect expansion ${!name} or printf -v "$name"'),
    "g": ("global from a function", "a plain assignment (variables are global by default)"),
    "l": ("lowercase attribute", "tr '[:upper:]' '[:lower:]'"),
    "u": ("uppercase attribute", "tr '[:lower:]' '[:upper:]'"),
}

NAME = r"[A-Za-z_][A-Za-z0-9_]*"

# (regex, construct, alternative); all run on the code with comments and
# single-quoted text blanked.
PATTERNS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"(?<![\w-])(?:mapfile|readarray)\b"),
     "mapfile/readarray", 'while IFS= read -r line; do arr+=("$line"); done'),
    (re.compile(r"\$\{[#!]?" + NAME + r"(?:\[[^]]*\])?(?:,,?|\^\^?)"),
     "case modification ${x,,} / ${x^^}", "tr '[:upper:]' '[:lower:]' (or the reverse)"),
    (re.compile(r"(?<![|>])\|&"), "|& (pipe stderr too)", "2>&1 |"),
    (re.compile(r"&>>"), "&>> (append stdout and stderr)", ">>file 2>&1"),
    (re.compile(r";;&"), ";;& case fall-through", "separate case statements"),
    (re.compile(r"(?<!;);&(?!>)"), ";& case fall-through", "the commands repeated in each branch"),
    (re.compile(r"\$\{" + NAME + r"\[\s*-\s*[0-9$]"),
     "negative array subscript ${a[-1]}", '${a[${#a[@]}-1]}'),
    (re.compile(r"(?<![\w$])" + NAME + r"\[\s*-\s*[0-9]+\s*\]="),
     "negative array subscript in an assignment", "a[${#a[@]}-1]=value"),
    (re.compile(r"\$\{" + NAME + r"(?:\[[^]]*\])?:[^:}]*:\s*-"),
     "negative length ${x:offset:-n}", '${x:offset:${#x}-offset-n}'),
    (re.compile(r"(?<![\w-])coproc\b"), "coproc", "a background job with mkfifo pipes"),
    (re.compile(r"(?<![\w-])wait\s+(?:-\w*\s+)*-\w*[nfp]"),
     "wait -n/-f/-p", '"wait $pid" for each background pid'),
    (re.compile(r"(?:(?<![\w-])test|\[\[?)\s+(?:!\s+)?-[vR]\s"),
     "test -v / [[ -v ]]", '[ -n "${name+set}" ]'),
    (re.compile(r"\$\{[#!]?" + NAME + r"(?:\[[^]]*\])?@[QEPAaKkULu]\}"),
     "${x@op} transformation", "printf '%q' or a plain expansion"),
    (re.compile(r"\$\{?(?:EPOCHSECONDS|EPOCHREALTIME)\b"), "$EPOCHSECONDS/$EPOCHREALTIME",
     "$(date +%s)"),
    (re.compile(r"\$\{?BASHPID\b"), "$BASHPID", "$$ (in a subshell: $(sh -c 'echo $PPID'))"),
    (re.compile(r"\$\{?(?:SRANDOM|BASH_ARGV0)\b"), "$SRANDOM/$BASH_ARGV0", "$RANDOM / $0"),
    (re.compile(r"(?<![\w$])\{" + NAME + r"\}(?:>>|<>|>&|<&|>|<)"),
     "exec {fd}> (automatic fd)", "a fixed descriptor: exec 3>file"),
    (re.compile(r"(?<!\$)\{-?\w+\.\.-?\w+\.\.-?\d+\}"),
     "brace expansion with a step {a..b..n}", "seq or a C-style for loop"),
    (re.compile(r"(?<!\$)\{-?0\d+\.\.-?\d+\}"),
     "zero-padded brace expansion {01..10}", "printf '%02d' in a loop"),
]

DECLARE_RE = re.compile(r"(?<![\w-])(declare|typeset|local)((?:\s+-[A-Za-z]+)+)")
PRINTF_TIME_RE = re.compile(r"(?<![\w-])printf\b[^\n]*%[-+ #0-9.]*\([^)\n]*\)T")
NOUNSET_RE = re.compile(r"(?<![\w-])set\s+(?:-[A-Za-z]*u|(?:-[A-Za-z]*\s+)*-o\s+nounset)")
ARRAY_ALL_RE = re.compile(r"\$\{(" + NAME + r")\[[@*]\]\}")
# An unquoted delimiter must start like a word, so that `$(( x << 2 ))` is not taken
# for a here-document.
HEREDOC_RE = re.compile(r"<<(-?)\s*(\\?)(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\3")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    construct: str
    alternative: str

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: {self.construct}: not in bash 3.2; "
                f"use {self.alternative}")


def strip_code(text: str) -> tuple[str, str]:
    """Return (code, no_comments): the text with comments blanked, and additionally with
    single-quoted strings, $'...' strings and quoted here-document bodies blanked.

    Newlines are kept, so line numbers match the input."""
    code: list[str] = []
    no_comments: list[str] = []
    i, n = 0, len(text)
    state = "normal"  # normal | squote | ansi | dquote | comment
    pending_heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, quoted, strip_tabs)

    def emit(ch: str, in_code: bool, in_nocomment: bool = True) -> None:
        keep = ch == "\n"
        code.append(ch if (in_code or keep) else " ")
        no_comments.append(ch if (in_nocomment or keep) else " ")

    while i < n:
        ch = text[i]
        if state == "normal":
            if ch == "\\" and i + 1 < n:
                emit(ch, True)
                emit(text[i + 1], True)
                i += 2
                continue
            if ch == "#" and (i == 0 or text[i - 1] in " \t\n;&|()"):
                state = "comment"
                emit(ch, False, False)
            elif ch == "'":
                state = "squote"
                emit(ch, True)
            elif ch == "$" and text.startswith("$'", i):
                state = "ansi"
                emit(ch, True)
                emit("'", True)
                i += 2
                continue
            elif ch == '"':
                state = "dquote"
                emit(ch, True)
            elif ch == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
                match = HEREDOC_RE.match(text, i)
                if match:
                    quoted = bool(match.group(2) or match.group(3))
                    pending_heredocs.append((match.group(4), quoted, match.group(1) == "-"))
                    for c in match.group(0):
                        emit(c, True)
                    i = match.end()
                    continue
                emit(ch, True)
            elif ch == "\n" and pending_heredocs:
                emit(ch, True)
                i = skip_heredocs(text, i + 1, pending_heredocs, emit)
                pending_heredocs = []
                continue
            else:
                emit(ch, True)
        elif state == "comment":
            if ch == "\n":
                state = "normal"
                emit(ch, True)
                if pending_heredocs:
                    i = skip_heredocs(text, i + 1, pending_heredocs, emit)
                    pending_heredocs = []
                    continue
            else:
                emit(ch, False, False)
        elif state == "squote":
            if ch == "'":
                state = "normal"
                emit(ch, True)
            else:
                emit(ch, False)
        elif state == "ansi":
            if ch == "\\" and i + 1 < n:
                emit(ch, False)
                emit(text[i + 1], False)
                i += 2
                continue
            if ch == "'":
                state = "normal"
                emit(ch, True)
            else:
                emit(ch, False)
        else:  # dquote: expansions happen here, so the text stays code
            if ch == "\\" and i + 1 < n:
                emit(ch, True)
                emit(text[i + 1], True)
                i += 2
                continue
            if ch == '"':
                state = "normal"
            emit(ch, True)
        i += 1
    return "".join(code), "".join(no_comments)


def skip_heredocs(text, start, heredocs, emit) -> int:
    """Emit here-document bodies starting at `start`; return the index after the last
    delimiter line. Quoted bodies are blanked (no expansion happens in them)."""
    i = start
    for delimiter, quoted, strip_tabs in heredocs:
        while i < len(text):
            end = text.find("\n", i)
            end = len(text) if end == -1 else end
            line = text[i:end]
            is_end = (line.lstrip("\t") if strip_tabs else line) == delimiter
            keep = not quoted or is_end
            for c in line:
                emit(c, keep, keep)
            if end < len(text):
                emit("\n", True)
            i = end + 1
            if is_end:
                break
    return i


def check_text(path: str, text: str) -> list[Finding]:
    """Return the findings for one script's text, sorted by line."""
    code, no_comments = strip_code(text)
    code_lines = code.split("\n")
    found: dict[tuple[int, str], Finding] = {}

    def add(line: int, construct: str, alternative: str) -> None:
        found.setdefault((line, construct), Finding(path, line, construct, alternative))

    for number, line in enumerate(code_lines, start=1):
        for regex, construct, alternative in PATTERNS:
            if regex.search(line):
                add(number, construct, alternative)
        for match in SHOPT_RE.finditer(line):
            for option in match.group(1).split():
                if option in BASH4_SHOPTS or option in OTHER_BASH4_SHOPTS:
                    add(number, f"shopt {option}",
                        BASH4_SHOPTS.get(option, "code that does not need this option"))
        for match in DECLARE_RE.finditer(line):
            flags = "".join(f.lstrip("-") for f in match.group(2).split())
            for flag, (what, alternative) in DECLARE_FLAGS.items():
                if flag in flags:
                    add(number, f"{match.group(1)} -{flag} ({what})", alternative)
    for number, line in enumerate(no_comments.split("\n"), start=1):
        if PRINTF_TIME_RE.search(line):
            add(number, "printf %(...)T", "date '+...'")
    if NOUNSET_RE.search(code):
        for number, line in enumerate(code_lines, start=1):
            for match in ARRAY_ALL_RE.finditer(line):
                name = match.group(1)
                guard = "${" + name + "[" + match.group(0)[len(name) + 3] + "]+"
                prefix = line[: match.start()].rstrip('"')
                if name in SPECIAL_ARRAYS or prefix.endswith(guard):
                    continue
                add(number, f'"{match.group(0)}" under set -u (an empty array is unbound)',
                    f'${{{name}[@]+"${{{name}[@]}}"}}')
    return sorted(found.values(), key=lambda f: (f.line, f.construct))


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    findings: list[Finding] = []
    for path in argv:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError as error:
            print(f"check_bash32: cannot read {path}: {error.strerror}", file=sys.stderr)
            print(USAGE, file=sys.stderr)
            return 2
        findings.extend(check_text(path, text))
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
