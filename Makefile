# KeyLedger: `make serve` starts the server on the embedded default; `make test` runs the whole suite;
# `make sdk-test` tests every client SDK in sdk/ (installing their toolchains from Debian when missing).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: serve test bench clean sdk-test sdk-toolchains sdk-test-python sdk-test-node sdk-test-go sdk-test-java \
	sdk-test-php sdk-test-csharp sdk-scenario

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	exec $(VENV)/bin/keyledger serve

# Two workers, a file each at a time: the suite waits on servers and services as much as it computes.
test: $(STAMP)
	$(VENV)/bin/pytest tests -n 2 --dist loadfile

bench: $(STAMP)
	$(VENV)/bin/python bench/write_path.py
	$(VENV)/bin/python bench/validate.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis sdk/go/build sdk/java/build sdk/csharp/build

# --- the SDKs: each one's own tests (with the conformance vectors), then the scenario against
# `keyledger serve` on SQLite and PostgreSQL (sdk/conformance/README.md).
JUNIT := /usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
MCS := mcs -langversion:7.2 -r:System.Net.Http -r:System.Numerics
SDK_BACKENDS ?= sqlite,postgres
GO_ENV := GOCACHE=$(CURDIR)/sdk/go/build/cache GOPATH=$(CURDIR)/sdk/go/build/gopath GOPROXY=off GOFLAGS=-mod=mod

sdk-test: sdk-toolchains $(STAMP)
	$(MAKE) --no-print-directory sdk-test-python sdk-test-node sdk-test-go sdk-test-java sdk-test-php sdk-test-csharp
	$(MAKE) --no-print-directory sdk-scenario

sdk-toolchains:
	bash sdk/conformance/toolchains.sh

sdk-test-python: $(STAMP)
	$(VENV)/bin/pytest tests/sdk

sdk-test-node:
	node --test sdk/nodejs/test/

sdk-test-go:
	cd sdk/go && $(GO_ENV) go vet ./... && $(GO_ENV) go test -count=1 ./... && $(GO_ENV) go build -o build/example ./example

sdk-test-java:
	rm -rf sdk/java/build && mkdir -p sdk/java/build/classes sdk/java/build/test-classes
	javac -Xlint:all -Werror -d sdk/java/build/classes $$(find sdk/java/src/main sdk/java/src/example -name '*.java')
	javac -d sdk/java/build/test-classes -cp sdk/java/build/classes:$(JUNIT) $$(find sdk/java/src/test -name '*.java')
	cd sdk/java && java -cp build/classes:build/test-classes:$(JUNIT) org.junit.runner.JUnitCore \
		com.licensecm.VectorsTest com.licensecm.ClientTest

sdk-test-php:
	cd sdk/php && phpunit

sdk-test-csharp:
	mkdir -p sdk/csharp/build
	$(MCS) -warnaserror -target:library -out:sdk/csharp/build/LicenseCM.dll sdk/csharp/src/*.cs
	$(MCS) -out:sdk/csharp/build/Example.exe -r:sdk/csharp/build/LicenseCM.dll sdk/csharp/example/*.cs
	$(MCS) -out:sdk/csharp/build/Tests.exe -r:sdk/csharp/build/LicenseCM.dll sdk/csharp/tests/*.cs
	cd sdk/csharp && mono build/Tests.exe

# Needs the examples built by the sdk-test-* targets above (Go, Java, C#).
sdk-scenario: $(STAMP)
	$(VENV)/bin/python sdk/conformance/scenario.py --backend $(SDK_BACKENDS)
