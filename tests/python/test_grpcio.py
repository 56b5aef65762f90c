#!/usr/bin/env python3
"""A stock gRPC client (grpcio) against `initra server`: ratls.GrSecret/GetSecret and grpc.health.v1.

No generated stubs: the messages are tiny, so they are encoded by hand (proto3 wire format), which also
pins the byte layout Occlum clients rely on. Run by crates/cli/tests/server_e2e.rs::python_grpcio_client:

    test_grpcio.py --target localhost:PORT --ca ca.pem --cert-der client.der --key-der client.key.der \
                   --secrets secret_config.json
"""
import argparse
import base64
import json
import ssl
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def encode_string_field1(s):
    data = s.encode()
    return b"\x0a" + varint(len(data)) + data


def decode_fields(buf):
    """{field_number: value} for varint and length-delimited fields."""
    fields, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            fields[num], i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            fields[num] = buf[i:i + n]
            i += n
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return fields


def der_key_to_pem(der):
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert-der", required=True)
    ap.add_argument("--key-der", required=True)
    ap.add_argument("--secrets", required=True)
    a = ap.parse_args()

    with open(a.ca, "rb") as f:
        ca = f.read()
    with open(a.cert_der, "rb") as f:
        cert = ssl.DER_cert_to_PEM_cert(f.read()).encode()
    with open(a.key_der, "rb") as f:
        key = der_key_to_pem(f.read())
    with open(a.secrets) as f:
        expected = json.load(f)

    creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    with grpc.secure_channel(a.target, creds) as channel:
        get_secret = channel.unary_unary(
            "/ratls.GrSecret/GetSecret",
            request_serializer=encode_string_field1,
            response_deserializer=lambda b: decode_fields(b).get(1, b"").decode(),
        )
        for name, b64 in expected.items():
            reply = get_secret(name, timeout=20)
            # Occlum's wire form: the base64 text as a JSON string literal.
            assert reply == json.dumps(b64), f"{name}: got {reply!r}, want {json.dumps(b64)!r}"
            value = base64.b64decode(json.loads(reply))
            assert value == base64.b64decode(b64), name
            print(f"OK GetSecret {name} ({len(value)} bytes)")

        try:
            get_secret("no_such_secret", timeout=20)
            raise AssertionError("unknown secret was served")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND, e
            assert "no_such_secret" in e.details(), e.details()
            print("OK GetSecret unknown -> NOT_FOUND")

        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=encode_string_field1,
            response_deserializer=decode_fields,
        )
        for service in ["", "ratls.GrSecret"]:
            resp = check(service, timeout=20)
            assert resp.get(1) == 1, f"health {service!r}: {resp}"  # 1 = SERVING
        print("OK health SERVING")
    return 0


if __name__ == "__main__":
    sys.exit(main())
