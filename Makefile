# Two commands from a fresh clone: `make run` and `make test`. Everything they need is
# installed here: uv (into .tools), the Python environment (.venv, from uv.lock), the
# Neo4j Community jars (Maven, into .neo4j/lib) and the pages' browser library (npm, from
# package-lock.json, into web/static/vendor). Nothing is downloaded at run time.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
NEO4J_JARS := .neo4j/lib/.resolved
# The throwaway Neo4j of the test suite: its own folder and port, never the one of `make run`.
TEST_NEO4J_HOME := .neo4j/test
TEST_NEO4J_PORT ?= 7697

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: neo4j install chromium run stop test check lint typecheck layers schema messages clean bench-data bench-search bench-load bench-hsds-import bench-stop

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

# Resolved afresh when the descriptor changes, so an upgrade never mixes two versions' jars.
$(NEO4J_JARS): neo4j/pom.xml
	rm -rf .neo4j/lib
	mvn --batch-mode --quiet -f neo4j/pom.xml dependency:copy-dependencies
	touch $@

neo4j: $(NEO4J_JARS)

# The browser libraries, from package-lock.json: Leaflet, the map library of the pages
# (web/static/map.js), into web/static/vendor; GraphiQL (with React) and Swagger UI and Redoc,
# the API's pages for developers (api/devtools.py), into api/static/vendor. Their built files
# are copied where the application serves its static files, so a page loads nothing from
# elsewhere. axe-core stays in node_modules for the browser tests (tests/e2e/conftest.py).
# npm's cache answers when the registry cannot.
WEB_VENDOR := web/static/vendor/.installed
API_VENDOR := api/static/vendor
$(WEB_VENDOR): package.json package-lock.json
	npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	rm -rf web/static/vendor $(API_VENDOR)
	mkdir -p web/static/vendor/leaflet
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
		node_modules/leaflet/dist/images node_modules/leaflet/LICENSE web/static/vendor/leaflet/
	mkdir -p $(API_VENDOR)/react $(API_VENDOR)/react-dom $(API_VENDOR)/graphiql \
		$(API_VENDOR)/swagger-ui
	cp node_modules/react/umd/react.production.min.js node_modules/react/LICENSE \
		$(API_VENDOR)/react/
	cp node_modules/react-dom/umd/react-dom.production.min.js node_modules/react-dom/LICENSE \
		$(API_VENDOR)/react-dom/
	cp node_modules/graphiql/graphiql.min.js node_modules/graphiql/graphiql.min.css \
		node_modules/graphiql/LICENSE $(API_VENDOR)/graphiql/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
		node_modules/swagger-ui-dist/LICENSE $(API_VENDOR)/swagger-ui/
	touch $@

# The message catalogues as read at run time (core/i18n.py), rebuilt when a .po changes.
CATALOGUES_PO := $(wildcard core/locale/*/LC_MESSAGES/messages.po)
CATALOGUES_MO := $(CATALOGUES_PO:.po=.mo)
core/locale/%/LC_MESSAGES/messages.mo: core/locale/%/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel -q compile -l $* -i $< -o $@

install: $(BIN)/.installed $(NEO4J_JARS) $(CATALOGUES_MO) $(WEB_VENDOR)

# The browser tests of the web pages drive Debian's Chromium (Playwright never downloads a
# browser of its own here). Installed from the distribution's packages when missing. When
# another apt-get or dpkg holds the lock, this waits for it (up to 10 minutes) instead of
# failing at once.
CHROMIUM := /usr/bin/chromium
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
chromium:
	@test -x $(CHROMIUM) || { \
		$(APT_GET) install -y --no-install-recommends chromium || \
		{ $(APT_GET) update && \
		  $(APT_GET) install -y --no-install-recommends chromium; }; }

run: install
	$(BIN)/homeward db start
	$(BIN)/homeward migrate
	$(BIN)/homeward seed
	$(BIN)/homeward demo-users
	$(BIN)/homeward serve

stop: install
	$(BIN)/homeward db stop

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The import contracts in pyproject.toml: an import against the layers, or one that closes a
# cycle among the modules of api/, fails here.
layers: install
	$(BIN)/lint-imports

check: lint typecheck layers

# pytest's session fixture starts and stops the throwaway Neo4j; the `db stop` after it is
# for a run that was killed before its teardown. The recipe exits with pytest's status.
test: check chromium
	status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	HOMEWARD_NEO4J_HOME=$(TEST_NEO4J_HOME) HOMEWARD_NEO4J_PORT=$(TEST_NEO4J_PORT) \
		$(BIN)/homeward db stop >/dev/null; \
	exit $$status

# Benchmarks (a separate Neo4j in .neo4j/bench on port 7698; see docs/benchmarks.md).
bench-data: install
	$(BIN)/python -m bench.dataset load $(if $(SCALE),--scale $(SCALE)) --max-minutes 15

bench-search: install
	$(BIN)/python -m bench.search --clients 1 --clients 8 --requests 800

bench-load: install
	$(BIN)/python -m bench.load --clients 8 --clients 32 --seconds 60

bench-hsds-import: install
	$(BIN)/python -m bench.hsds_import --repeats 3 --max-minutes 60

bench-stop: install
	$(BIN)/python -m bench.dataset stop

schema: install
	$(BIN)/strawberry export-schema api.graphql.schema:schema --output schema.graphql

# The catalogues of the product's words (core/locale, see core/i18n.py): extract the keys that
# code and templates use, add new ones to the English catalogue (to be worded there), update
# every language from English (a new key arrives empty, a dropped one is kept as obsolete),
# and write Serbian Cyrillic from Serbian Latin. `make install` compiles each .po into the .mo
# read at run time. The template stays (git-ignored) for `pybabel init` of a language.
MESSAGES_POT := core/locale/messages.pot
messages: install
	$(BIN)/pybabel -q extract --no-default-keywords -k t -k tn:1,1 -F babel.cfg \
		--omit-header -o $(MESSAGES_POT) .
	$(BIN)/python -m core.i18n template $(MESSAGES_POT)
	$(BIN)/pybabel -q update --no-fuzzy-matching --width 100 -i $(MESSAGES_POT) \
		-d core/locale
	$(BIN)/python -m core.i18n transliterate

clean:
	rm -rf .venv .tools .neo4j/lib .mypy_cache .ruff_cache .pytest_cache node_modules \
		web/static/vendor api/static/vendor
