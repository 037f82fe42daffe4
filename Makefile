# MetaStore-C build.  `make help` lists the targets.
#
# Every module is a folder with one public header at its root; its .c files
# become one static library under $(BUILD)/lib.  Unit tests live in
# test/unit/<module>/*.c, one Check program per file, linked only with the
# libraries that module may depend on (the Raft core's tests link neither
# libuv nor RocksDB nor sockets).

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
SAN      ?=
PREFIX   ?= /usr/local
SEEDS    ?= 2000
NODES    ?= 3
FAULTS   ?= all
N        ?= 3
FUZZ_SECONDS ?= 10
TEST_FUZZ_SECONDS ?= 5

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CPPFLAGS := -I. -I$(BUILD)/gen -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
CFLAGS   := -std=c11 $(OPT) -g $(WARN) -fno-strict-aliasing -MMD -MP
LDFLAGS  :=
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)
UV_LIBS    := -luv
YAML_LIBS  := -lyaml
PB_LIBS    := -lprotobuf-c
ROCKS_LIBS := -lrocksdb
TLS_LIBS   := $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
SYS_LIBS   := -lm -lpthread

# ---- sources ---------------------------------------------------------------
RAFT_SRC    := $(wildcard raft/*.c)
LEASE_SRC   := $(wildcard lease/*.c)
STORAGE_SRC := $(wildcard storage/*.c)
SERVER_SRC  := $(filter-out server/main.c,$(wildcard server/*.c))
CLIENT_SRC  := $(filter-out client/cli.c client/bench.c,$(wildcard client/*.c))
SIM_SRC     := $(filter-out test/sim/main.c,$(wildcard test/sim/*.c))
PROTO_FILES := $(wildcard proto/*.proto)
PROTO_C     := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTO_FILES))
PROTO_H     := $(PROTO_C:.c=.h)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_RAFT    := $(BUILD)/lib/libraft.a
LIB_LEASE   := $(BUILD)/lib/liblease.a
LIB_STORAGE := $(BUILD)/lib/libstorage.a
LIB_SERVER  := $(BUILD)/lib/libserver.a
LIB_CLIENT  := $(BUILD)/lib/libmetastore.a
LIB_PROTO   := $(BUILD)/lib/libmsproto.a
LIB_SIM     := $(BUILD)/lib/libsim.a

# What each module's programs link with, most dependent first.
LINK_raft    := $(LIB_RAFT)
LINK_lease   := $(LIB_LEASE) $(LIB_RAFT)
LINK_sim     := $(LIB_SIM) $(LIB_LEASE) $(LIB_RAFT)
LINK_storage := $(LIB_STORAGE) $(LIB_RAFT) $(ROCKS_LIBS)
LINK_proto   := $(LIB_PROTO) $(PB_LIBS)
LINK_client  := $(LIB_CLIENT) $(LIB_PROTO) $(UV_LIBS) $(PB_LIBS) $(TLS_LIBS)
LINK_server  := $(LIB_SERVER) $(LIB_CLIENT) $(LIB_STORAGE) $(LIB_LEASE) $(LIB_RAFT) $(LIB_PROTO) \
                $(UV_LIBS) $(YAML_LIBS) $(PB_LIBS) $(ROCKS_LIBS) $(TLS_LIBS)
LIBDEPS = $(filter %.a,$(LINK_$(1)))

# ---- programs ----------------------------------------------------------------
BINS :=
ifneq ($(wildcard server/main.c),)
BINS += $(BUILD)/metastored
endif
ifneq ($(wildcard client/cli.c),)
BINS += $(BUILD)/metastore-cli
endif
ifneq ($(wildcard client/bench.c),)
BINS += $(BUILD)/metastore-bench
endif
ifneq ($(wildcard test/sim/main.c),)
BINS += $(BUILD)/metastore-sim
endif

TEST_MODULES := $(notdir $(wildcard test/unit/*))
TEST_SRC     := $(foreach m,$(TEST_MODULES),$(wildcard test/unit/$(m)/*.c))
TEST_BINS    := $(patsubst test/unit/%.c,$(BUILD)/test/unit/%,$(TEST_SRC))
# test/unit/<module>/helpers/*.c are shared by that module's test programs.
TEST_HELPERS_obj = $(call obj,$(wildcard test/unit/$(1)/helpers/*.c))

# End-to-end tests: test/e2e/*.c (one node) and test/cluster/*.c (real
# multi-node clusters on loopback), one Check program each, driving the real
# binaries (they find them next to their own build directory).  Both share
# the helpers in test/e2e/helpers/.
E2E_SRC      := $(wildcard test/e2e/*.c)
E2E_BINS     := $(patsubst test/e2e/%.c,$(BUILD)/test/e2e/%,$(E2E_SRC))
CLUSTER_SRC  := $(wildcard test/cluster/*.c)
CLUSTER_BINS := $(patsubst test/cluster/%.c,$(BUILD)/test/cluster/%,$(CLUSTER_SRC))
DOCKER_SRC   := $(wildcard test/docker/*.c)
DOCKER_BINS  := $(patsubst test/docker/%.c,$(BUILD)/test/docker/%,$(DOCKER_SRC))
E2E_HELPERS  := $(call obj,$(wildcard test/e2e/helpers/*.c))

.PHONY: all deps deps-tools test test-asan test-run sim help format lint clean install run \
        docker-image-local docker-configs test-docker cluster cluster-stop \
        fuzz valgrind bench-engines bench-reads bench-tls bench-watch bench-anchors
.DEFAULT_GOAL := all

all: $(BINS) $(TEST_BINS) $(E2E_BINS) $(CLUSTER_BINS) $(DOCKER_BINS)

help:
	@echo "MetaStore-C targets:"
	@echo "  make               build everything into $(BUILD)/"
	@echo "  make test          install missing Debian packages, build, run unit tests and simulator seeds"
	@echo "  make test-asan     the same suite built with AddressSanitizer + UBSan (build/asan/)"
	@echo "  make sim SEEDS=N NODES=3 FAULTS=all   run the deterministic cluster simulator"
	@echo "  make docker-image-local   build metastore-c:latest FROM scratch out of this build"
	@echo "  make docker-configs N=5   (re)generate docker/compose-N.yaml and its node configs"
	@echo "  make test-docker   fault tests on 3/5/7-node compose clusters (needs Docker)"
	@echo "  make cluster N=3   start N local nodes on 127.0.0.1 (build/cluster/); make cluster-stop stops them"
	@echo "  make fuzz FUZZ_SECONDS=10   run every libFuzzer target (needs clang)"
	@echo "  make valgrind      a single-node session under valgrind memcheck"
	@echo "  make bench-engines in-process engine benchmark, memory vs RocksDB"
	@echo "  make bench-reads   read paths side by side on a 3-node cluster"
	@echo "  make bench-tls     lease reads with TLS vs without, alternating rounds"
	@echo "  make bench-anchors MetaStore vs etcd 3.4: fsync'd puts and linearizable reads, alternating rounds"
	@echo "  make bench-cost    CPU time and instructions per lease read and per Ping"

	@echo "  make bench-watch   put latency/throughput with watchers, live events off vs on"
	@echo "  make format        clang-format every C file in place"
	@echo "  make lint          cppcheck over the sources"
	@echo "  make run           install missing packages, build, start one node with configs/config.yaml"
	@echo "  make install       install the binaries and the example config under PREFIX ($(PREFIX))"
	@echo "  make deps          install the Debian packages the build needs (as root)"
	@echo "  make clean         remove $(BUILD)/"

deps:
	@scripts/install-deps.sh

# ---- rules -------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/proto/%.pb-c.c $(BUILD)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen $<

$(BUILD)/obj/$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -Werror -Wshadow,$(CFLAGS)) -c $< -o $@

define mklib
$(1): $(2)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(eval $(call mklib,$(LIB_RAFT),$(call obj,$(RAFT_SRC))))
$(eval $(call mklib,$(LIB_LEASE),$(call obj,$(LEASE_SRC))))
$(eval $(call mklib,$(LIB_STORAGE),$(call obj,$(STORAGE_SRC))))
$(eval $(call mklib,$(LIB_SERVER),$(call obj,$(SERVER_SRC))))
$(eval $(call mklib,$(LIB_CLIENT),$(call obj,$(CLIENT_SRC))))
$(eval $(call mklib,$(LIB_PROTO),$(call obj,$(PROTO_C))))
$(eval $(call mklib,$(LIB_SIM),$(call obj,$(SIM_SRC))))

$(BUILD)/metastore-sim: $(call obj,test/sim/main.c) $(call LIBDEPS,sim)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_sim) $(SYS_LIBS)
$(BUILD)/metastored: $(call obj,server/main.c) $(call LIBDEPS,server)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_server) $(SYS_LIBS)
$(BUILD)/metastore-cli: $(call obj,client/cli.c) $(call LIBDEPS,client)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_client) $(SYS_LIBS)
$(BUILD)/metastore-bench: $(call obj,client/bench.c) $(call LIBDEPS,client)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_client) $(SYS_LIBS)

define mktest
$(BUILD)/test/unit/$(1)/%: $(BUILD)/obj/test/unit/$(1)/%.o $(call TEST_HELPERS_obj,$(1)) $(call LIBDEPS,$(1))
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $$< $(call TEST_HELPERS_obj,$(1)) $(LINK_$(1)) $(CHECK_LIBS) $(SYS_LIBS)
endef
$(foreach m,$(TEST_MODULES),$(eval $(call mktest,$(m))))

define mke2e
$(BUILD)/test/$(1)/%: $(BUILD)/obj/test/$(1)/%.o $(E2E_HELPERS) $(call LIBDEPS,sim) $(call LIBDEPS,client)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $$< $(E2E_HELPERS) $(LINK_sim) $(LINK_client) $(CHECK_LIBS) $(SYS_LIBS)
endef
$(eval $(call mke2e,e2e))
$(eval $(call mke2e,cluster))
$(eval $(call mke2e,docker))
.SECONDARY:

# ---- tests -------------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) scripts/run-tests.sh

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 OPT=-O1 all
	@BUILD=build/asan SAN=1 scripts/run-tests.sh

test-run:
	@BUILD=$(BUILD) scripts/run-tests.sh

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/metastored $(BUILD)/metastore-cli
	$(BUILD)/metastored --config configs/config.yaml

docker-image-local: $(BUILD)/metastored $(BUILD)/metastore-cli
	scripts/docker-image-local.sh $(BUILD)

docker-configs:
	scripts/docker-configs.sh $(N)

test-docker: $(BUILD)/metastore-cli $(BUILD)/test/docker/workload
	BUILD=$(BUILD) test/docker/run.sh

cluster: $(BUILD)/metastored $(BUILD)/metastore-cli
	BUILD=$(BUILD) scripts/cluster.sh start $(N)

cluster-stop:
	BUILD=$(BUILD) scripts/cluster.sh stop

fuzz: all
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

valgrind: $(BUILD)/metastored $(BUILD)/metastore-cli
	BUILD=$(BUILD) scripts/valgrind-e2e.sh

$(BUILD)/bench-engines: $(call obj,bench/bench_engines.c) $(call LIBDEPS,storage)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_storage) $(SYS_LIBS)

bench-engines: $(BUILD)/bench-engines
	$(BUILD)/bench-engines

bench-reads: $(BUILD)/metastored $(BUILD)/metastore-bench $(BUILD)/metastore-cli
	BUILD=$(BUILD) scripts/bench-reads.sh

bench-tls: $(BUILD)/metastored $(BUILD)/metastore-bench $(BUILD)/metastore-cli
	BUILD=$(BUILD) scripts/bench-tls.sh

bench-anchors: $(BUILD)/metastored $(BUILD)/metastore-bench $(BUILD)/metastore-cli
	BUILD=$(BUILD) scripts/bench-anchors.sh

.PHONY: bench-cost
bench-cost: $(BUILD)/metastored $(BUILD)/metastore-bench $(BUILD)/metastore-cli
	BUILD=$(BUILD) scripts/bench-cost.sh

$(BUILD)/bench-watch: $(call obj,bench/bench_watch.c) $(call LIBDEPS,client)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_client) $(SYS_LIBS)

bench-watch: $(BUILD)/metastored $(BUILD)/bench-watch
	BUILD=$(BUILD) scripts/bench-watch.sh

sim: $(BUILD)/metastore-sim
	$(BUILD)/metastore-sim --seeds $(SEEDS) --nodes $(NODES) --faults $(FAULTS)

# ---- tooling -----------------------------------------------------------------
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

deps-tools:
	@WITH_TOOLS=1 scripts/install-deps.sh

format: deps-tools
	clang-format -i $(C_FILES)

lint: deps-tools
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
	  --suppress=missingIncludeSystem --inline-suppr -I. -I$(BUILD)/gen $(filter %.c,$(C_FILES))

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/etc/metastore
	install -m 0755 $(filter-out %metastore-sim,$(BINS)) $(DESTDIR)$(PREFIX)/bin/
	if [ -f configs/config.yaml ]; then install -m 0644 configs/config.yaml $(DESTDIR)$(PREFIX)/etc/metastore/; fi

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
