#!/usr/bin/env bash
exec bash "$(dirname "${BASH_SOURCE[0]}")/../multihost-test.sh" "$@"  # 1 rank on each of 2 netns "hosts" over TCP
