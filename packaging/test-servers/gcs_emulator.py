#!/usr/bin/env python3
"""gcp-storage-emulator (pinned in packaging/setup.sh) with its resumable-upload answers brought in line
with what the GCS documentation says. Same command line as `gcp-storage-emulator`:

    gcs_emulator.py start --host 127.0.0.1 --port 9023 --default-bucket pbx-backups -q

Changes (each one a documented GCS behaviour the emulator gets wrong):
  - a status query or chunk that leaves nothing persisted answers 308 WITHOUT a Range header (the
    emulator said `Range: bytes=0-0`, i.e. one byte persisted);
  - a status query (or any request) to a session that has completed answers 200 with the object
    resource (the emulator said 404);
  - DELETE on a session URI cancels it and answers 499 (the emulator said 501 and kept the session);
    later requests to it get 404;
  - deleting an object answers 204 No Content (the emulator said 200);
  - an error answer with no body gets GCS's JSON error body {"error": {"code", "message", "errors"}}
    (the emulator sent an empty body, e.g. on 404).
Everything else is the emulator as released; see packaging/test-servers.sh for what still differs.
"""
import json
import sys
import threading
from http import HTTPStatus

from gcp_storage_emulator import server
from gcp_storage_emulator.__main__ import main
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects
from gcp_storage_emulator.storage import RESUMABLE_DIR

_finished = {}  # upload_id -> the object resource it created
_lock = threading.Lock()


class _Status:
    """A status the emulator's Response can send (it needs .value and .phrase)."""

    def __init__(self, value, phrase):
        self.value, self.phrase = value, phrase


CLIENT_CLOSED_REQUEST = _Status(499, "Client Closed Request")


def _resumable_incomplete(response, storage, upload_id, fallback_end=0):
    response.status = objects.GoogleHTTPStatus.RESUME_INCOMPLETE
    received = storage.get_resumable_byte_count(upload_id)
    if received > 0:
        response["Range"] = "bytes=0-{}".format(received - 1)


_original_finalize = objects._finalize_resumable_object


def _finalize_resumable_object(response, storage, obj, data, upload_id):
    _original_finalize(response, storage, obj, data, upload_id)
    with _lock:
        _finished[upload_id] = obj


_original_upload_partial = objects.upload_partial


def upload_partial(request, response, storage, *args, **kwargs):
    upload_id = request.query.get("upload_id", [None])[0]
    with _lock:
        done = _finished.get(upload_id)
    if done is not None:
        request.data  # read the body: the emulator closes the connection after answering
        response.json(done)
        return
    return _original_upload_partial(request, response, storage, *args, **kwargs)


def cancel_upload(request, response, storage, *args, **kwargs):
    request.data  # read the body: the emulator closes the connection after answering
    upload_id = request.query.get("upload_id", [None])[0]
    if not upload_id:
        response.status = HTTPStatus.BAD_REQUEST
        return
    try:
        storage.delete_resumable_file_obj(upload_id)
    except NotFound:
        response.status = HTTPStatus.NOT_FOUND
        return
    try:
        storage._delete_file(RESUMABLE_DIR, storage.safe_id(upload_id))
    except Exception:  # the bytes file may not exist (no chunk received)
        pass
    storage._write_config_to_file()
    response.status = CLIENT_CLOSED_REQUEST


_original_delete = objects.delete


def delete_object(request, response, storage, *args, **kwargs):
    _original_delete(request, response, storage, *args, **kwargs)
    if response.status == HTTPStatus.OK:
        response.status = HTTPStatus.NO_CONTENT


_REASONS = {400: "invalid", 401: "required", 403: "forbidden", 404: "notFound", 409: "conflict",
            412: "conditionNotMet", 416: "requestedRangeNotSatisfiable", 501: "notImplemented"}
_original_close = server.Response.close


def close(self):
    code = int(getattr(self.status, "value", self.status))
    if code >= 400 and code != 499 and not self._content:
        phrase = getattr(self.status, "phrase", "") or "Error"
        message = "No such object or bucket." if code == 404 else phrase
        self.json({"error": {"code": code, "message": message, "errors": [
            {"message": message, "domain": "global", "reason": _REASONS.get(code, "backendError")}]}})
        self["Content-type"] = "application/json; charset=UTF-8"
    _original_close(self)


def patch():
    objects._resumable_incomplete = _resumable_incomplete
    objects._finalize_resumable_object = _finalize_resumable_object
    objects.upload_partial = upload_partial  # _create_resumable_upload calls it by name
    server.Response.close = close
    patched = 0
    for _regex, handlers in server.HANDLERS:
        if handlers.get(server.PUT) is _original_upload_partial:
            handlers[server.PUT] = upload_partial
            handlers[server.DELETE] = cancel_upload
            patched += 1
        if handlers.get(server.DELETE) is _original_delete:
            handlers[server.DELETE] = delete_object
    if not patched:
        sys.exit("gcs_emulator.py: the emulator's routes changed; update packaging/test-servers/gcs_emulator.py")


if __name__ == "__main__":
    patch()
    sys.exit(main())
