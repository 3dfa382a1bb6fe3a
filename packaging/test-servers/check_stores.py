#!/usr/bin/env python3
"""Smoke checks of the S3 and GCS test servers and their fault proxies, for `test-servers.sh check`.

    check_stores.py SERVERS_ENV WORKDIR

Prints PASS/FAIL lines like the rest of `check`; exits 1 if any check failed. Clients: boto3 for S3,
http.client and `cryptography` (a JWT signed as Google's client libraries do) for GCS.
"""
import base64
import hashlib
import http.client
import json
import os
import sys
import time
import traceback
import urllib.parse

failed = False


def check(description, function):
    global failed
    try:
        detail = function()
        print("PASS %s%s" % (description, ": %s" % detail if detail else ""))
    except Exception as error:  # noqa: BLE001 - every failure is a FAIL line
        failed = True
        print("FAIL %s: %s" % (description, error or type(error).__name__))
        traceback.print_exc(file=LOG)


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def call(base, method, path, body=None, headers=None):
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def control(base, what, payload=None):
    status, _, body = call(base, "POST" if payload is not None else "GET", "/__lifeboat/" + what,
                           json.dumps(payload).encode() if payload is not None else None,
                           {"Content-Type": "application/json"})
    expect(status == 200, "control %s: %d" % (what, status))
    return json.loads(body)


# --- S3 ---------------------------------------------------------------------------------------------

def s3_client(endpoint, key, secret):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, region_name=env["S3_REGION"], aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                                      connect_timeout=10, read_timeout=60))


def s3_code(function):
    from botocore.exceptions import ClientError
    try:
        function()
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
    return 200, None


