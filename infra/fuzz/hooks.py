"""Schemathesis hooks for `npm run test:fuzz`, loaded through `hooks` in the config fuzz.ts writes.

1. Lone UTF-16 surrogates and NULs in JSON bodies, often. Schemathesis leaves surrogates out of its
   alphabet by default; with a codec that can encode them (`unicode_escape`, which fuzz.ts sets)
   Hypothesis draws them, but into about one string in a thousand. NULs (`allow-x00`) reach about
   one body in sixteen. So this hook puts a lone surrogate into a string of a quarter of the
   generated JSON bodies, and a NUL into a string of another quarter. They travel as `\\ud800` and
   `\\u0000` escapes (Python's json writes them so), which is what a hostile client sends. (Path,
   query and header values cannot carry a lone surrogate: it has no UTF-8 form.) Not in the contract
   run (FUZZ_HOSTILE=0), which sends text as clients do.
2. Who calls. The fuzzing user (the config's bearer auth) owns the objects the path parameters
   point at. Operations that destroy objects (DELETE, ownership transfers) run as a second user on
   objects of their own, so the rest of the run keeps its objects; operations that end the caller's
   session (logout revokes the caller's access token whatever the body says; deleting the account;
   a password change) run as a fresh user each, registered just before the call. fuzz.ts writes who
   does what to the JSON file named by FUZZ_IDENTITIES.
3. In the contract run, a check that a 400 to a schema-valid request names only a cursor or a
   one-time code (the inputs no schema can state).
4. A workaround in schemathesis 4.32.5 (pinned): when the server rejects a valid body that has
   extra properties, the positive_data_acceptance check looks for a hint by validating the body
   with jsonschema_rs, which cannot take a lone surrogate (it needs UTF-8), and the check's
   UnicodeEncodeError aborts the whole operation. The check already skips that hint for bodies
   with a NUL ("many servers reject them"); here it is skipped for surrogates too. Only the hint
   is lost: the failure itself is still reported.
"""

import json
import os
import urllib.request
import uuid

from hypothesis import strategies as st

import schemathesis
from schemathesis.specs.openapi import checks

SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\udc00\ud800"]
NULS = ["\x00", "\x00\x00"]


def _string_paths(value, path=()):
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_paths(item, (*path, index))


def _with_inserted(value, path, text, position):
    if not path:
        at = position % (len(value) + 1)
        return value[:at] + text + value[at:]
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _with_inserted(value[head], rest, text, position)
    return copy


HOSTILE = os.environ.get("FUZZ_HOSTILE", "1") == "1"


@schemathesis.hook
def flatmap_body(ctx, body):
    paths = list(_string_paths(body))
    if not HOSTILE or not paths:
        return st.just(body)

    def inserting(texts):
        return st.builds(
            lambda path, text, position: _with_inserted(body, path, text, position),
            st.sampled_from(paths),
            st.sampled_from(texts),
            st.integers(min_value=0, max_value=1 << 16),
        )

    return st.integers(min_value=1, max_value=4).flatmap(
        lambda roll: inserting(SURROGATES) if roll == 1 else inserting(NULS) if roll == 2 else st.just(body)
    )


# The contract run accepts a 400 to a schema-valid request only on operations taking a page cursor
# or a one-time code (config.ts); this check holds that 400 to naming those inputs and nothing else,
# so the allowance hides no other disagreement between the document and a service.
OPAQUE_INPUTS = {"query.cursor", "query.after", "body.code"}

if not HOSTILE:

    @schemathesis.check
    def refused_only_opaque_input(ctx, response, case):
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
            return None
        try:
            errors = response.json().get("errors") or []
        except Exception:
            errors = []
        others = sorted({str(error.get("path")) for error in errors} - OPAQUE_INPUTS)
        if not errors or others:
            raise AssertionError(
                "A schema-valid request was answered 400 for "
                + (", ".join(others) or "no named input")
                + ": only a cursor or a one-time code may be refused so"
            )
        return None


_additional_properties_hint = checks._additional_properties_hint


def _hint_unless_surrogates(case, response):
    try:
        return _additional_properties_hint(case, response)
    except UnicodeEncodeError:
        return None


checks._additional_properties_hint = _hint_unless_surrogates


def _identities():
    with open(os.environ["FUZZ_IDENTITIES"], encoding="utf-8") as file:
        return json.load(file)


IDENTITIES = _identities()


def _fresh_user_token():
    request = urllib.request.Request(
        f"{IDENTITIES['gatewayUrl']}/api/v1/auth/register",
        data=json.dumps(
            {
                "email": f"fuzz-fresh-{uuid.uuid4().hex[:12]}@example.test",
                "password": "fuzz fresh user password",
                "name": "Fuzz fresh user",
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["accessToken"]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # Only the fuzzing user's own token is swapped: a probe without credentials, or with made-up
    # ones (the ignored_auth check), is left as it is.
    if not case.headers or case.headers.get("Authorization") != f"Bearer {IDENTITIES['userToken']}":
        return
    label = case.operation.label
    if label in IDENTITIES["victimOperations"]:
        case.headers["Authorization"] = f"Bearer {IDENTITIES['victimToken']}"
    elif label in IDENTITIES["freshUserOperations"]:
        case.headers["Authorization"] = f"Bearer {_fresh_user_token()}"
