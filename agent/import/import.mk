# agent/import/import.mk — coffer-import and its importers (issue 18.4).
# Included from the top-level Makefile after its library and test rules.
#
# agent/import/*.c but main.c form build/libimport.a; coffer-import links it
# with the gateway library (rec_check, the gateway's own line validator),
# common and vault, plus libxml2 (SMS XML), SQLite (chat.db) and GMime
# (RSMF).  Unit tests
# tests/unit/test_import_*.c link it too; the generic rule builds them
# otherwise the same way (UNIT_SRC already lists them).

# GMime (RSMF's RFC 5322 wrapper) brings GLib: its headers as system
# headers, so -Wstrict-prototypes and friends judge only our code.
IMPORT_PKGS   := libxml-2.0 gmime-3.0
IMPORT_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(IMPORT_PKGS) 2>/dev/null))
IMPORT_LDLIBS := $(shell pkg-config --libs $(IMPORT_PKGS) 2>/dev/null) -lsqlite3
IMPORT_LIBOBJ := $(call obj,$(filter-out agent/import/main.c,$(wildcard agent/import/*.c)))
IMPORT_BIN    := $(BUILD)/coffer-import

$(BUILD)/obj/agent/import/%.o: CFLAGS += $(IMPORT_CFLAGS)

$(BUILD)/libimport.a: $(IMPORT_LIBOBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(IMPORT_BIN): $(BUILD)/obj/agent/import/main.o $(BUILD)/libimport.a \
    $(BUILD)/libgateway.a $(BUILD)/libcommon.a $(BUILD)/libvault.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(IMPORT_LDLIBS)

$(BUILD)/tests/test_import_%: $(BUILD)/obj/tests/unit/test_import_%.o \
    $(TESTLIB_OBJ) $(BUILD)/libimport.a $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(IMPORT_LDLIBS) -lcmocka

all: $(IMPORT_BIN)

# test_import_cli runs the program itself
$(BUILD)/tests/test_import_cli: | $(IMPORT_BIN)

# `make install` also installs coffer-import and its page (docs/coffer-import.1)
.PHONY: install-import
install: install-import
install-import: $(IMPORT_BIN)
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1'
	install -m 0755 $(IMPORT_BIN) '$(DESTDIR)$(BINDIR)/'
	install -m 0644 docs/coffer-import.1 '$(DESTDIR)$(MANDIR)/man1/'
