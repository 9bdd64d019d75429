# nudge — build, test, demo, bench.  `make help` lists the targets.

CC      ?= cc
PKGS    := lua5.4 libcjson sqlite3 libsodium libcurl libmicrohttpd
DEB_PKGS := build-essential pkg-config liblua5.4-dev libsqlite3-dev \
            libcurl4-openssl-dev libsodium-dev libcjson-dev libcsv-dev libmicrohttpd-dev sqlite3 time tzdata python3 python3-aiosmtpd wrk
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iruntime -Ilua
ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
BUILD   := build/san
else
BUILD   := build
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS     = $(PKG_LIBS) -lcsv -lpthread -lm

RUNTIME_SRC := $(wildcard runtime/*.c) $(wildcard lua/*.c)
CORE_SRC    := $(filter-out runtime/main.c,$(RUNTIME_SRC))
CORE_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC)) $(BUILD)/obj/stdlib_embed.o
STDLIB_LUA  := $(sort $(wildcard stdlib/*.lua stdlib/channels/*.lua))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps test demo bench clean format lint help check-deps

all: $(BUILD)/nudge

help:
	@echo "make          build $(BUILD)/nudge"
	@echo "make deps     install the Debian packages (as root)"
	@echo "make test     build and run every test (SAN=1 for ASan+UBSan)"
	@echo "make demo     run the cart-abandonment recipe on examples/ data"
	@echo "make bench    events/s of 'nudge run', deliveries/s, the service, audience passes, profile import, lookups"

# Installs the Debian packages; idempotent.  Run as root (CI is root).
deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEB_PKGS)

# `make test` and `make demo` install the dependencies when a header is missing.
check-deps:
	@for h in /usr/include/lua5.4/lua.h /usr/include/sqlite3.h /usr/include/sodium.h \
	          /usr/include/cjson/cJSON.h /usr/include/x86_64-linux-gnu/curl/curl.h /usr/include/csv.h \
	          /usr/include/microhttpd.h \
	          /usr/lib/python3/dist-packages/aiosmtpd/__init__.py \
	          /usr/bin/sqlite3 /usr/bin/time /usr/share/zoneinfo/America/New_York; do \
	  [ -e $$h ] || { echo "missing $$h: running make deps"; $(MAKE) --no-print-directory deps; break; }; \
	done; command -v pkg-config >/dev/null || $(MAKE) --no-print-directory deps

$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/stdlib_embed.c: $(BUILD)/tools/embed $(STDLIB_LUA)
	$(BUILD)/tools/embed $(STDLIB_LUA) > $@

$(BUILD)/obj/stdlib_embed.o: $(BUILD)/stdlib_embed.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(wildcard runtime/*.h lua/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/nudge: $(BUILD)/obj/runtime/main.o $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LIBS)

$(BUILD)/tools/gen_events: tools/gen_events.c tools/tool_args.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/tools/gen_profiles: tools/gen_profiles.c tools/tool_args.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<

# Benches the blind-index lookups against the core objects, like the unit tests.
$(BUILD)/tools/bench_lookup: tools/bench_lookup.c tools/tool_args.h $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LIBS)

# The local HTTP endpoint the delivery bench sends to.
$(BUILD)/tools/http_sink: tools/http_sink.c tools/tool_args.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror $(shell pkg-config --cflags libmicrohttpd) \
	  -o $@ $< $(shell pkg-config --libs libmicrohttpd)

test: check-deps
	@$(MAKE) --no-print-directory $(BUILD)/nudge $(UNIT_BIN) $(BUILD)/tools/gen_events
	@BUILD=$(BUILD) sh tests/run.sh

demo: check-deps
	@$(MAKE) --no-print-directory $(BUILD)/nudge
	@sh examples/demo.sh $(BUILD)/nudge

bench: check-deps
	@$(MAKE) --no-print-directory $(BUILD)/nudge $(BUILD)/tools/gen_events \
	  $(BUILD)/tools/gen_profiles $(BUILD)/tools/bench_lookup $(BUILD)/tools/http_sink
	@sh bench/run.sh $(BUILD)

format:
	clang-format -i runtime/*.[ch] lua/*.[ch] tests/unit/*.[ch] tools/*.[ch]

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -Iruntime -Ilua \
	  --include=/usr/include/cjson/cJSON.h runtime lua

clean:
	rm -rf build
