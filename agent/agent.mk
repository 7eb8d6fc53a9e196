# agent/agent.mk — coffer-agent (agent/), included by the top-level
# Makefile right after its program list.  The agent is one more program
# of the same shape as gateway/, api/ and ctl/: agent/main.c is the
# binary $(BUILD)/coffer-agent, the other agent/*.c form $(BUILD)/libagent.a,
# which unit tests (tests/unit/test_outbox.c, test_agent_config.c) and the
# fuzz target (tests/fuzz/fuzz_outbox.c) link like the others' libraries.
# Subdirectories (agent/import/) bring their own .mk.
PROGS += $(if $(wildcard agent/main.c),agent)
BINNAME_agent := coffer-agent

# `make install` also installs the agent's page (docs/coffer-agent.8, made
# by docs/man/mkagent.py from the README) and its systemd unit's sample
# config; the unit itself is in ops/systemd/ with the others.
.PHONY: install-agent
install: install-agent
install-agent:
	install -d '$(DESTDIR)$(MANDIR)/man8'
	install -m 0644 docs/coffer-agent.8 '$(DESTDIR)$(MANDIR)/man8/'
