#!/usr/bin/env python3
"""Tests scripts/md2man.py: the Markdown constructs our docs use come out as the roff we expect,
and the two real pages (docs/command-line.md -> postern(1), docs/configuration.md ->
postern.toml(5)) render without a single warning under `groff -ww -man -z` and, when mandoc is
installed, `mandoc -T lint -W warning`.

    python3 tests/packaging/md2man_test.py
"""
import os
import shutil
import subprocess
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import md2man  # noqa: E402

PAGES = [
    ("postern", "1", "reverse proxy and load balancer", "docs/command-line.md"),
    ("postern.toml", "5", "Postern configuration file", "docs/configuration.md"),
]


def conv(md):
    return md2man.convert(md, "x", "1", "summary", "2026-01-01", "in.md")


class Inline(unittest.TestCase):
    def test_code_is_bold_with_real_minus(self):
        self.assertEqual(md2man.inline("run `postern check -c f`"), r"run \fBpostern check \-c f\fR")

    def test_bold_emphasis_link(self):
        self.assertEqual(md2man.inline("**a** *b* _c_ [d](d.md) [e](https://e.org)"),
                         r"\fBa\fR \fIb\fR \fIc\fR d e <https://e.org>")

    def test_backslash_and_non_ascii(self):
        self.assertEqual(md2man.inline("a\\b \u2265 1 \u2014 \u00e9"), r"a\eb \(>= 1 \(em \[u00E9]")

    def test_snake_case_is_not_emphasis(self):
        self.assertEqual(md2man.inline("max_connections_per_client"), "max_connections_per_client")


class Blocks(unittest.TestCase):
    def test_title_dropped_description_added(self):
        out = conv("# Title\n\nText.\n").splitlines()
        self.assertIn(".SH NAME", out)
        self.assertNotIn("Title", "\n".join(out))
        self.assertEqual(out[out.index(".SH DESCRIPTION") + 1], "Text.")

    def test_headings(self):
        out = conv("## `[gateway]`\n\nx\n\n### Sub\n\ny\n")
        self.assertIn('.SH "[GATEWAY]"\nx\n', out)
        self.assertIn('.SS "Sub"\ny\n', out)

    def test_leading_dot_is_not_a_request(self):
        self.assertIn("\\&.toml files", conv("text\n\n.toml files\n"))

    def test_code_block(self):
        out = conv("para\n\n```toml\n[a]\n.b = 1\n\nc-d\n```\n")
        self.assertIn(".RS 4\n.nf\n[a]\n\\&.b = 1\n\nc\\-d\n.fi\n.RE\n", out)

    def test_table_rows_become_tagged_paragraphs(self):
        out = conv("| key | type | meaning |\n|---|---|---|\n| `a` | int | the `a` \u2014 x |\n")
        self.assertIn(".TP\n\\fBa\\fR\ntype: int\n.br\nthe \\fBa\\fR \\(em x\n", out)

    def test_pipe_inside_code_does_not_split(self):
        self.assertEqual(md2man.split_row("| `a|b` | c |"), ["`a|b`", "c"])

    def test_lists_with_continuation(self):
        out = conv("- one\n  more\n- two\n1. first\n")
        self.assertIn(".IP \\(bu 4\none more\n.IP \\(bu 4\ntwo\n.IP 1. 4\nfirst\n", out)

    def test_code_span_across_lines(self):
        self.assertIn("a \\fBb c\\fR d\n", conv("a `b\nc` d\n"))
        self.assertIn(".IP \\(bu 4\nx \\fBy z\\fR\n", conv("- x `y\n  z`\n"))


class RealPages(unittest.TestCase):
    def render(self, name, section, summary, source):
        with open(os.path.join(ROOT, source), encoding="utf-8") as f:
            return md2man.convert(f.read(), name, section, summary, "2026-01-01", source)

    def test_groff_has_no_warnings(self):
        if not shutil.which("groff"):
            self.skipTest("groff is not installed")
        for page in PAGES:
            r = subprocess.run(["groff", "-ww", "-man", "-z"], input=self.render(*page),
                               capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page[3])

    def test_mandoc_lint_has_no_warnings(self):
        if not shutil.which("mandoc"):
            self.skipTest("mandoc is not installed")
        for page in PAGES:
            r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning"], input=self.render(*page),
                               capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), page[3])

    def test_every_config_section_is_in_the_man_page(self):
        out = self.render(*PAGES[1])
        for section in ("[GATEWAY]", "[LOG]", "[[LISTENER]]", "[[POOL]]"):
            self.assertIn('.SH "%s"' % section, out)
        for ss in ("[listener.tls]", "[pool.backend]", "[pool.discovery]", "[pool.probe]"):
            self.assertIn('.SS "%s"' % ss, out)


if __name__ == "__main__":
    unittest.main(verbosity=1)
