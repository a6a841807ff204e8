#!/usr/bin/env bash
# Checks the deployment files without a Docker engine or a running systemd:
#   - docker-compose.yml with "docker-compose config -q" (docker-compose 1.29),
#     its bind-mount sources and its build targets;
#   - docker/Dockerfile with two linters from the npm registry, installed
#     into build-tools/npm at the top of the repository. Its COPY sources are
#     checked against .dockerignore, its build stage's packages against the
#     CMake files, and its runtime stage's against the staged libraries;
#   - the routers' nftables rules with "nft -c" in a private network
#     namespace;
#   - docker/keys.sh, which must write configuration files that every
#     daemon of $NTM_BUILD accepts with -n, and docker/enrol.sh against a
#     real ntm-dcd on the loopback of a private network namespace;
#   - packaging/systemd with "systemd-analyze verify" and "systemd-analyze
#     security", against a staged "cmake --install" of $NTM_BUILD.
# No image is built and no container or unit is started. Needs root (chown
# to the containers' UID, network namespaces), docker-compose, npm, nft,
# systemd-analyze, readelf and curl.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

readonly NPM_DIR=$REPO/build-tools/npm
readonly DOCKERFILE_UTILS_VERSION=0.16.3
readonly DOCKERFILELINT_VERSION=1.8.0
readonly COMPOSE_FILE=$REPO/docker-compose.yml
readonly DOCKERFILE=$REPO/docker/Dockerfile
# Highest accepted "systemd-analyze security" exposure, on its internal scale
# of 0 to 100 (the output shows it divided by 10).
readonly MAX_EXPOSURE=20

WORK=$(mktemp -d /tmp/ntm-deploy.XXXXXX) || exit 1
trap 'rm -rf -- "$WORK"' EXIT
STAGE=$WORK/stage

# Usage: run_logged LOG CMD...
# Runs CMD with its output in $WORK/LOG.log, which sys_summary prints when a
# check failed.
run_logged() {
	local log=$WORK/$1.log
	shift
	"$@" >"$log" 2>&1
}

# compose CMD...: docker-compose on the repository's file, with the
# defaults of its variables.
compose() {
	env -u NTM_MEDIA_DIR docker-compose --project-directory "$REPO" -f "$COMPOSE_FILE" "$@"
}

compose_sources_exist() {
	local source count=0 missing=0

	while read -r source; do
		count=$((count + 1))
		[[ -e $source ]] && continue
		echo "# bind-mount source $source does not exist" >&2
		missing=1
	done < <(compose config | sed -n 's/^ *- \(\/[^:]*\):.*/\1/p')
	if ((count == 0)); then
		echo "# found no bind mount in the output of docker-compose config" >&2
		return 1
	fi
	return "$missing"
}

compose_targets_exist() {
	local target count=0 missing=0

	while read -r target; do
		count=$((count + 1))
		grep -Eqi "^FROM[[:space:]]+[^[:space:]]+[[:space:]]+AS[[:space:]]+${target}[[:space:]]*$" \
			"$DOCKERFILE" && continue
		echo "# build target $target is not a stage of docker/Dockerfile" >&2
		missing=1
	done < <(compose config | sed -n 's/^ *target: *//p' | sort -u)
	((count > 0)) && return "$missing"
	echo "# found no build target in the output of docker-compose config" >&2
	return 1
}

# Prints the sources of every COPY without --from in docker/Dockerfile, one
# a line, without a trailing slash.
dockerfile_copy_sources() {
	local line source
	local -a words

	while read -r line; do
		read -r -a words <<<"$line"
		[[ ${words[1]} == --from=* ]] && continue
		for source in "${words[@]:1:${#words[@]}-2}"; do
			echo "${source%/}"
		done
	done < <(grep -E '^COPY[[:space:]]' "$DOCKERFILE")
}

