#!/bin/bash
# Installs the independent peers the interop suites use (idempotent; fast when already installed).
#  - Debian: gss-ntlmssp + python3-gssapi, Apache mod_auth_gssapi, pywinrm 0.3.0, Go masterzen/winrm,
#    FreeRDP shadow server + xfreerdp, impacket, OpenSSH server, Xvfb, tinyproxy (HTTP CONNECT proxy), redis-server (the fan-out queue tests)
#  - NuGet: the real PowerShell 7.6.9 as a dotnet tool, in $WINRM_TS_PEERS_DIR/pwsh (default /opt/winrm-ts-peers)
set -euo pipefail
PEERS_DIR=${WINRM_TS_PEERS_DIR:-/opt/winrm-ts-peers}
PKGS=(gss-ntlmssp python3-gssapi python3-cryptography python3-openssl python3-requests
  apache2 libapache2-mod-auth-gssapi curl
  python3-requests-ntlm python3-winrm python3-impacket
  freerdp2-shadow-x11 freerdp2-x11 winpr-utils xvfb
  golang-go golang-github-masterzen-winrm-dev golang-github-dylanmei-winrmtest-dev golang-github-jcmturner-gokrb5.v8-dev
  openssh-server openssh-client openssl
  krb5-kdc krb5-admin-server krb5-user tinyproxy redis-server)
PKGS+=(procps util-linux passwd) # the endpoint's account tests: ps, setpriv, useradd
PKGS+=(libsecret-tools gnome-keyring dbus) # the CLI's opt-in keyring (secret-tool) and a headless Secret Service for its test
PKGS+=(zsh fish) # `winrm-ts completion`: each shell parses (and fish completes) its script
PKGS+=(tmux) # the interactive shell tests drive `winrm-ts shell` in a terminal
PKGS+=(dnsmasq-base) # Kerberos KDC discovery: a private DNS server on loopback publishing _kerberos._tcp SRV records
PKGS+=(samba smbclient) # a Samba share accepting Kerberos (MIT keytab) as the second-hop resource of the delegation tests
PKGS+=(python3) # the endpoint's spawn helper (src/server/spawn-helper.ts) and its tests
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "peers: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "peers: Debian packages present"
fi
if [ ! -x "$PEERS_DIR/pwsh/pwsh" ]; then
  command -v dotnet >/dev/null || { echo "peers: no dotnet SDK: cannot install PowerShell 7.6.9" >&2; exit 1; }
  mkdir -p "$PEERS_DIR"
  echo "peers: installing PowerShell 7.6.9 (dotnet tool) into $PEERS_DIR/pwsh"
  dotnet tool install --tool-path "$PEERS_DIR/pwsh" PowerShell --version 7.6.9 >/dev/null
else
  echo "peers: PowerShell present at $PEERS_DIR/pwsh/pwsh"
fi
# Go peers are built on demand by the tests (GOPATH mode, cached in .peers/).
echo "peers: ready"
