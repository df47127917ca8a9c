#!/bin/bash
# Cold start of the CLI, interleaved rounds, medians: `--version`, `--help`, and `run -H ... -- true` over NTLM against
# `winrm-ts serve`, beside pywinrm's run_cmd doing the same. Usage:
#   bench/cold-start.sh [ROUNDS] [BEFORE_CLI_MAIN_JS]   (BEFORE: another build's dist/src/cli/main.js to compare with)
set -u
cd "$(dirname "$0")/.."
N=${1:-10}; BEFORE=${2:-}
CLI=${CLI_MAIN:-dist/src/bundle/main.js}   # package.json bin
OSSL=${OPENSSL_CONF_LEGACY:-/work/shared/peers/openssl-legacy.cnf}
T=$(mktemp -d); trap 'kill $SP 2>/dev/null; rm -rf "$T"' EXIT
printf 'EXAMPLE\\alice:Passw0rd!\n' > "$T/users"; chmod 600 "$T/users"
P=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
node $CLI serve --listen 127.0.0.1:$P --users "$T/users" --auth basic,negotiate --allow-unencrypted --quiet > "$T/serve.log" 2>&1 & SP=$!
for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$P) 2>/dev/null && break; sleep 0.1; done
ms() { local s e; s=$(date +%s%N); "$@" > /dev/null 2>&1 || echo "failed: $*" >&2; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
declare -A R
for i in $(seq 1 "$N"); do
  for c in after ${BEFORE:+before}; do
    m=$CLI; [ "$c" = before ] && m=$BEFORE
    R[$c-version]+="$(ms node $m --version) "
    R[$c-help]+="$(ms node $m --help) "
    R[$c-run]+="$(ms node $m run -H 127.0.0.1:$P -u 'EXAMPLE\alice' -p 'Passw0rd!' -- true) "
  done
  R[pywinrm-run]+="$(ms env OPENSSL_CONF=$OSSL /usr/bin/python3 -c "import winrm; winrm.Session('http://127.0.0.1:$P/wsman', auth=('EXAMPLE\\\\alice','Passw0rd!'), transport='ntlm').run_cmd('true')") "
  R[node-e0]+="$(ms node -e 0) "
done
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); rounds: $N; medians in ms"
for k in node-e0 ${BEFORE:+before-version before-help before-run} after-version after-help after-run pywinrm-run; do
  echo "$k $(echo ${R[$k]} | med)   [${R[$k]}]"
done
