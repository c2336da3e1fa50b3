"""A stand-in for the Python perseus-client's file service, written from the
wire contract (../shared/CONTRACT.md): the same calls in the same order, the
same defaults, and createdAt parsed the way older Pythons must parse it.
The real package cannot be installed here (PyPI is unreachable).

Usage: python3 python_client.py FILE  (PERSEUS_API_HOST, LETTRIA_API_KEY set)
Prints one line per step; exits non-zero on any deviation from the contract.
"""
import datetime
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

HOST = os.environ["PERSEUS_API_HOST"].rstrip("/")
KEY = os.environ["LETTRIA_API_KEY"]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(HOST + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + KEY)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        assert "message" in body, body
        return e.code, body


def parse_file(f):
    # Older Python: fromisoformat accepts only this shape once Z is +00:00.
    created = datetime.datetime.fromisoformat(f["createdAt"].replace("Z", "+00:00"))
    assert created.tzinfo is not None
    assert f["status"] in ("pending", "uploaded", "failed"), f
    return f


def create_file(name, source_hash):
    return call("POST", "/api/v0/file", {"name": name, "sourceHash": source_hash})


def find_files(ids=None, source_hashes=None):
    body = {}
    if ids is not None:
        body["ids"] = ids
    if source_hashes is not None:
        body["sourceHashes"] = source_hashes
    status, res = call("POST", "/api/v0/file/find", body)
    assert status == 200, (status, res)
    return [parse_file(f) for f in res["files"]]


def find_file(file_id):
    files = find_files(ids=[file_id])
    return files[0] if files else None


def upload_file(path):
    with open(path, "rb") as fh:
        content = fh.read()  # the Python SDK reads the whole file
    source_hash = hashlib.sha256(content).hexdigest()
    status, res = create_file(os.path.basename(path), source_hash)
    if status == 409:
        return find_files(source_hashes=[source_hash])[0], False
    assert status in (200, 201), (status, res)
    req = urllib.request.Request(res["uploadUrl"], data=content, method="PUT")
    with urllib.request.urlopen(req) as resp:  # no extra headers, as the SDK sends none
        assert 200 <= resp.status < 300, resp.status
    return parse_file(res["file"]), True


def wait_for_file_upload(file_id, polling_interval=0.5, timeout=3600):
    start = time.time()
    while time.time() - start < timeout:
        f = find_file(file_id)
        if f and f["status"] == "uploaded":
            return f
        if f and f["status"] == "failed":
            raise RuntimeError("upload failed")
        time.sleep(polling_interval)
    raise TimeoutError(file_id)


def delete_file(file_id):
    status, _ = call("DELETE", "/api/v0/file/" + file_id)
    assert status in (200, 204), status


def main(path):
    f, sent = upload_file(path)
    assert sent, "first upload sent nothing"
    print("upload_file:", f["status"])
    f = wait_for_file_upload(f["id"], timeout=30)
    print("wait_for_file_upload:", f["status"])
    again, sent = upload_file(path)
    assert not sent and again["id"] == f["id"], (again, sent)
    print("upload_file again: existing file returned, nothing sent")
    assert find_file("no-such-id") is None
    assert find_files(ids=[], source_hashes=[]) == []
    print("find_file unknown: None")
    delete_file(f["id"])
    assert find_file(f["id"]) is None
    status, res = call("DELETE", "/api/v0/file/" + f["id"])
    assert status == 404 and res["message"], (status, res)
    print("delete_file: gone, second delete 404")


if __name__ == "__main__":
    main(sys.argv[1])
