# SPDX-License-Identifier: GPL-2.0-only
# rewindd build. Quiet by default; `make V=1` shows the commands.

OUTPUT ?= build
prefix ?= /usr/local
DESTDIR ?=
SBINDIR := $(prefix)/sbin
MANDIR := $(prefix)/share/man
UNITDIR ?= /lib/systemd/system

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := x86

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
MAKEFLAGS += --no-print-directory
endif

SAN_FLAGS ?=
ifeq ($(ASAN),1)
OUTPUT := build-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# libFuzzer (make fuzz): clang's, no new dependency; the library instrumented for coverage.
ifeq ($(FUZZ),1)
OUTPUT := build-fuzz
CC := $(CLANG)
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE $(SAN_FLAGS)
# The library's sources are user/lib/*.c and user/lib/<dir>/*.c; every such
# directory is on the include path, so "name.h" is found wherever it lives.
LIB_DIRS := $(patsubst %/,%,$(wildcard user/lib/*/))
CPPFLAGS += -Iinclude -Iuser/lib $(addprefix -I,$(LIB_DIRS)) -I$(OUTPUT) -MMD -MP
# One flat include namespace: a second header of the same name would be shadowed.
LIB_HDRS := $(notdir $(wildcard user/lib/*.h user/lib/*/*.h))
LIB_HDRS_TWICE := $(strip $(foreach h,$(sort $(LIB_HDRS)),$(if $(word 2,$(filter $(h),$(LIB_HDRS))),$(h))))
ifneq ($(LIB_HDRS_TWICE),)
$(error headers under user/lib share a name: $(LIB_HDRS_TWICE))
endif
LDFLAGS += $(SAN_FLAGS)
LIBS := $(shell pkg-config --libs libbpf json-c libxxhash liblz4 2>/dev/null || echo -lbpf -lelf -lz -ljson-c -lxxhash -llz4)
PROXY_LIBS := $(shell pkg-config --libs libmicrohttpd libzip 2>/dev/null || echo -lmicrohttpd -lzip)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -mcpu=v3 -Wall -Werror \
	-Iinclude -Ivmlinux/$(ARCH) -MMD -MP

BPF_SRCS := $(wildcard bpf/*.bpf.c)
# tracker.bpf.o defines the shared maps: link it first.
BPF_OBJS := $(OUTPUT)/bpf/tracker.bpf.o $(filter-out $(OUTPUT)/bpf/tracker.bpf.o,$(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS)))
SKEL := $(OUTPUT)/tracker.skel.h

LIB_SRCS := $(wildcard user/lib/*.c user/lib/*/*.c)
LIB_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(LIB_SRCS))
LIB_OBJDIRS := $(patsubst %/,%,$(sort $(dir $(LIB_OBJS))))
LIB := $(OUTPUT)/librewind.a

BINS := $(OUTPUT)/rewindd $(OUTPUT)/rewindctl

