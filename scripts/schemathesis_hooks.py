"""Schemathesis hooks of `scripts/schemathesis` (loaded through SCHEMATHESIS_HOOKS).

Schemathesis generates values from openapi.yaml: a random X-API-KEY, X-USER-KEY, X-Auth-Token or
provider token is never a live one, so without help every operation behind a credential answers
only 401/403. `before_call` gives two cases in three of each operation live credentials (at most
SCHEMATHESIS_LIVE_MAX per operation and phase), minted through the local stack and the provider
emulator's admin API just before the call where the operation uses them up (logout, deletions,
key resets, callbacks); the other cases keep schemathesis' own values, so the refusals stay
exercised. Only the credential fields are replaced: the rest of
the generated request (other headers, query, body fields, media type) goes as generated.

`after_call` appends `<operationId> <status>` for every answer to SOCIAL_LOGIN_STATUS_LOG;
`scripts/schemathesis` prints the per-operation table from it and fails the run when an
operation that can succeed got no 2xx.

Environment (set by scripts/schemathesis): SOCIAL_LOGIN_BASE (the gateway), SOCIAL_LOGIN_EMULATOR
(the emulator), SOCIAL_LOGIN_STATUS_LOG, and the demo constants SOCIAL_LOGIN_INSTANCE,
SOCIAL_LOGIN_API_KEY, SOCIAL_LOGIN_ADMIN_API_KEY, SOCIAL_LOGIN_FACEBOOK_TOKEN,
SOCIAL_LOGIN_GITHUB_TOKEN, SOCIAL_LOGIN_TWITTER_TOKEN (`token:secret`),
SOCIAL_LOGIN_DELETION_CODE and the client ids SOCIAL_LOGIN_{FACEBOOK_APP,GOOGLE,LINKEDIN,APPLE}_ID.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import os
import threading

import requests
import schemathesis

ENV = os.environ
BASE = ENV["SOCIAL_LOGIN_BASE"]
EMULATOR = ENV["SOCIAL_LOGIN_EMULATOR"]
STATUS_LOG = ENV["SOCIAL_LOGIN_STATUS_LOG"]
INSTANCE = ENV["SOCIAL_LOGIN_INSTANCE"]
API_KEY = ENV["SOCIAL_LOGIN_API_KEY"]
ADMIN_API_KEY = ENV["SOCIAL_LOGIN_ADMIN_API_KEY"]
FACEBOOK_TOKEN = ENV["SOCIAL_LOGIN_FACEBOOK_TOKEN"]
GITHUB_TOKEN = ENV["SOCIAL_LOGIN_GITHUB_TOKEN"]
TWITTER_TOKEN = ENV["SOCIAL_LOGIN_TWITTER_TOKEN"]
DELETION_CODE = ENV["SOCIAL_LOGIN_DELETION_CODE"]
FACEBOOK_APP_ID = ENV["SOCIAL_LOGIN_FACEBOOK_APP_ID"]
CLIENT_IDS = {
    "google": ENV["SOCIAL_LOGIN_GOOGLE_ID"],
    "linkedin": ENV["SOCIAL_LOGIN_LINKEDIN_ID"],
    "apple": ENV["SOCIAL_LOGIN_APPLE_ID"],
    "microsoft": ENV["SOCIAL_LOGIN_MICROSOFT_ID"],
}
NONCE = "schemathesis-nonce"

# Of every LIVE_OF cases of an operation in a phase, the first LIVE get live credentials, up to
# LIVE_MAX cases per operation and phase (a success costs the stack far more than a refusal: the
# run's time budget; the coverage phase alone makes up to 300 cases of one operation).
LIVE, LIVE_OF = 2, 3
LIVE_MAX = int(ENV.get("SCHEMATHESIS_LIVE_MAX", "12"))

# Operations only an admin API key passes (the client key gets 403 whatever the rest).
ADMIN_OPERATIONS = {
    "syncanoResetKey",
    "syncanoResetKeyWrongMethodGet",
    "syncanoResetKeyWrongMethodDelete",
    "syncanoDeleteUser",
    "syncanoUserDetailWrongMethodGet",
    "syncanoUserDetailWrongMethodPut",
}
# Operations that use up the user they act on: a new one per case.
FRESH_USER_KEY = {"syncanoDeleteSelf"}
# A new session of a user of their own (the user stays: they end only sessions of that user).
FRESH_SESSION = {"rocketChatLogout", "rocketChatLogoutGet", "rocketChatRemoveOtherTokens"}
# A new session of a new user (the user goes).
FRESH_USER_SESSION = {"rocketChatDeleteOwnAccount"}
# Operations that act on the user of the path's id: a new user each time.
FRESH_ID = {"syncanoResetKey", "syncanoDeleteUser"}

_lock = threading.Lock()
_seen: collections.Counter[tuple[str, str]] = collections.Counter()
_live: collections.Counter[tuple[str, str]] = collections.Counter()
_shared: dict[str, object] = {}
_http = requests.Session()
_serial = itertools.count(1)
# The confirmation codes the data deletion callback answered (for the deletion-status route).
_deletion_codes: list[str] = []


def _post(url: str, body: dict, headers: dict | None = None) -> dict:
    response = _http.post(url, json=body, headers=headers or {}, timeout=15)
    if response.status_code != 200:
        raise RuntimeError(f"minting a credential: POST {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def facebook_user() -> tuple[str, str]:
    """A new person at the emulated Facebook: (app-scoped id, access token for our app)."""
    n = next(_serial)
    user = _post(f"{EMULATOR}/_emulator/facebook/users", {"name": f"Fuzz User {n}", "email": f"fuzz{n}@example.com"})
    token = _post(f"{EMULATOR}/_emulator/facebook/tokens", {"user": user["id"], "app_id": FACEBOOK_APP_ID})
    return str(user["id"]), token["access_token"]


def oidc_person(provider: str) -> tuple[str, str]:
    """A new person at the emulated `provider` (google, linkedin, apple): (sub, ID token for our app)."""
    n = next(_serial)
    user = _post(
        f"{EMULATOR}/_emulator/oidc/{provider}/users",
        {"name": f"Fuzz User {n}", "email": f"fuzz{n}@example.com", "email_verified": True},
    )
    claims = {"sub": user["sub"], "aud": CLIENT_IDS[provider]}
    if provider == "apple":
        # The emulator puts the SHA-256 of the raw nonce into Apple's token, as Apple does.
        claims["nonce"] = NONCE
    return user["sub"], _post(f"{EMULATOR}/_emulator/oidc/{provider}/id_tokens", claims)["id_token"]


def oidc_token(provider: str) -> str:
    return oidc_person(provider)[1]


def microsoft_token() -> str:
    """An ID token of a new person at the emulated Microsoft (a work account of one tenant), for
    our app, carrying the SHA-256 of the raw nonce as the verifier wants."""
    n = next(_serial)
    user = _post(
        f"{EMULATOR}/_emulator/microsoft/users",
        {"name": f"Fuzz User {n}", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
    )
    body = {"oid": user["oid"], "aud": CLIENT_IDS["microsoft"], "nonce": hashlib.sha256(NONCE.encode()).hexdigest()}
    return _post(f"{EMULATOR}/_emulator/microsoft/id_tokens", body)["id_token"]


def apple_user() -> str:
    """A new Syncano user signed up with Apple: its Apple `sub`."""
    sub, token = oidc_person("apple")
    _post(
        f"{BASE}/v1.1/instances/{INSTANCE}/user/auth/apple/",
        {"access_token": token, "nonce": NONCE},
        {"X-API-KEY": API_KEY},
    )
    return sub


# The notification types Apple sends, in turn: two forget the person, two record Hide My Email.
APPLE_EVENTS = itertools.cycle(("consent-revoked", "email-disabled", "account-delete", "email-enabled"))


def syncano_user() -> dict:
    """A new Syncano user (Facebook sign-up): its `id` and `user_key`, and `facebook_id`."""
    facebook_id, token = facebook_user()
    user = _post(
        f"{BASE}/v1.1/instances/{INSTANCE}/user/auth/facebook/", {"access_token": token}, {"X-API-KEY": API_KEY}
    )
    user["facebook_id"] = facebook_id
    return user


def rocket_chat_session(token: str | None = None) -> dict:
    """A new Rocket.Chat session of the Facebook user of `token` (else of a new user): authToken,
    userId, username."""
    if token is None:
        _, token = facebook_user()
    data = _post(f"{BASE}/api/v1/login", {"serviceName": "facebook", "accessToken": token, "expiresIn": 3600})["data"]
    return {"authToken": data["authToken"], "userId": data["userId"], "username": data["me"]["username"]}


def shared(name: str, mint):
    """A credential minted once and reused by the operations that leave it alive."""
    if name not in _shared:
        _shared[name] = mint()
    return _shared[name]


def operation_id(case) -> str:
    definition = getattr(case.operation, "definition", None)
    raw = getattr(definition, "raw", None)
    if isinstance(raw, dict) and raw.get("operationId"):
        return raw["operationId"]
    return case.operation.label


def _set_header(case, name: str, value: str) -> None:
    if case.headers is None:
        case.headers = {}
    for existing in [k for k in case.headers if k.lower() == name.lower()]:
        del case.headers[existing]
    case.headers[name] = value


def _set_body(case, **fields) -> None:
    if isinstance(case.body, dict):
        case.body.update(fields)


@schemathesis.hook
def before_call(context, case, kwargs):
    op = operation_id(case)
    with _lock:
        meta = getattr(case, "_meta", None)
        key = (op, str(getattr(getattr(meta, "phase", None), "name", "")))
        n = _seen[key]
        _seen[key] += 1
        if n % LIVE_OF >= LIVE or _live[key] >= LIVE_MAX:
            return
        _live[key] += 1
        _make_live(op, case)


def _make_live(op: str, case) -> None:
    names = {p.name for p in case.operation.iter_parameters()} if hasattr(case.operation, "iter_parameters") else set()
    path = case.operation.path
    if "{instance}" in path:
        case.path_parameters["instance"] = INSTANCE
    if path.startswith("/v1.1/"):
        _set_header(case, "X-API-KEY", ADMIN_API_KEY if op in ADMIN_OPERATIONS else API_KEY)
    if "X-USER-KEY" in names or path == "/v1.1/instances/{instance}/user/":
        if op in FRESH_USER_KEY:
            _set_header(case, "X-USER-KEY", syncano_user()["user_key"])
        else:
            _set_header(case, "X-USER-KEY", shared("reader", syncano_user)["user_key"])
    if path.startswith("/api/v1/") and op != "rocketChatLogin":
        if op in FRESH_USER_SESSION:
            session = rocket_chat_session()
        elif op in FRESH_SESSION:
            session = rocket_chat_session(shared(f"token of {op}", lambda: facebook_user()[1]))
        else:
            session = shared("me", rocket_chat_session)
        _set_header(case, "X-Auth-Token", session["authToken"])
        _set_header(case, "X-User-Id", session["userId"])
        if op == "rocketChatDeleteOwnAccount":
            _set_body(case, password=hashlib.sha256(session["username"].encode()).hexdigest())
    if "{id}" in path:
        # reset_key/ and DELETE users/{id}/ act on a user of their own (the reader keeps its key);
        # the methods not served never act on it.
        case.path_parameters["id"] = syncano_user()["id"] if op in FRESH_ID else shared("reader", syncano_user)["id"]

    if op == "syncanoLoginFacebook":
        _set_body(case, access_token=FACEBOOK_TOKEN)
    elif op == "syncanoLoginGitHub":
        _set_body(case, access_token=GITHUB_TOKEN)
    elif op == "syncanoLoginTwitter":
        _set_body(case, access_token=TWITTER_TOKEN)
    elif op == "syncanoLoginGoogle":
        _set_body(case, access_token=oidc_token("google"))
    elif op == "syncanoLoginLinkedIn":
        _set_body(case, access_token=oidc_token("linkedin"))
    elif op == "syncanoLoginApple":
        _set_body(case, access_token=oidc_token("apple"), nonce=NONCE)
    elif op == "syncanoLoginUnknownBackend":
        # The `{backend}` route's login: Microsoft, which the local stack serves.
        case.path_parameters["backend"] = "microsoft-graph"
        _set_body(case, access_token=microsoft_token(), nonce=NONCE)
    elif op == "rocketChatLogin":
        if isinstance(case.body, dict) and "resume" in case.body:
            # A resume login: a live session's token (a new session of the same user).
            case.body["resume"] = shared("me", rocket_chat_session)["authToken"]
        elif isinstance(case.body, dict):
            # An ID token would be read before the access token.
            for field in ("idToken", "identityToken"):
                case.body.pop(field, None)
            case.body.update(serviceName="facebook", accessToken=FACEBOOK_TOKEN)
            case.body.setdefault("expiresIn", 3600)
    elif op in ("facebookDataDeletion", "facebookDeauthorize"):
        user = syncano_user()
        signed = _post(
            f"{EMULATOR}/_emulator/facebook/signed_requests",
            {"app_id": FACEBOOK_APP_ID, "user_id": user["facebook_id"]},
        )
        _set_body(case, signed_request=signed["signed_request"])
    elif op == "appleNotification":
        # About a user who signed up with Apple, so that the notification acts on someone.
        notification = _post(
            f"{EMULATOR}/_emulator/apple/notifications",
            {"aud": CLIENT_IDS["apple"], "type": next(APPLE_EVENTS), "sub": apple_user()},
        )
        _set_body(case, payload=notification["payload"])
    elif op == "facebookDeletionStatus":
        # In turn the seeded deletion's code and the last one a data deletion callback answered.
        codes = [DELETION_CODE] + _deletion_codes[-1:]
        case.path_parameters["code"] = codes[next(_serial) % len(codes)]


@schemathesis.hook
def after_call(context, case, response):
    op = operation_id(case)
    with _lock:
        with open(STATUS_LOG, "a", encoding="utf-8") as log:
            log.write(f"{op} {response.status_code}\n")
        if op == "facebookDataDeletion" and response.status_code == 200:
            try:
                _deletion_codes.append(response.json()["confirmation_code"])
            except (ValueError, KeyError, TypeError):
                pass  # the contract checks judge the body
