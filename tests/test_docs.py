"""The documentation: every relative link resolves, and every lipflow flag it names exists.

Reads README.md and docs/**/*.md. No network, no pipeline: the flags come from the
command's own argparse parsers and from Apache Beam's pipeline options, which the
commands pass unknown flags on to.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Flags that docs/commands/*.md pages or `lipflow ...` lines may name without lipflow
# defining them. Empty today; name the owner of each flag added here.
NOT_LIPFLOW_FLAGS: frozenset[str] = frozenset()

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
_LIPFLOW = re.compile(r"^(?:\.venv/bin/)?lipflow\s")


def _pages() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))


def _split_fences(text: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """The text with fenced code blocks blanked out (lines kept), and each block's first
    line number and lines."""
    prose, blocks, block = [], [], None
    for number, line in enumerate(text.split("\n"), 1):
        if _FENCE.match(line):
            if block is None:
                block = (number + 1, [])
            else:
                blocks.append(block)
                block = None
            prose.append("")
        elif block is not None:
            block[1].append(line)
            prose.append("")
        else:
            prose.append(line)
    if block is not None:
        blocks.append(block)
    return "\n".join(prose), blocks


def _without_inline_code(prose: str) -> str:
    return _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), prose)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation but hyphens
    and underscores removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").replace("*", "")
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    prose, _ = _split_fences(page.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose.split("\n"):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = _slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(page: Path) -> list[tuple[int, str]]:
    prose, _ = _split_fences(page.read_text(encoding="utf-8"))
    prose = _without_inline_code(prose)
    return [(prose.count("\n", 0, m.start()) + 1, m.group(1)) for m in _LINK.finditer(prose)]


def _broken_link(page: Path, target: str) -> str | None:
    """Why `target`, linked from `page`, does not resolve; None when it does."""
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    if path and not resolved.exists():
        return "no such file or folder"
    if anchor and resolved.suffix == ".md" and resolved.is_file():
        if anchor not in _anchors(resolved):
            return f"no heading #{anchor} in {resolved.relative_to(ROOT)}"
    return None


def test_every_relative_link_resolves():
    broken = []
    for page in _pages():
        for line, target in _links(page):
            if re.match(r"^(https?:|mailto:)", target):
                continue
            why = _broken_link(page, target)
            if why:
                broken.append(f"{page.relative_to(ROOT)}:{line}: ({target}): {why}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    flags = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                flags |= _option_strings(subparser)
    return flags


def _beam_flags() -> set[str]:
    """Every flag of every PipelineOptions class Beam defines. (The preprocess job's own
    options class is not imported here: once imported, its required --input would be
    demanded by every pipeline later built in this process. Its flags come from
    add_preprocess_arguments instead.)"""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    flags: set[str] = set()
    seen, todo = set(), [PipelineOptions]
    while todo:
        for options in todo.pop().__subclasses__():
            if options in seen:
                continue
            seen.add(options)
            todo.append(options)
            parser = _BeamArgumentParser(allow_abbrev=False)
            options._add_argparse_args(parser)
            flags |= set(parser._option_string_actions)
    return flags


def _valid_flags() -> set[str]:
    from lipflow import cli
    from pipelines.preprocess.flags import add_preprocess_arguments

    preprocess = argparse.ArgumentParser()
    add_preprocess_arguments(preprocess, required=False)
    return (_option_strings(cli.build_parser()) | _option_strings(preprocess) | _beam_flags()
            | NOT_LIPFLOW_FLAGS)


def _lipflow_lines(page: Path) -> list[tuple[str, str]]:
    """(where, text) of each code line and inline code span that runs lipflow."""
    prose, blocks = _split_fences(page.read_text(encoding="utf-8"))
    found = []
    for first, block in blocks:
        command, start = "", first
        for number, line in enumerate(block, first):
            command += line.rstrip().removesuffix("\\") + " "
            if line.rstrip().endswith("\\"):
                continue  # the command goes on on the next line
            if _LIPFLOW.match(command.strip() + " "):
                found.append((f"{page.relative_to(ROOT)}:{start}", " ".join(command.split())))
            command, start = "", number + 1
    for match in _INLINE_CODE.finditer(prose):
        span = " ".join(match.group(2).split())
        if _LIPFLOW.match(span + " "):
            line = prose.count("\n", 0, match.start()) + 1
            found.append((f"{page.relative_to(ROOT)}:{line}", span))
    return found


def _command_page_flags(page: Path) -> list[tuple[str, str]]:
    """(where, text) of the first cell of each table row of a command page, and of each
    inline code span there that starts with a flag (`--set fit_on_val=true`)."""
    prose, _ = _split_fences(page.read_text(encoding="utf-8"))
    where = page.relative_to(ROOT)
    found = []
    for number, line in enumerate(prose.split("\n"), 1):
        if line.startswith("|"):
            found.append((f"{where}:{number}", line.split("|")[1]))
    for match in _INLINE_CODE.finditer(prose):
        span = " ".join(match.group(2).split())
        if span.startswith("--"):
            line = prose.count("\n", 0, match.start()) + 1
            found.append((f"{where}:{line}", span))
    return found


def test_every_flag_in_the_docs_exists():
    valid = _valid_flags()
    mentions = []
    for page in _pages():
        mentions += _lipflow_lines(page)
        if page.parent == ROOT / "docs" / "commands":
            mentions += _command_page_flags(page)
    assert len(mentions) > 50, "the docs should name lipflow's flags; did the pages move?"
    unknown = sorted({f"{where}: {flag}" for where, text in mentions
                      for flag in _FLAG.findall(text) if flag not in valid})
    assert not unknown, "flags that no lipflow parser defines:\n" + "\n".join(unknown)


def _table_defaults(page: Path) -> dict[str, str]:
    """`--flag` -> its default in a page's flag table (a row naming two flags, `--a`,
    `--b` | 1, 2, gives each its own)."""
    found = {}
    for flags, cell in re.findall(r"^\| ((?:`--\w+`(?:, )?)+) \| ([^|]*) \|", page.read_text(),
                                  re.M):
        names = re.findall(r"--\w+", flags)
        values = [v.strip() for v in cell.split(",")] if len(names) > 1 else [cell.strip()]
        found.update(zip(names, values))
    return found


def _shown(default) -> str:
    """A parser default as the table writes it: 25.0 as 25, off for False."""
    if default is False:
        return "off"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def test_the_preprocess_flag_table_lists_every_flag_with_the_parsers_default():
    from pipelines.preprocess.flags import add_preprocess_arguments

    parser = argparse.ArgumentParser()
    add_preprocess_arguments(parser, required=False)
    actions = {a.option_strings[0]: a for a in parser._actions if a.option_strings
               and a.option_strings[0] != "-h"}
    table = _table_defaults(ROOT / "docs" / "commands" / "preprocess.md")
    assert sorted(set(actions) - set(table)) == []  # every flag has a row
    wrong = {flag: (cell, _shown(actions[flag].default)) for flag, cell in table.items()
             if actions[flag].default not in (None, "") and cell != _shown(actions[flag].default)}
    assert wrong == {}  # flag: (the table's default, the parser's)
