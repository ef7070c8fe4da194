"""The ad-hoc result receiver of the original design (a FastAPI app on EC2), as the end-to-end
run starts it on loopback (`uvicorn receiver:app`).

POST /results accepts a result only with a valid `Footfall-Signature: t=UNIX,v1=HEX` header:
HMAC-SHA256 over "{t}.{raw body}" with the key from Secrets Manager, compared in constant time,
and `t` within five minutes (replays). The body carries the count and the annotated picture
(base64 JPEG, `processed_detection_image`), which must be a JPEG. Accepted results are appended
to RECEIVER_LOG as JSON lines (without the picture, with its size), so the caller can count them.

Configuration (environment):
  CALLBACK_SECRET_ARN  the secret holding the key (read once at start with boto3; AWS_ENDPOINT_URL
                       points boto3 at moto in the tests)
  RECEIVER_LOG         where accepted results are appended
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import time

import boto3
from fastapi import FastAPI, HTTPException, Request

TOLERANCE_S = 300


def _load_key() -> bytes:
    client = boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    secret = client.get_secret_value(SecretId=os.environ["CALLBACK_SECRET_ARN"])["SecretString"]
    return secret.strip().encode()


KEY = _load_key()
LOG = os.environ["RECEIVER_LOG"]
app = FastAPI(title="footfall result receiver")


def verify(header: str, body: bytes, now: float) -> None:
    """Raises 401 unless `header` signs `body` with KEY, recently."""
    fields = dict(item.strip().split("=", 1) for item in header.split(",") if "=" in item)
    t, v1 = fields.get("t", ""), fields.get("v1", "")
    if not t.isdigit() or not v1:
        raise HTTPException(status_code=401, detail="missing or malformed Footfall-Signature")
    expected = hmac.new(KEY, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, v1):
        raise HTTPException(status_code=401, detail="signature does not match")
    if abs(now - int(t)) > TOLERANCE_S:
        raise HTTPException(status_code=401, detail="signature timestamp outside the window")


@app.post("/results")
async def results(request: Request):
    body = await request.body()
    verify(request.headers.get("footfall-signature", ""), body, time.time())
    try:
        result = json.loads(body)
        picture = base64.b64decode(result.get("processed_detection_image") or "", validate=True)
    except (ValueError, binascii.Error) as e:
        raise HTTPException(status_code=422, detail=f"bad body: {e}")
    if not picture.startswith(b"\xff\xd8\xff"):
        raise HTTPException(status_code=422, detail="processed_detection_image is not a JPEG")
    kept = {k: v for k, v in result.items() if k != "processed_detection_image"}
    kept["picture_bytes"] = len(picture)
    with open(LOG, "a") as f:
        f.write(json.dumps(kept) + "\n")
    return {"accepted": True, "run_id": result.get("run_id")}


@app.get("/healthz")
async def healthz():
    return {"ok": True}