def check_s3():
    bucket = env["S3_BUCKET"]
    secret = open(env["S3_SECRET_ACCESS_KEY_FILE"]).read()
    ro_secret = open(env["S3_READONLY_SECRET_ACCESS_KEY_FILE"]).read()
    s3 = s3_client(env["S3_ENDPOINT"], env["S3_ACCESS_KEY_ID"], secret)
    data = os.urandom(1 << 20)
    key = "check/%d.bin" % os.getpid()

    def roundtrip():
        s3.put_object(Bucket=bucket, Key=key, Body=data,
                      ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode())
        expect(s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data, "content differs")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="check/").get("Contents", [])]
        expect(key in keys, "not listed")
    check("S3 %s: boto3 put (Content-MD5), get, list" % env["S3_ENDPOINT"], roundtrip)

    def wrong_secret():
        status, code = s3_code(lambda: s3_client(env["S3_ENDPOINT"], env["S3_ACCESS_KEY_ID"], secret + "x")
                               .list_objects_v2(Bucket=bucket))
        expect(status == 403, "got %s %s" % (status, code))
        return "%d %s" % (status, code)
    check("S3: wrong secret refused", wrong_secret)

    def readonly():
        ro = s3_client(env["S3_ENDPOINT"], env["S3_READONLY_ACCESS_KEY_ID"], ro_secret)
        expect(ro.get_object(Bucket=bucket, Key=key)["Body"].read() == data, "read-only key cannot read")
        status, code = s3_code(lambda: ro.put_object(Bucket=bucket, Key=key + ".ro", Body=b"x"))
        expect(status == 403, "read-only PUT: %s %s" % (status, code))
        return "GET ok, PUT %d %s" % (status, code)
    check("S3: read-only key reads, cannot write", readonly)

    proxy = env["S3_PROXY_ENDPOINT"]
    via = s3_client(proxy, env["S3_ACCESS_KEY_ID"], secret)

    def through_proxy():
        control(proxy, "reset", {})
        via.put_object(Bucket=bucket, Key=key + ".proxy", Body=data)
        expect(via.get_object(Bucket=bucket, Key=key + ".proxy")["Body"].read() == data, "content differs")
        log = control(proxy, "log")
        expect([e["method"] for e in log] == ["PUT", "GET"], "log: %s" % log)
        expect(log[0]["body_bytes"] == len(data) and log[0]["status"] == 200, "log: %s" % log[0])
        expect(log[0]["authorization"] is True and "Authorization" not in json.dumps(log[0]["headers"]),
               "authorization logging: %s" % log[0])
    check("S3 proxy %s: signed PUT and GET pass (Host forwarded), logged" % proxy, through_proxy)

    def fault_once():
        control(proxy, "reset", {})
        control(proxy, "faults", [{"method": "PUT", "path": "/check/", "times": 1, "status": 503,
                                   "headers": {"Retry-After": "1"},
                                   "body": "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown"
                                           "</Code><Message>Please reduce your request rate.</Message></Error>"}])
        first = s3_code(lambda: via.put_object(Bucket=bucket, Key=key + ".fault", Body=data))
        second = s3_code(lambda: via.put_object(Bucket=bucket, Key=key + ".fault", Body=data))
        expect(first == (503, "SlowDown") and second == (200, None), "got %s then %s" % (first, second))
        log = control(proxy, "log")
        expect([(e["status"], e["fault"]) for e in log] == [(503, "status"), (200, None)], "log: %s" % log)
        return "503 SlowDown, then 200"
    check("S3 proxy: a 503 rule fires once", fault_once)

    def drop():
        control(proxy, "reset", {})
        control(proxy, "faults", [{"method": "PUT", "drop_after_bytes": 65536}])
        try:
            via.put_object(Bucket=bucket, Key=key + ".drop", Body=data)
            raise AssertionError("the PUT succeeded")
        except AssertionError:
            raise
        except Exception as error:  # noqa: BLE001 - a connection error is the point
            kind = type(error).__name__
        log = control(proxy, "log")
        expect(log[0]["fault"] == "drop_after_bytes" and log[0]["status"] is None
               and log[0]["body_bytes"] == 65536, "log: %s" % log)
        status, _ = s3_code(lambda: s3.head_object(Bucket=bucket, Key=key + ".drop"))
        expect(status == 404, "the dropped object exists (%s)" % status)
        return kind
    check("S3 proxy: drop_after_bytes cuts the connection, nothing stored", drop)

    def cleanup():
        for suffix in ("", ".proxy", ".fault"):
            s3.delete_object(Bucket=bucket, Key=key + suffix)
        control(proxy, "reset", {})
    check("S3: clean up", cleanup)

    if env.get("S3_LOCKED_BUCKET"):
        def locked():
            import datetime
            locked_bucket = env["S3_LOCKED_BUCKET"]
            until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            version = s3.put_object(Bucket=locked_bucket, Key=key, Body=b"x", ObjectLockMode="GOVERNANCE",
                                    ObjectLockRetainUntilDate=until)["VersionId"]
            status, code = s3_code(lambda: s3.delete_object(Bucket=locked_bucket, Key=key, VersionId=version))
            s3.delete_object(Bucket=locked_bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
            expect(status == 403, "delete of a locked version: %s %s" % (status, code))
            return "DELETE of the locked version: %d %s" % (status, code)
        check("S3 %s: Object Lock (GOVERNANCE) holds" % env["S3_LOCKED_BUCKET"], locked)


# --- GCS --------------------------------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_jwt(account, scope="https://www.googleapis.com/auth/devstorage.read_write", now=None, lifetime=3600):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    now = int(time.time()) if now is None else now
    header = {"alg": "RS256", "typ": "JWT", "kid": account["private_key_id"]}
    claims = {"iss": account["client_email"], "scope": scope, "aud": account["token_uri"], "iat": now,
              "exp": now + lifetime}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    key = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def token_request(account, assertion):
    url = urllib.parse.urlsplit(account["token_uri"])
    form = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                   "assertion": assertion})
    status, _, body = call("http://%s" % url.netloc, "POST", url.path, form,
                           {"Content-Type": "application/x-www-form-urlencoded"})
    return status, json.loads(body)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return base64.b64encode((crc ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


def check_gcs():
    front, bucket = env["GCS_ENDPOINT"], env["GCS_BUCKET"]
    account = json.load(open(env["GCS_CREDENTIALS_FILE"]))
    untrusted = json.load(open(env["GCS_UNTRUSTED_CREDENTIALS_FILE"]))
    tokens = {}

    def token():
        status, answer = token_request(account, signed_jwt(account))
        expect(status == 200 and answer.get("token_type") == "Bearer" and answer.get("access_token"),
               "got %d %s" % (status, answer))
        tokens["live"] = answer["access_token"]
        return "expires_in %s" % answer["expires_in"]
    check("GCS token endpoint %s: JWT from GCS_CREDENTIALS_FILE gets a token" % account["token_uri"], token)

    def refused_jwts():
        results = []
        for label, acct, kwargs in (("untrusted key", untrusted, {}),
                                    ("read-only scope", account,
                                     {"scope": "https://www.googleapis.com/auth/devstorage.read_only"}),
                                    ("expired", account, {"now": int(time.time()) - 7200}),
                                    ("2 h lifetime", account, {"lifetime": 7200})):
            jwt = signed_jwt(dict(acct, token_uri=account["token_uri"]), **kwargs)
            status, answer = token_request(account, jwt)
            expect(status == 400 and "error" in answer, "%s: %d %s" % (label, status, answer))
            results.append("%s %s" % (label, answer["error"]))
        return ", ".join(results)
    check("GCS token endpoint: bad JWTs get 400", refused_jwts)

    bearer = {"Authorization": "Bearer %s" % tokens.get("live")}
    data = os.urandom(600 * 1024)
    name = "check/%d.bin" % os.getpid()
    quoted = urllib.parse.quote(name, safe="")

    def media_and_list():
        control(front, "reset", {})
        status, _, body = call(front, "POST", "/upload/storage/v1/b/%s/o?uploadType=media&name=%s" % (bucket, quoted),
                               data, dict(bearer, **{"Content-Type": "application/octet-stream"}))
        expect(status == 200, "upload: %d %s" % (status, body[:200]))
        obj = json.loads(body)
        expect(obj["md5Hash"] == base64.b64encode(hashlib.md5(data).digest()).decode(), "md5Hash")
        status, _, body = call(front, "GET", "/storage/v1/b/%s/o?prefix=check%%2F" % bucket, None, bearer)
        expect(status == 200 and name in [o["name"] for o in json.loads(body).get("items", [])],
               "list: %d %s" % (status, body[:200]))
        status, _, body = call(front, "GET", "/storage/v1/b/%s/o/%s?alt=media" % (bucket, quoted), None, bearer)
        expect(status == 200 and body == data, "download: %d" % status)
    check("GCS front %s: media upload, list, download with the token" % front, media_and_list)

    def no_token():
        status, headers, body = call(front, "GET", "/storage/v1/b/%s/o" % bucket)
        expect(status == 401 and json.loads(body)["error"]["code"] == 401
               and headers.get("www-authenticate", "").startswith("Bearer"), "got %d %s" % (status, body[:200]))
        status, _, _ = call(front, "GET", "/storage/v1/b/%s/o" % bucket, None, {"Authorization": "Bearer nope"})
        expect(status == 401, "made-up token: %d" % status)
        return "401 with WWW-Authenticate: Bearer"
    check("GCS front: no token or a made-up one refused", no_token)

    def resumable():
        control(front, "reset", {})
        total, chunk = len(data), 256 * 1024
        status, headers, body = call(front, "POST", "/upload/storage/v1/b/%s/o?uploadType=resumable" % bucket,
                                     json.dumps({"name": name + ".r"}),
                                     dict(bearer, **{"Content-Type": "application/json; charset=UTF-8",
                                                     "X-Upload-Content-Length": str(total)}))
        expect(status == 200 and "location" in headers, "start: %d %s" % (status, body[:200]))
        session = urllib.parse.urlsplit(headers["location"])
        expect(session.netloc == urllib.parse.urlsplit(front).netloc, "Location %s not via the front" % session.netloc)
        path = session.path + "?" + session.query
        status, headers, _ = call(front, "PUT", path, b"", {"Content-Range": "bytes */%d" % total})
        expect(status == 308 and "range" not in headers, "status before any byte: %d %s" % (status, headers))
        # the first chunk is cut by the proxy: nothing persisted, the client asks and starts again
        control(front, "faults", [{"method": "PUT", "query": "upload_id=", "drop_after_bytes": 1000}])
        try:
            call(front, "PUT", path, data[:chunk], {"Content-Range": "bytes 0-%d/*" % (chunk - 1)})
            raise AssertionError("the dropped chunk got an answer")
        except (OSError, http.client.HTTPException):
            pass
        status, headers, _ = call(front, "PUT", path, b"", {"Content-Range": "bytes */*"})
        expect(status == 308 and "range" not in headers, "status after the drop: %d %s" % (status, headers))
        status, headers, _ = call(front, "PUT", path, data[:chunk], {"Content-Range": "bytes 0-%d/*" % (chunk - 1)})
        expect(status == 308 and headers.get("range") == "bytes=0-%d" % (chunk - 1), "chunk 1: %d %s" % (status, headers))
        # session requests pass with an expired token too (a session URI is its own credential)
        control(front, "faults", [{"path": "/storage/v1/b/", "expire_tokens": True}])
        status, _, _ = call(front, "GET", "/storage/v1/b/%s/o" % bucket, None, bearer)
        expect(status == 401, "expired token not refused: %d" % status)
        # the last chunk is stored, but its answer is lost: a status query finds the object
        control(front, "faults", [{"method": "PUT", "query": "upload_id=", "forward_then_status": 503}])
        status, _, _ = call(front, "PUT", path, data[chunk:], dict(bearer, **{
            "Content-Range": "bytes %d-%d/%d" % (chunk, total - 1, total)}))
        expect(status == 503, "last chunk: %d" % status)
        status, _, body = call(front, "PUT", path, b"", {"Content-Range": "bytes */%d" % total})
        expect(status == 200, "status after completion: %d %s" % (status, body[:200]))
        obj = json.loads(body)
        expect(obj["size"] == str(total) and obj["md5Hash"] == base64.b64encode(hashlib.md5(data).digest()).decode()
               and obj["crc32c"] == crc32c(data), "metadata: %s" % obj)
        log = control(front, "log")
        faults = [e["fault"] for e in log if e["fault"]]
        expect(faults == ["drop_after_bytes", "expire_tokens", "forward_then_status"], "log faults: %s" % faults)
        return "308 without Range, drop, resume, 200 + md5Hash/crc32c on status query"
    check("GCS front: resumable upload through the front with faults", resumable)

    def fault_once():
        # a token was expired above: get a fresh one
        status, answer = token_request(account, signed_jwt(account))
        auth = {"Authorization": "Bearer %s" % answer["access_token"]}
        control(front, "reset", {})
        control(front, "faults", [{"method": "GET", "path": "/o$", "status": 503, "body": json.dumps(
            {"error": {"code": 503, "message": "Backend Error", "errors": [{"reason": "backendError"}]}})}])
        first = call(front, "GET", "/storage/v1/b/%s/o" % bucket, None, auth)[0]
        second = call(front, "GET", "/storage/v1/b/%s/o" % bucket, None, auth)[0]
        expect((first, second) == (503, 200), "got %d then %d" % (first, second))
        for suffix in ("", ".r"):
            status = call(front, "DELETE", "/storage/v1/b/%s/o/%s" % (bucket, urllib.parse.quote(name + suffix, safe="")),
                          None, auth)[0]
            expect(status == 204, "delete: %d" % status)
        control(front, "reset", {})
        return "503 then 200"
    check("GCS front: a 503 rule fires once", fault_once)


env = {}
for line in open(sys.argv[1]):
    key, sep, value = line.rstrip("\n").partition("=")
    if sep:
        env[key] = value
LOG = open(os.path.join(sys.argv[2], "stores.log"), "a")
if "S3_ENDPOINT" in env:
    check_s3()
if "GCS_ENDPOINT" in env:
    check_gcs()
sys.exit(1 if failed else 0)
