# The demo's restricted record and its reader (sourced by scripts/demo.sh and tests/test_demo_access.py,
# not run). The letter of 1946 is open only to the group "researchers", the demo user's; anyone else
# gets its public substitute (reduced, watermarked).
# The password is fixed and printed: the demo serves loopback only. The key that signs access cookies
# and tokens is made on the first run, kept in the (git-ignored) demo folder, mode 0600, never printed.

DEMO_USER="${DEMO_USER:-nghien-cuu}"
DEMO_PASSWORD="${DEMO_PASSWORD:-luu-tru-1946}"
DEMO_GROUP=researchers
DEMO_RESTRICTED_PREFIX=letter-1946

# prepare_demo_access FOLDER VENV_BIN: writes FOLDER/users.json (the demo user, through
# `iiif-archive users add`), FOLDER/auth-secret once, and FOLDER/access.toml, the settings `serve --config` reads.
prepare_demo_access() {
  local folder="$1" bin="$2"
  mkdir -p "$folder"
  if [[ ! -s "$folder/auth-secret" ]]; then
    (umask 077 && "$bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' \
      > "$folder/auth-secret")
  fi
  "$bin/iiif-archive" users add "$DEMO_USER" --group "$DEMO_GROUP" --password "$DEMO_PASSWORD" \
    --users-file "$folder/users.json" > /dev/null
  (umask 077 && "$bin/python" - "$folder" "$DEMO_GROUP" "$DEMO_RESTRICTED_PREFIX" \
    > "$folder/access.toml" <<'PYTHON'
import json, pathlib, sys
folder = pathlib.Path(sys.argv[1]).resolve()
settings = {
    "auth_secret": (folder / "auth-secret").read_text().strip(),
    "auth_users_file": str(folder / "users.json"),
    "restricted_prefixes": f"{sys.argv[3]}:{sys.argv[2]}",
    # What anonymous readers see instead: a reduced copy with a visible bilingual watermark.
    "restricted_substitute": "max:1200 watermark",
}
# A JSON string is a TOML basic string: quotes and backslashes in the path stay escaped.
print("\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items()))
PYTHON
  )
  echo "restricted record: $DEMO_RESTRICTED_PREFIX (group $DEMO_GROUP); demo reader: $DEMO_USER, password: $DEMO_PASSWORD"
}
