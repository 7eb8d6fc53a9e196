#!/usr/bin/env python3
"""docs/man/mkagent.py — docs/coffer-agent.8 from the README and --help.

    python3 docs/man/mkagent.py README.md BUILD-DIR > docs/coffer-agent.8

The same rule as mkman.py (whose Markdown-to-roff it uses): the page says
only what the README's "coffer-agent" section and `coffer-agent --help`
say.  Kept apart from mkman.py's PAGES so that `make man` and its list of
pages stay as they are until coffer-agent joins them.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkman    # noqa: E402  the README sections, as the man pages read them


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkagent.py README.md BUILD-DIR")
    readme = open(sys.argv[1]).read().split("\n")
    body = mkman.section(readme, "coffer-agent")
    if body is None:
        sys.exit("mkagent: README has no section 'coffer-agent'")
    helptext = subprocess.run([sys.argv[2] + "/coffer-agent", "--help"],
                              stdout=subprocess.PIPE, text=True,
                              check=True).stdout
    syn = helptext.split("\n\n")[0].replace("usage: ", "")
    syn = "\n".join(x.strip() for x in syn.split("\n"))
    out = ['.\\" docs/coffer-agent.8: made by docs/man/mkagent.py from README.md',
           '.\\" ("coffer-agent") and coffer-agent --help; edit those, then remake',
           '.TH COFFER-AGENT 8 "" "coffer" "Coffer"',
           ".SH NAME",
           "coffer\\-agent \\- deliver spooled records to the Coffer gateway "
           "over mutual TLS",
           ".SH SYNOPSIS"] + mkman.nf(syn)
    out += [".SH DESCRIPTION"] + mkman.md_to_roff(body)
    out += [".SH OPTIONS",
            ".TP", "\\fB\\-\\-config\\fR \\fIFILE\\fR",
            "the configuration file (the syntax of \\fBcoffer.conf\\fR(5))",
            ".TP", "\\fB\\-\\-json\\fR", "with \\fBstatus\\fR: one JSON object",
            ".TP", "\\fB\\-\\-help\\fR",
            "print the usage on standard output and exit 0",
            ".TP", "\\fB\\-\\-version\\fR", "print \\fBcoffer VERSION\\fR and exit 0",
            ".SH EXIT STATUS",
            "0 on success or a clean stop (SIGTERM, SIGINT); 1 on a bad "
            "configuration, an unusable or damaged state directory or a failed "
            "journal write; 2 on bad usage.",
            ".SH FILES",
            ".TP", "\\fISTATE\\fR/outbox.journal, \\fISTATE\\fR/receipts.journal",
            "the outbox and the kept receipts",
            ".TP", "\\fISTATE\\fR/status.json", "the daemon's counters",
            ".TP", "\\fISPOOL\\fR/rejected/",
            "lines not delivered, each with its reason",
            ".SH SEE ALSO", "coffer-gateway(8), coffer.conf(5), cofferctl(1)"]
    text = "\n".join(out) + "\n"
    sys.stdout.write("".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c)
                             for c in text))


if __name__ == "__main__":
    main()