# --- rewind-proxy ---
# The OpenWhisk action container (user/proxy). Here, before `all:` and
# `install:` read BINS. Launchers: EXE_DIR/../user/proxy/launchers in the
# tree, $(PROXY_LAUNCHER_DIR) once installed.
PROXY_SRCS := $(wildcard user/proxy/*.c)
PROXY_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(PROXY_SRCS))
PROXY_LAUNCHER_DIR := $(prefix)/lib/rewindd/launchers
BINS += $(OUTPUT)/rewind-proxy

$(OUTPUT)/proxy/%.o: user/proxy/%.c | $(OUTPUT)/proxy
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) -DPROXY_LAUNCHER_DIR='"$(PROXY_LAUNCHER_DIR)"' $(CFLAGS) -c $< -o $@

$(OUTPUT)/rewind-proxy: $(PROXY_OBJS) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) $(PROXY_LIBS) -lpthread -o $@

$(OUTPUT)/proxy:
	$(Q)mkdir -p $@

# launcher_native.node: node's launcher reseeds OpenSSL with it (RAND_add)
# after a rewind and, in rewind mode, turns malloc's trim off. An N-API addon,
# built when node's headers are there; RAND_add is resolved from the node
# binary at load, so no -lcrypto (and no sanitizers: it is loaded into node).
ifneq ($(wildcard /usr/include/node/node_api.h),)
PROXY_ADDON := $(OUTPUT)/proxy/launcher_native.node
all: $(PROXY_ADDON)
$(PROXY_ADDON): user/proxy/launchers/launcher_native.c | $(OUTPUT)/proxy
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC -I/usr/include/node \
		-DNODE_GYP_MODULE_NAME=launcher_native $< -o $@
else
PROXY_ADDON :=
.PHONY: proxy-addon-skipped
all: proxy-addon-skipped
proxy-addon-skipped:
	@echo "launcher_native.node skipped: no /usr/include/node/node_api.h (node's launcher will not reseed OpenSSL)"
endif

.PHONY: install-proxy uninstall-proxy
install: install-proxy
install-proxy: $(PROXY_ADDON)	# the binary is in BINS, which install: installs
	install -d $(DESTDIR)$(PROXY_LAUNCHER_DIR)
	install -m 0644 user/proxy/launchers/launcher.py user/proxy/launchers/launcher.js \
		$(DESTDIR)$(PROXY_LAUNCHER_DIR)/
	$(if $(PROXY_ADDON),install -m 0755 $(PROXY_ADDON) $(DESTDIR)$(PROXY_LAUNCHER_DIR)/)
uninstall: uninstall-proxy
uninstall-proxy:
	rm -f $(DESTDIR)$(SBINDIR)/rewind-proxy
	rm -f $(DESTDIR)$(PROXY_LAUNCHER_DIR)/launcher.py $(DESTDIR)$(PROXY_LAUNCHER_DIR)/launcher.js
	rm -f $(DESTDIR)$(PROXY_LAUNCHER_DIR)/launcher_native.node
	-rmdir $(DESTDIR)$(PROXY_LAUNCHER_DIR) $(DESTDIR)$(prefix)/lib/rewindd
# The action image, built locally with podman from this build's binary and the
# host's installed runtime (no registry): make action-image [RUNTIME=python|node]
# (PODMAN="podman --root ..." for other storage). docs/DEPLOYING.md.
RUNTIME ?= python
.PHONY: action-image
action-image: $(OUTPUT)/rewind-proxy
	REWIND_PROXY=$(abspath $(OUTPUT)/rewind-proxy) user/proxy/image/build.sh --runtime $(RUNTIME)
# --- end rewind-proxy ---

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/unit/%,$(UNIT_SRCS))
LIBTEST_SRCS := $(wildcard tests/lib/test_*.c)
LIBTEST_BINS := $(patsubst tests/lib/%.c,$(OUTPUT)/tests/lib/%,$(LIBTEST_SRCS))
INTEG_SRCS := $(wildcard tests/integ/*.c)
INTEG_BINS := $(patsubst tests/integ/%.c,$(OUTPUT)/tests/integ/%,$(INTEG_SRCS))
ZDTM_SRCS := $(sort $(wildcard tests/zdtm/*.c))
ZDTM_OBJS := $(patsubst tests/zdtm/%.c,$(OUTPUT)/tests/zdtm/%.o,$(ZDTM_SRCS))
ZDTM_BIN := $(OUTPUT)/tests/zdtm/zdtm
LEAK_SRCS := $(wildcard tests/leak/*.c)
LEAK_BINS := $(patsubst tests/leak/%.c,$(OUTPUT)/tests/leak/%,$(LEAK_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS))

.PHONY: all test unit integ asan fuzz fuzz-run bench docs deps ensure-deps check demo install uninstall clean vmlinux
.DEFAULT_GOAL := all

all: $(BINS)

# --- BPF -------------------------------------------------------------------
$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

# One object and one skeleton for all tracker programs, so they share maps.
$(OUTPUT)/tracker.bpf.o: $(BPF_OBJS)
	$(call msg,LINK-BPF,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(SKEL): $(OUTPUT)/tracker.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tracker_bpf > $@.tmp && mv $@.tmp $@

# --- user space ------------------------------------------------------------
$(OUTPUT)/lib/%.o: user/lib/%.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB_OBJS): | $(LIB_OBJDIRS)
# Only what includes the generated skeleton waits for the BPF build (a first
# build; later ones know from the .d files).
SKEL_USERS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(shell grep -l 'tracker\.skel\.h' $(LIB_SRCS)))
$(SKEL_USERS): | $(SKEL)

# Made anew: ar would keep the members of sources since moved or removed.
$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/%.o: user/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OUTPUT)/rewindd: $(OUTPUT)/rewindd.o $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/rewindctl: $(OUTPUT)/rewindctl.o $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

# --- tests -----------------------------------------------------------------
$(OUTPUT)/tests/unit/%: tests/unit/%.c $(LIB) | $(OUTPUT)/tests/unit
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LIBS) $(CMOCKA_LIBS) -o $@

# Library tests drive the engine against real child processes (need root).
$(OUTPUT)/tests/lib/%: tests/lib/%.c $(LIB) | $(OUTPUT)/tests/lib
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LIBS) $(CMOCKA_LIBS) -o $@

# Allocation failures: the library's allocations go through the test's wrappers.
$(OUTPUT)/tests/lib/test_oom: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

# Test programs are targets, not linked against the engine; -O0 keeps their
# memory accesses exactly as written.
$(OUTPUT)/tests/integ/%: tests/integ/%.c tests/integ/handshake.h | $(OUTPUT)/tests/integ
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CPPFLAGS) -std=gnu11 -Wall -Wextra -Werror -O0 -g -D_GNU_SOURCE $< -lpthread -o $@

# The zdtm program: one main (tests/zdtm/zdtm.c) and the scenario files,
# which register themselves. A target like the integ programs: -O0.
$(OUTPUT)/tests/zdtm/%.o: tests/zdtm/%.c | $(OUTPUT)/tests/zdtm
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CPPFLAGS) -std=gnu11 -Wall -Wextra -Werror -O0 -g -D_GNU_SOURCE -c $< -o $@

$(ZDTM_BIN): $(ZDTM_OBJS)
	$(call msg,LD-TEST,$@)
	$(Q)$(CC) $^ -lpthread -o $@

# Leak scenarios are functions under test, like the integ targets.
$(OUTPUT)/tests/leak/%: tests/leak/%.c | $(OUTPUT)/tests/leak
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) -std=gnu11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE $< -lpthread -o $@

# Benchmarks may use the engine (protocol, json-c) as a library.
$(OUTPUT)/bench/%: bench/%.c bench/bench_util.h $(LIB) | $(OUTPUT)/bench
	$(call msg,CC-BENCH,$@)
	$(Q)$(CC) $(CPPFLAGS) -std=gnu11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE $< $(LIB) $(LIBS) -lpthread -o $@

# --- fuzzing ------------------------------------------------------------------
# One harness per input from outside (tests/fuzz/fuzz_*.c), each run for
# FUZZ_SECONDS from its seeds (tests/fuzz/corpus/NAME, read only) plus what
# earlier runs found (OUTPUT/fuzz-corpus/NAME). CI runs a short smoke.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/tests/fuzz/%,$(FUZZ_SRCS))
FUZZ_PROXY_OBJS := $(OUTPUT)/proxy/zipcode.o $(OUTPUT)/proxy/jsonin.o
FUZZ_SECONDS ?= 60

$(OUTPUT)/tests/fuzz/%: tests/fuzz/%.c $(LIB) $(FUZZ_PROXY_OBJS) | $(OUTPUT)/tests/fuzz
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CC) $(CPPFLAGS) -Iuser/proxy $(CFLAGS) -fsanitize=fuzzer $< $(FUZZ_PROXY_OBJS) $(LIB) \
		$(LIBS) $(PROXY_LIBS) -o $@

fuzz: ensure-deps
	$(Q)$(MAKE) FUZZ=1 fuzz-run

fuzz-run: $(FUZZ_BINS)
	$(Q)OUTPUT=$(OUTPUT) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

unit: $(UNIT_BINS) $(LIBTEST_BINS)
integ: $(BINS) $(INTEG_BINS) $(ZDTM_BIN)

# The README's test command runs this (as root: BPF and ptrace need it).
test: all $(UNIT_BINS) $(LIBTEST_BINS) $(INTEG_BINS) $(ZDTM_BIN) $(LEAK_BINS)
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh

asan:
	$(Q)$(MAKE) ASAN=1 npm-deps
	$(Q)$(MAKE) ASAN=1 test

# The README's two commands: each installs what is missing, builds, runs.
check: ensure-deps
	$(Q)$(MAKE) npm-deps
	$(Q)$(MAKE) test

demo: ensure-deps
	$(Q)$(MAKE) all
	$(Q)OUTPUT=$(OUTPUT) tests/demo/demo.sh

# The class tables of README.md and docs/ARCHITECTURE.md, from user/lib/rewind/classes.c.
docs: $(OUTPUT)/rewindctl
	$(Q)docs/classes.sh $(OUTPUT)/rewindctl

bench: $(BINS) $(BENCH_BINS)
	$(Q)OUTPUT=$(OUTPUT) bench/run.sh

# rewind-proxy end to end under wrk (bench/e2e/run.sh; QUICK=1: about 3 minutes).
.PHONY: bench-e2e
bench-e2e: $(BINS) npm-deps
	$(Q)OUTPUT=$(OUTPUT) bench/e2e/run.sh

# Long run, rewinds verified, growth of rewindd's figures bounded (bench/soak.py; ~25 min).
.PHONY: soak
soak: $(BINS) $(INTEG_BINS) npm-deps
	$(Q)OUTPUT=$(OUTPUT) /usr/bin/python3 bench/soak.py

# --- housekeeping ----------------------------------------------------------
DEPS := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libcmocka-dev libjson-c-dev \
	libxxhash-dev liblz4-dev pkg-config make gcc libc6-dev util-linux procps passwd jq python3 nodejs \
	sqlite3 xfsprogs attr libmicrohttpd-dev libzip-dev curl python3-numpy libcap2-bin \
	podman runc python3-pil libopenblas0-openmp

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEPS)

# Install only what is missing (apt-get update first, as a fresh machine needs).
ensure-deps:
	$(Q)missing=$$(for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# The real functions' npm packages (bench/e2e/functions/resize.js: sharp),
# under $(OUTPUT)/npm; their tests and the soak give it to node as NODE_PATH.
# npm is not in DEPS: it comes with the nodejs this machine kind has
# (NodeSource's), and Debian's npm package conflicts with that nodejs.
empty :=
space := $(empty) $(empty)
NPM_DIR := $(OUTPUT)/npm
NPM_PKGS := sharp openwhisk
.PHONY: npm-deps
# sharp: the image-resizing benchmark and test; openwhisk: what Node's runtime image ships (conformance).
# One npm run for all of them: a stamp names the set, so a package added later installs.
NPM_STAMP := $(NPM_DIR)/installed-$(subst $(space),-,$(NPM_PKGS))
npm-deps: $(NPM_STAMP)

$(NPM_STAMP):
	$(Q)command -v npm >/dev/null || { echo "npm-deps: no npm on PATH (it comes with nodejs >= 20)"; exit 1; }
	$(Q)mkdir -p $(NPM_DIR)
	$(Q)npm install --no-audit --no-fund --prefix $(NPM_DIR) $(NPM_PKGS) >$(NPM_DIR)/install.log 2>&1 || \
		{ echo "npm-deps: 'npm install $(NPM_PKGS)' into $(NPM_DIR) failed (network? see $(NPM_DIR)/install.log):"; \
		  tail -5 $(NPM_DIR)/install.log; exit 1; }
	$(Q)for p in $(NPM_PKGS); do test -f $(NPM_DIR)/node_modules/$$p/package.json || \
		{ echo "npm-deps: npm left no $(NPM_DIR)/node_modules/$$p"; exit 1; }; done
	$(Q)touch $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

install: $(BINS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(SBINDIR)/
	install -m 0644 docs/rewindd.8 docs/rewindctl.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' docs/rewindd.service > $(DESTDIR)$(UNITDIR)/rewindd.service

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/rewindd $(DESTDIR)$(SBINDIR)/rewindctl
	rm -f $(DESTDIR)$(MANDIR)/man8/rewindd.8 $(DESTDIR)$(MANDIR)/man8/rewindctl.8
	rm -f $(DESTDIR)$(UNITDIR)/rewindd.service

# OUTPUT (default build) and the ASan tree.
clean:
	rm -rf $(OUTPUT) build-asan build-fuzz

$(OUTPUT) $(OUTPUT)/bpf $(LIB_OBJDIRS) $(OUTPUT)/tests/unit $(OUTPUT)/tests/fuzz $(OUTPUT)/tests/lib $(OUTPUT)/tests/integ $(OUTPUT)/tests/zdtm $(OUTPUT)/tests/leak $(OUTPUT)/bench:
	$(Q)mkdir -p $@

-include $(sort $(wildcard $(OUTPUT)/*.d $(OUTPUT)/*/*.d $(OUTPUT)/*/*/*.d $(LIB_OBJS:.o=.d)))