# Each source of a COPY without --from must exist and be let through by the
# allow list in .dockerignore ("*", then one "!PATH" line per path).
copy_sources_in_context() {
	local source count=0 missing=0

	while read -r source; do
		count=$((count + 1))
		[[ -e $REPO/$source ]] || {
			echo "# COPY source $source does not exist" >&2
			missing=1
		}
		grep -Eqx "!$source/?" "$REPO/.dockerignore" || {
			echo "# COPY source $source is excluded by .dockerignore" >&2
			missing=1
		}
	done < <(dockerfile_copy_sources)
	((count > 0)) && return "$missing"
	echo "# found no COPY in docker/Dockerfile" >&2
	return 1
}

# Usage: stage_packages STAGE: prints the packages that the apt-get install
# of STAGE in docker/Dockerfile lists, one a line.
stage_packages() {
	awk -v stage="$1" '
		toupper($1) == "FROM" { in_stage = (tolower($NF) == stage); installing = 0 }
		in_stage && /apt-get install/ { installing = 1; next }
		installing && /^[[:space:]]*&&/ { installing = 0 }
		installing { for (i = 1; i <= NF; i++) if ($i != "\\") print $i }
	' "$DOCKERFILE"
}

# Usage: owner_package PATTERN: prints the installed Debian package that owns
# a file matching PATTERN (dpkg -S), or nothing.
owner_package() {
	dpkg -S "$1" 2>/dev/null | head -n 1 | sed 's/[:,].*//'
}

# Prints a dpkg -S pattern for each file that the CMake files of the build
# context look for: pkg-config modules, programs, headers and libraries.
cmake_required_files() {
	local source kind name
	local -a files=()

	while read -r source; do
		if [[ -d $REPO/$source ]]; then
			files+=("$REPO/$source/CMakeLists.txt")
		elif [[ $source == CMakeLists.txt ]]; then
			files+=("$REPO/$source")
		fi
	done < <(dockerfile_copy_sources)

	sed -nE -e 's/.*pkg_check_modules\([A-Z_]+ REQUIRED IMPORTED_TARGET ([^ )]+)\).*/pc \1/p' \
		-e 's/.*find_program\([A-Z_]+ ([^ )]+).*/bin \1/p' \
		-e 's/.*find_path\([A-Z_]+ ([^ )]+).*/include \1/p' \
		-e 's/.*find_library\([A-Z_]+ ([^ )]+).*/lib \1/p' "${files[@]}" |
		while read -r kind name; do
			case $kind in
			pc) echo "$(pkg-config --variable=pcfiledir "$name")/$name.pc" ;;
			bin) echo "*/bin/$name" ;;
			include) echo "*/include/$name" ;;
			lib) echo "*/lib$name.so" ;;
			esac
		done
}

# The build stage must install the package of every file CMake looks for,
# as this machine's packages provide them.
build_stage_has_cmake_deps() {
	local pattern package count=0 missing=0
	local -A listed=()

	while read -r package; do listed[$package]=1; done < <(stage_packages build)
	while read -r pattern; do
		count=$((count + 1))
		package=$(owner_package "$pattern")
		if [[ -z $package ]]; then
			echo "# no installed package has $pattern" >&2
			missing=1
		elif [[ -z ${listed[$package]-} ]]; then
			echo "# CMake needs $pattern from $package, which the build stage does not install" >&2
			missing=1
		fi
	done < <(cmake_required_files)
	((count > 0)) && return "$missing"
	echo "# found no requirement in the CMake files" >&2
	return 1
}

# Usage: package_depends PACKAGE: prints the packages that the installed
# PACKAGE depends on, one a line.
package_depends() {
	dpkg-query -W -f='${Depends}\n' "$1" 2>/dev/null | tr ',|' '\n' |
		sed -E 's/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep -v '^$'
}

