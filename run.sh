#!/usr/bin/env bash
# The README's main command: builds in Release and starts the whole constellation on loopback with the embedded
# default model (image encoder, VLM encoder + router, three experts, gateway; Redis when redis-server is installed).
# Ctrl-C stops everything. Arguments go to `rsmoe up` (e.g. --port 8080, --model DIR, --redis off).
set -euo pipefail
cd "$(dirname "$0")"
dotnet build RsMoe.Micro.sln -c Release -v quiet -nologo -clp:ErrorsOnly
exec ./rsmoe up "$@"
