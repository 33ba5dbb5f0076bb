# The project's checks, as README.md gives them: `make check` is the test command.
.PHONY: check lint typecheck test

check: lint typecheck test

lint:
	ruff check .
	ruff format --check .

typecheck:
	mypy

# pytest exits 5 when it collects nothing; that is reported, not hidden as a pass or a crash.
test:
	@status=0; python -m pytest || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status
