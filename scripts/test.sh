#!/usr/bin/env bash
# Builds the suite from scratch and runs every test. Run as root on Debian 12,
# from any directory:
#   1. installs the missing Debian packages (scripts/deps.sh);
#   2. builds with gcc, -Werror, AddressSanitizer and UBSan into build-test/,
#      runs the unit tests two at a time, then the integration tests one at a
#      time (they create network namespaces named ntmt-*);
#   3. builds the libFuzzer targets with clang into build-fuzz/ and runs each
#      for FUZZ_SECONDS seconds, keeping its corpus in build-fuzz/corpus/.
# Ends with the line "N passed, N failed" counting these groups (builds,
# ctest runs, fuzz targets) and exits 1 when any group failed.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

# Seconds each fuzz target runs: a smoke run that catches shallow crashes,
# not a search for deep ones.
readonly FUZZ_SECONDS=20
# Default ctest timeout in seconds for a test that sets none, so a hung test
# fails its group instead of stalling the run.
readonly TEST_TIMEOUT=600

passed=0
failed=0
skipped=0
results=()

# Usage: record PASS|FAIL|SKIP NAME
record() {
	results+=("$1 $2")
	case $1 in
	PASS) passed=$((passed + 1)) ;;
	FAIL) failed=$((failed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	esac
}

# Usage: run_group NAME COMMAND [ARGS...]
# Runs one group and records its result. The command runs inside "if", where
# errexit is off, so every function it calls checks its own steps.
run_group() {
	local name=$1
	shift

	echo "==> $name"
	if "$@"; then
		record PASS "$name"
	else
		record FAIL "$name"
	fi
}

# Removes the network namespaces (and their processes) that an earlier test
# run left behind when it was killed before its own cleanup: those named
# ntmt-<pid>-* whose <pid> no longer runs. Namespaces of runs still going are
# left alone.
cleanup_test_netns() {
	command -v ip >/dev/null || return 0
	(
		# shellcheck source=tests/netns/topo.sh
		. tests/netns/topo.sh && topo_cleanup_stale
	) || true
}

# Usage: run_system_tests
# Runs tests/netns/selftest.sh and every tests/system/test_*.sh against the
# build-test/ binaries, one at a time, each as its own group.
run_system_tests() {
	local script
	local -a scripts=(tests/netns/selftest.sh)

	mapfile -t -O 1 scripts < <(find tests/system -maxdepth 1 -name 'test_*.sh' | sort)
	for script in "${scripts[@]}"; do
		run_group "system: ${script#tests/}" \
			env NTM_BUILD="$PWD/build-test" timeout --kill-after=10 600 bash "$script"
	done
}

# Usage: ctest_count CTEST_FILTER_ARGS...
# Prints how many tests of build-test/ the label filter selects.
ctest_count() {
	ctest --test-dir build-test -N "$@" | awk '/^Total Tests:/ { print $3 }'
}

# Usage: run_ctest NAME JOBS CTEST_FILTER_ARGS...
# Runs the selected tests of build-test/, or records the group as skipped
# when the filter selects none.
run_ctest() {
	local name=$1 jobs=$2 count
	shift 2

	count=$(ctest_count "$@") || count=
	if [[ -z $count || $count == 0 ]]; then
		echo "==> $name: no tests registered"
		record SKIP "$name (no tests)"
		return
	fi
	run_group "$name ($count tests)" ctest --test-dir build-test --output-on-failure \
		--timeout "$TEST_TIMEOUT" -j"$jobs" "$@"
}

# Usage: run_fuzz_target BINARY
# Runs one libFuzzer target for FUZZ_SECONDS seconds. Seeds in
# tests/fuzz/corpus/NAME are read when present. New inputs go to the corpus
# under build-fuzz/, and crashing inputs to build-fuzz/artifacts/.
run_fuzz_target() {
	local bin=$1 name corpus log
	local -a corpora

	name=$(basename -- "$bin")
	corpus=build-fuzz/corpus/$name
	log=build-fuzz/logs/$name.log
	mkdir -p "$corpus" build-fuzz/artifacts build-fuzz/logs || return
	corpora=("$corpus")
	if [[ -d tests/fuzz/corpus/$name ]]; then
		corpora+=("tests/fuzz/corpus/$name")
	fi

	# timeout(1) is a guard for a fuzzer that ignores -max_total_time.
	if timeout --kill-after=10 $((FUZZ_SECONDS + 60)) "$bin" \
		-max_total_time="$FUZZ_SECONDS" -timeout=10 \
		-artifact_prefix="build-fuzz/artifacts/$name-" "${corpora[@]}" >"$log" 2>&1; then
		tail -n 1 "$log"
		return 0
	fi
	echo "$name failed; last lines of $log:" >&2
	tail -n 60 "$log" >&2
	return 1
}

# Optimised (-O2 -g), because gcc finds some warnings, -Wformat-truncation
# among them, only when it optimises, and -Werror must fail on them here as it
# would in a release build. Without -DNDEBUG, so every assert() stays.
build_test_tree() {
	rm -rf build-test || return
	ntm_build build-test -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" -DNTM_WERROR=ON -DNTM_SANITIZE=ON
}

# The fuzz build adds -fsanitize=fuzzer,address,undefined itself, so the tree
# is configured without NTM_SANITIZE.
build_fuzz_tree() {
	rm -rf build-fuzz || return
	ntm_build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DNTM_FUZZ=ON -DNTM_TESTS=OFF -DNTM_SANITIZE=OFF
}

run_fuzz_targets() {
	local bin
	local -a targets=()

	if [[ -d build-fuzz/tests/fuzz ]]; then
		mapfile -t targets < <(find build-fuzz/tests/fuzz -maxdepth 1 -type f \
			-name 'fuzz_*' -executable | sort)
	fi
	if ((${#targets[@]} == 0)); then
		echo "==> fuzz targets: none built"
		record SKIP "fuzz targets (none built)"
		return
	fi
	for bin in "${targets[@]}"; do
		run_group "$(basename -- "$bin") (${FUZZ_SECONDS} s)" run_fuzz_target "$bin"
	done
}

print_summary() {
	local line summary

	echo
	for line in "${results[@]}"; do
		echo "$line"
	done
	summary="$passed passed, $failed failed"
	if ((skipped > 0)); then
		summary+=", $skipped skipped"
	fi
	echo "$summary"
}

main() {
	if ((EUID != 0)); then
		echo "test.sh: must run as root, because it installs packages with apt-get and the integration tests create network namespaces" >&2
		exit 1
	fi
	trap cleanup_test_netns EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	cleanup_test_netns
	ntm_install_deps

	run_group "build-test (gcc, ASan and UBSan)" build_test_tree
	if [[ ${results[-1]} == PASS* ]]; then
		run_ctest "unit tests" 2 -LE '^integration$'
		run_ctest "integration tests" 1 -L '^integration$'
		run_system_tests
		cleanup_test_netns
	else
		record SKIP "unit and integration tests (build failed)"
	fi

	run_group "build-fuzz (clang, libFuzzer)" build_fuzz_tree
	if [[ ${results[-1]} == PASS* ]]; then
		run_fuzz_targets
	else
		record SKIP "fuzz targets (build failed)"
	fi

	print_summary
	if ((failed > 0)); then
		exit 1
	fi
}

main "$@"
