#!/usr/bin/env python3
"""docs/man/mkman.py — the man pages, made from what is already the truth.

    python3 docs/man/mkman.py README.md BUILD-DIR OUT-DIR

writes OUT-DIR/cofferctl.1, coffer-gateway.8, coffer-api.8, coffer.conf.5.
Nothing is written twice: the synopses and every verb's and subcommand's
options come from the binaries' own --help (so a new verb appears with no
edit here), the descriptions and the configuration keys from the README
sections named in PAGES.  To document a new verb in cofferctl(1), give it
its usage text (`cofferctl VERB --help`) and, if it needs prose, a
paragraph in the README's "cofferctl reference".  Only python3 and groff's
man macros are needed.
"""
import re
import subprocess
import sys

# page -> (section, one-line summary, README sections, binary or None)
PAGES = {
    "cofferctl": ("1", "Coffer operator and custodian tool",
                  ["cofferctl reference"], "cofferctl"),
    "coffer-gateway": ("8", "Coffer ingest gateway (mTLS, sealing)",
                       ["Gateway configuration"], "coffer-gateway"),
    "coffer-api": ("8", "Coffer eDiscovery API",
                   ["API configuration"], "coffer-api"),
    "coffer.conf": ("5", "configuration files of coffer-gateway and coffer-api",
                    ["Configuration reference"], None),
}
SEE_ALSO = {
    "cofferctl": "coffer-gateway(8), coffer-api(8), coffer.conf(5)",
    "coffer-gateway": "coffer.conf(5), cofferctl(1), coffer-api(8)",
    "coffer-api": "coffer.conf(5), cofferctl(1), coffer-gateway(8)",
    "coffer.conf": "coffer-gateway(8), coffer-api(8), cofferctl(1)",
}


def esc(s):
    """Plain text for roff: backslashes, hyphens, leading control chars."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    if s[:1] in (".", "'"):
        s = "\\&" + s
    return s


def inline(s):
    """Markdown inline marks to roff fonts (`code` bold, *x* italic)."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", s)):
        if i % 2:
            out.append("\\fB" + esc(part) + "\\fR")
        else:
            t = esc(part)
            t = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", t)
            t = re.sub(r"\*([^*]+)\*", r"\\fI\1\\fR", t)
            out.append(t)
    s = "".join(out)
    if s[:1] in (".", "'"):
        s = "\\&" + s
    return s


def section(readme, title):
    """Lines of the README section whose heading starts with title, up to
    the next heading of the same or a higher level (subsections kept), or
    None.  tests/integration/ops_docs.sh reads the README with it too."""
    for i, line in enumerate(readme):
        m = re.match(r"(#+) (.*)", line)
        if m and m.group(2).startswith(title):
            level, body = len(m.group(1)), []
            for l2 in readme[i + 1:]:
                m2 = re.match(r"(#+) ", l2)
                if m2 and len(m2.group(1)) <= level:
                    break
                body.append(l2)
            return body
    return None


def cells_of(line):
    """A Markdown table row's cells; `\\|` is a | inside a cell."""
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def is_rule(line):
    return line.startswith("|") and all(re.fullmatch(r":?-+:?", c)
                                        for c in cells_of(line))


def md_to_roff(lines):
    out, in_code, para = [], False, False
    for n, line in enumerate(lines):
        if line.startswith("```"):
            out.append(".EE" if in_code else ".EX")
            in_code = not in_code
            continue
        if in_code:
            out.append(esc(line) if line else ".sp")
            continue
        m = re.match(r"#+ (.*)", line)
        if m:
            out.append(".SS " + esc(m.group(1).replace("`", "")))
            para = False
            continue
        if line.startswith("|"):
            cells = cells_of(line)
            if is_rule(line) or (n + 1 < len(lines) and is_rule(lines[n + 1])):
                continue            # the rule and the header row above it
            out.append(".TP")
            head = inline(cells[0])
            if len(cells) > 2 and cells[1] == "*required*":
                head += " (required)"
            elif len(cells) > 2:
                head += " (default " + inline(cells[1]) + ")"
            out.append(head)
            out.append(inline(cells[-1]))
            para = False
            continue
        if not line.strip():
            if para:
                out.append(".PP")
            para = False
            continue
        if re.match(r"\s*[-*] ", line):
            out.append(".IP \\(bu 2")
            line = re.sub(r"\s*[-*] ", "", line, count=1)
        out.append(inline(line.strip()))
        para = True
    if in_code:
        out.append(".EE")
    return out


def help_of(build, argv):
    r = subprocess.run([build + "/" + argv[0]] + argv[1:], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if r.returncode != 0:
        sys.exit("mkman: %s exited %d" % (" ".join(argv), r.returncode))
    return r.stdout


def verbs(build):
    text = help_of(build, ["cofferctl", "help"])
    got, on = [], False
    for line in text.splitlines():
        if line.startswith("verbs:"):
            on = True
            continue
        if on and not line.strip():
            break
        if on:
            name, _, summary = line.strip().partition(" ")
            if name != "help":
                got.append((name, summary.strip()))
    return got


def nf(text):
    return [".nf"] + [esc(x) for x in text.rstrip("\n").split("\n")] + [".fi"]


def page(name, readme, build):
    sect, summary, sections, binary = PAGES[name]
    version = help_of(build, ["cofferctl", "--version"]).split()[-1]
    out = ['.TH %s %s "" "coffer %s" "Coffer"' % (name.upper(), sect, version),
           ".SH NAME", "%s \\- %s" % (esc(name), esc(summary)), ".SH SYNOPSIS"]
    if binary == "cofferctl":
        out += nf("cofferctl VERB [SUBCOMMAND] [options]\n"
                  "cofferctl VERB [SUBCOMMAND] --help\n"
                  "cofferctl help | --version")
    elif binary:
        out += nf(help_of(build, [binary, "--help"]).replace("usage: ", ""))
    else:
        out += nf("/etc/coffer/gateway.conf\n/etc/coffer/api.conf")
    out.append(".SH DESCRIPTION")
    for title in sections:
        body = section(readme, title)
        if body is None:
            sys.exit("mkman: README has no section '%s'" % title)
        out += md_to_roff(body)
    if binary == "cofferctl":
        out.append(".SH VERBS")
        for verb, vsum in verbs(build):
            out += [".SS " + esc(verb), esc(vsum), ".PP"]
            out += nf(help_of(build, ["cofferctl", verb, "--help"]))
    if binary:
        out += [".SH OPTIONS", ".TP", "\\fB\\-\\-help\\fR, \\fB\\-h\\fR",
                "print the usage on standard output and exit 0",
                ".TP", "\\fB\\-\\-version\\fR",
                "print \\fBcoffer VERSION\\fR (the same line for the three "
                "programs) and exit 0"]
    out += [".SH SEE ALSO", SEE_ALSO[name]]
    text = "\n".join(out) + "\n"
    # groff reads ASCII: everything else as a named Unicode escape
    return "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in text)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: mkman.py README.md BUILD-DIR OUT-DIR")
    readme = open(sys.argv[1]).read().split("\n")
    for name, (sect, _, _, _) in PAGES.items():
        with open("%s/%s.%s" % (sys.argv[3], name, sect), "w") as f:
            f.write(page(name, readme, sys.argv[2]))


if __name__ == "__main__":
    main()