# The runtime stage must install, or depend on, the package of every shared
# library that a staged program needs directly. Packages of priority
# "required" (libc6) are in every Debian image. The sanitizer runtimes are
# skipped, because only the test build links them.
runtime_stage_has_libraries() {
	local program soname package count=0 missing=0
	local -A available=()

	while read -r package; do
		available[$package]=1
		while read -r soname; do available[$soname]=1; done < <(package_depends "$package")
	done < <(stage_packages runtime)
	for program in "$STAGE"/usr/sbin/* "$STAGE"/usr/bin/*; do
		while read -r soname; do
			[[ $soname == libasan.so* || $soname == libubsan.so* ]] && continue
			count=$((count + 1))
			# The library of this machine's architecture: other multiarch
			# copies (libc6-i386's /lib32) own the same name.
			package=$(owner_package "*/$(gcc -print-multiarch)/$soname")
			[[ -n $package ]] || package=$(owner_package "*/$soname")
			[[ -n $package && -n ${available[$package]-} ]] && continue
			[[ -n $package && $(dpkg-query -W -f='${Priority}' "$package") == required ]] &&
				continue
			echo "# ${program##*/} needs $soname from ${package:-no installed package}," \
				"which the runtime stage does not install" >&2
			missing=1
		done < <(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	done
	((count > 0)) && return "$missing"
	echo "# found no shared library in the staged programs" >&2
	return 1
}

# Prints the version of the npm package $1 installed in NPM_DIR, if any.
npm_version() {
	node -p "require('$NPM_DIR/node_modules/$1/package.json').version" 2>/dev/null
}

# Installs the pinned linters into NPM_DIR unless they are there already.
npm_linters() {
	if ! command -v npm >/dev/null; then
		echo "# npm not found; Node.js with npm must be installed" >&2
		return 1
	fi
	if [[ $(npm_version dockerfile-utils) == "$DOCKERFILE_UTILS_VERSION" &&
		$(npm_version dockerfilelint) == "$DOCKERFILELINT_VERSION" ]]; then
		return 0
	fi
	mkdir -p "$NPM_DIR" &&
		npm install --prefix "$NPM_DIR" --no-save --no-audit --no-fund --loglevel=error \
			"dockerfile-utils@$DOCKERFILE_UTILS_VERSION" "dockerfilelint@$DOCKERFILELINT_VERSION"
}

# dockerfile-utils exits 0 with warnings, so any output fails the check too.
lint_dockerfile_utils() {
	local out

	out=$("$NPM_DIR/node_modules/.bin/dockerfile-utils" lint "$DOCKERFILE" 2>&1) || {
		printf '%s\n' "$out" >&2
		return 1
	}
	[[ -z $out ]] || { printf '%s\n' "$out" >&2; return 1; }
}

# Usage: nft_check FILE: checks FILE's rules without loading them, in a
# network namespace of its own.
nft_check() {
	unshare --net -- nft -c -f "$1"
}

# Runs docker/keys.sh into $WORK/etc as the keys service would into its
# volumes, with the ntm-keygen of $NTM_BUILD.
run_keys() {
	local host

	for host in dc dc-state rs agent player; do
		mkdir -p "$WORK/etc/$host" || return
	done
	PATH=$BUILD/admin-api:$PATH NTM_DOCKER_CONFIG=$REPO/docker/config \
		NTM_DOCKER_OUT=$WORK/etc bash "$REPO/docker/keys.sh"
}

# Succeeds when a second run of keys.sh kept every key and token.
keys_kept() {
	local before after

	before=$(cat "$WORK"/etc/*/*.key "$WORK"/etc/*/admin.token | sha256sum) || return
	run_logged keys2 run_keys || return
	after=$(cat "$WORK"/etc/*/*.key "$WORK"/etc/*/admin.token | sha256sum) || return
	sys_equal "$before" "$after"
}

no_placeholder_left() {
	! grep -rn '@[A-Z_]*@' "$WORK"/etc/*/*.conf >&2
}

# Usage: enrol_scenario WORK BUILD REPO
# Runs in the network and PID namespaces of run_enrol_scenario: starts
# ntm-dcd with the DC configuration keys.sh wrote (paths moved into WORK) on
# this namespace's loopback, runs enrol.sh twice and counts the DC's
# records. Writes each step's exit status to WORK/enrol-STEP.rc.
enrol_scenario() {
	local work=$1 build=$2 repo=$3 _

	ip link set lo up || return
	sed -e "s|/etc/ntm/|$work/etc/dc/|g" -e "s|/var/lib/ntm/|$work/etc/dc-state/|g" \
		"$work/etc/dc/dcd.conf" >"$work/dcd-enrol.conf" || return
	"$build/dcd/ntm-dcd" -f -c "$work/dcd-enrol.conf" >"$work/dcd.log" 2>&1 &
	ENROL_DC_PID=$!
	trap 'kill -TERM "$ENROL_DC_PID" 2>/dev/null; wait "$ENROL_DC_PID"' EXIT
	for _ in $(seq 50); do
		curl -sf -o /dev/null http://127.0.0.1:47880/healthz && break
		sleep 0.1
	done

	export NTM_ENROL_DIR=$work/etc/dc/nodes NTM_DC_TOKEN_FILE=$work/etc/dc/admin.token
	bash "$repo/docker/enrol.sh" >"$work/enrol-first.log" 2>&1
	echo $? >"$work/enrol-first.rc"
	bash "$repo/docker/enrol.sh" >"$work/enrol-second.log" 2>&1
	echo $? >"$work/enrol-second.rc"
	curl -sS -H "Authorization: Bearer $(head -n 1 "$NTM_DC_TOKEN_FILE")" \
		http://127.0.0.1:47880/v1/records >"$work/records.json" 2>"$work/records.log"
}

# A PID namespace of its own, so that the kernel kills ntm-dcd when the
# scenario's shell dies, even by SIGKILL.
run_enrol_scenario() {
	unshare --net --pid --fork --kill-child -- bash -c "$(declare -f enrol_scenario); enrol_scenario \"\$@\"" \
		enrol_scenario "$WORK" "$BUILD" "$REPO"
}

# Usage: step_passed STEP: succeeds when WORK/enrol-STEP.rc contains 0.
step_passed() {
	[[ $(cat "$WORK/enrol-$1.rc" 2>/dev/null) == 0 ]]
}

# Usage: stage_units: copies packaging/systemd into $STAGE/units with each
# ExecStart= pointing into the staged install, because "systemd-analyze
# verify" fails on a missing executable.
stage_units() {
	local unit

	mkdir -p "$STAGE/units" || return
	for unit in "$REPO"/packaging/systemd/*.service; do
		sed "s|^ExecStart=/usr/sbin/|ExecStart=$STAGE/usr/sbin/|" "$unit" \
			>"$STAGE/units/${unit##*/}" || return
	done
	cp -r "$REPO"/packaging/systemd/*.service.d "$STAGE/units/"
}

staged_binaries() {
	local file missing=0

	for file in sbin/ntm-dcd sbin/ntm-rsd sbin/ntm-noded sbin/ntm-ssdpd sbin/ntm-dad \
		bin/ntm-keygen; do
		[[ -x $STAGE/usr/$file ]] && continue
		echo "# cmake --install did not install $file" >&2
		missing=1
	done
	return "$missing"
}

# Usage: verify_unit UNIT: "systemd-analyze verify" must exit 0 and print
# nothing, because it reports unknown keys and bad values as warnings only.
verify_unit() {
	local out

	out=$(systemd-analyze verify "$STAGE/units/$1" 2>&1) || {
		printf '%s\n' "$out" >&2
		return 1
	}
	[[ -z $out ]] || { printf '%s\n' "$out" >&2; return 1; }
}

# Usage: unit_caps UNIT: prints the bounding and ambient capability sets of
# UNIT, drop-ins applied, as "bounding=...;ambient=...", from the unit dump
# that "systemd-analyze verify" logs at debug level.
unit_caps() {
	SYSTEMD_LOG_LEVEL=debug systemd-analyze verify "$STAGE/units/$1" 2>&1 | awk '
		$1 == "CapabilityBoundingSet:" { $1 = ""; bounding = $0 }
		$1 == "AmbientCapabilities:" { $1 = ""; ambient = $0 }
		END { gsub(/^ +/, "", bounding); gsub(/^ +/, "", ambient)
		      printf "bounding=%s;ambient=%s\n", bounding, ambient }'
}

# Usage: caps_are UNIT EXPECTED
caps_are() {
	sys_equal "$2" "$(unit_caps "$1")"
}

security_ok() {
	systemd-analyze security --offline=yes --no-pager --threshold="$MAX_EXPOSURE" \
		"$STAGE/units/$1" >"$WORK/security-$1.out" 2>&1 && return 0
	tail -n 1 "$WORK/security-$1.out" >&2
	return 1
}

echo "# staged install"
require "cmake --install stages the build" \
	run_logged install cmake --install "$BUILD" --prefix "$STAGE/usr"
check "every daemon is installed" staged_binaries

echo "# docker-compose.yml"
check "docker-compose config -q accepts the file" run_logged compose compose config -q
check "compose bind-mount sources exist" compose_sources_exist
check "compose build targets are Dockerfile stages" compose_targets_exist

echo "# docker/Dockerfile"
check "COPY sources are in the build context" copy_sources_in_context
check "build stage installs CMake's packages" build_stage_has_cmake_deps
check "runtime stage has every shared library" runtime_stage_has_libraries
if check "npm installs the Dockerfile linters" run_logged npm npm_linters; then
	check "dockerfile-utils lint passes" lint_dockerfile_utils
	check "dockerfilelint passes" \
		run_logged dockerfilelint "$NPM_DIR/node_modules/.bin/dockerfilelint" "$DOCKERFILE"
fi

echo "# docker/config"
check "home router rules pass nft -c" nft_check "$REPO/docker/config/router-home.nft"
check "mobile router rules pass nft -c" nft_check "$REPO/docker/config/router-mobile.nft"
require "keys.sh writes keys, tokens and configs" run_logged keys run_keys
check "keys.sh run again keeps keys and tokens" keys_kept
check "configs have no placeholder left" no_placeholder_left
check "dcd.conf passes ntm-dcd -n" \
	run_logged check-dcd "$BUILD/dcd/ntm-dcd" -n -c "$WORK/etc/dc/dcd.conf"
check "rsd.conf passes ntm-rsd -n" \
	run_logged check-rsd "$BUILD/rsd/ntm-rsd" -n -c "$WORK/etc/rs/rsd.conf"
for host in agent player; do
	check "$host noded.conf passes ntm-noded -n" run_logged "check-$host-noded" \
		"$BUILD/nodeagent/ntm-noded" -n -c "$WORK/etc/$host/noded.conf"
	check "$host ssdpd.conf passes ntm-ssdpd -n" run_logged "check-$host-ssdpd" \
		"$BUILD/ssdp-proxy/ntm-ssdpd" -n -c "$WORK/etc/$host/ssdpd.conf"
done
check "agent dad.conf passes ntm-dad -n" \
	run_logged check-dad "$BUILD/dad/ntm-dad" -n -c "$WORK/etc/agent/dad.conf"
run_enrol_scenario
check "enrol.sh enrols both nodes" step_passed first
check "enrol.sh run again passes" step_passed second
check "DC has the two records" \
	sys_equal 2 "$(jq -r .total "$WORK/records.json" 2>/dev/null)"

echo "# packaging/systemd"
require "units are staged" stage_units
for unit in ntm-dcd.service ntm-rsd.service ntm-noded.service ntm-dad.service \
	ntm-ssdpd@home.service ntm-ssdpd@player.service; do
	check "systemd-analyze verify $unit" verify_unit "$unit"
	check "$unit exposure at most $((MAX_EXPOSURE / 10)).$((MAX_EXPOSURE % 10))" \
		security_ok "$unit"
done
check "ntm-dcd gets no capability" caps_are ntm-dcd.service "bounding=;ambient="
check "ntm-rsd gets no capability" caps_are ntm-rsd.service "bounding=;ambient="
check "ntm-noded gets NET_ADMIN, NET_BIND_SERVICE" caps_are ntm-noded.service \
	"bounding=cap_net_bind_service cap_net_admin;ambient=cap_net_bind_service cap_net_admin"
check "ntm-dad gets NET_ADMIN" caps_are ntm-dad.service \
	"bounding=cap_net_admin;ambient=cap_net_admin"
check "ntm-ssdpd@home gets no capability" caps_are ntm-ssdpd@home.service \
	"bounding=;ambient="
check "ntm-ssdpd@player gets NET_ADMIN" caps_are ntm-ssdpd@player.service \
	"bounding=cap_net_admin;ambient=cap_net_admin"

sys_summary
