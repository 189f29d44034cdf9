#!/bin/sh
# Builds the release archives of fleetcast: one tar.gz per platform
# (linux and darwin, amd64 and arm64) holding the static binary, the
# example configs, the rules and the dashboards, plus SHA256SUMS, in dist/.
# The version metadata comes from the Makefile (VERSION, LDFLAGS, BUILDTAGS);
# the binary of this machine's platform is run to check it says no
# "unknown". Usage: make dist [PLATFORMS="linux/amd64 ..."]
set -eu
: "${VERSION:?run through make dist}" "${LDFLAGS:?run through make dist}" "${BUILDTAGS:=netgo,osusergo}"
GO=${GO:-go}
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"}
out=dist
rm -rf "$out"
mkdir -p "$out"
host="$($GO env GOOS)/$($GO env GOARCH)"
for p in $PLATFORMS; do
	os=${p%/*}
	arch=${p#*/}
	name="fleetcast-$VERSION.$os-$arch"
	dir="$out/$name"
	echo "dist: building $name"
	mkdir -p "$dir"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath -tags "$BUILDTAGS" \
		-ldflags "-s -w $LDFLAGS" -o "$dir/fleetcast" ./cmd/fleetcast
	if [ "$p" = "$host" ]; then
		v=$("$dir/fleetcast" --version)
		case "$v" in
		*unknown* | *"version dev"*)
			echo "dist: $name/fleetcast --version says:" >&2
			echo "$v" >&2
			echo "dist: a release build must name its version, revision, branch and build date" >&2
			exit 1
			;;
		esac
		echo "$v" | sed 's/^/dist:   /'
	fi
	mkdir -p "$dir/examples" "$dir/rules" "$dir/dashboards"
	cp README.md VERSION "$dir/"
	cp -R examples/. "$dir/examples/"
	cp rules/*.rules.yml "$dir/rules/"
	cp dashboards/*.json "$dir/dashboards/"
	# Reproducible archives: fixed owner and order, mtime of the commit.
	mtime=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" \
		-C "$out" -czf "$out/$name.tar.gz" "$name"
	rm -rf "$dir"
done
(cd "$out" && sha256sum -- *.tar.gz >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)
echo "dist: $(ls "$out"/*.tar.gz | wc -l) archives and SHA256SUMS in $out/"
cat "$out/SHA256SUMS"
